"""Turning walk results and archive issues into findings, for every pickle-bearing format.

One :class:`Report` per scanned file: it walks each pickle it is handed (with the
joblib build hook, since any format may embed joblib arrays), judges every import with
:mod:`policy` and every anomaly with a fixed rule table, and deduplicates so a payload
repeated a thousand times in one member is one finding, not a thousand.
"""

from __future__ import annotations

from custodes.findings import Category, Finding, Location, RuleId, Severity
from custodes.scan.artifacts.joblib_source import joblib_hook
from custodes.scan.artifacts.pickle_walk import (
    Anomaly,
    ByteSource,
    GlobalRef,
    WalkResult,
    walk,
)
from custodes.scan.artifacts.policy import Verdict, classify
from custodes.scan.artifacts.sniff import Format
from custodes.scan.artifacts.zipsafe import SafeZip
from custodes.scan.interface import Limits

__all__ = ["REMEDIATION", "THREATS", "Report"]

THREATS = ("SUPPLYMODELPOISON", "RUNTIMEMODELPOISON")
REMEDIATION = (
    "Do not load this file; ask for a safetensors or ONNX export, or load it only with "
    "torch.load(weights_only=True) after review."
)
_ANOMALY_RULES: dict[str, tuple[str, Severity]] = {
    "dynamic-call": ("ARTIFACT-PICKLE-DYNAMIC-CALL", Severity.HIGH),
    "persid-call": ("ARTIFACT-PICKLE-DYNAMIC-CALL", Severity.HIGH),
    "unresolved-global": ("ARTIFACT-PICKLE-DYNAMIC-CALL", Severity.HIGH),
    "global-mutation": ("ARTIFACT-PICKLE-GLOBAL-MUTATION", Severity.HIGH),
    "ext": ("ARTIFACT-PICKLE-EXT", Severity.HIGH),
    "limit": ("ARTIFACT-SCAN-INCOMPLETE", Severity.HIGH),
    "trailing-data": ("ARTIFACT-PICKLE-TRAILING-DATA", Severity.MEDIUM),
    "extra-stream": ("ARTIFACT-PICKLE-TRAILING-DATA", Severity.MEDIUM),
    "persid": ("ARTIFACT-PICKLE-PERSISTENT-ID", Severity.LOW),
}
_ZIP_RULES: dict[str, tuple[str, Severity]] = {
    "crc": ("ARTIFACT-ARCHIVE-CRC", Severity.HIGH),
    "traversal": ("ARTIFACT-ARCHIVE-TRAVERSAL", Severity.HIGH),
    "duplicate": ("ARTIFACT-ARCHIVE-DUPLICATE", Severity.HIGH),
    "name-mismatch": ("ARTIFACT-ARCHIVE-DUPLICATE", Severity.HIGH),
    "bomb": ("ARTIFACT-ARCHIVE-BOMB", Severity.HIGH),
    "overlap": ("ARTIFACT-ARCHIVE-BOMB", Severity.HIGH),
    "limit": ("ARTIFACT-SCAN-INCOMPLETE", Severity.HIGH),
}


class Report:
    """Turns walk results and archive issues into findings, once per subject and member."""

    def __init__(self, display: str, fmt: Format) -> None:
        self.display = display
        self.fmt = fmt
        self.findings: list[Finding] = []
        self._seen: set[tuple[str, str, str | None]] = set()

    def add(
        self,
        rule: str,
        sev: Severity,
        msg: str,
        subject: str,
        offset: int | None,
        member: str | None,
    ) -> None:
        """One finding, unless the same rule already fired on this subject in this member."""
        key = (rule, subject, member)
        if key in self._seen:
            return
        self._seen.add(key)
        props: dict[str, object] = {"format": self.fmt.value, "offset": offset}
        if rule.startswith("ARTIFACT-PICKLE-") and "." in subject:
            props["callable"] = subject
        if member is not None:
            props["member"] = member
        where = f" (member {member})" if member else ""
        self.findings.append(
            Finding(
                rule_id=RuleId(rule),
                category=Category.ARTIFACT,
                severity=sev,
                message=msg + where,
                location=Location(path=self.display, line=None),
                threats=THREATS,
                remediation=REMEDIATION,
                properties=props,
                subject=subject if member is None else f"{member}:{subject}",
                facts=(f"format {self.fmt.value}", f"offset {offset}"),
            )
        )

    def walk(
        self,
        src: ByteSource,
        lim: Limits,
        member: str | None = None,
        *,
        torch: bool = False,
        multi: bool = True,
        quiet: bool = False,
    ) -> WalkResult:
        """Walk one pickle and judge it; ``quiet`` keeps storage blobs that fail to parse silent."""
        res = walk(
            src,
            max_ops=lim.max_pickle_ops,
            max_bytes=lim.max_pickle_bytes,
            multi_stream=multi,
            on_build=joblib_hook(lim),
        )
        if quiet and not (res.clean_stop and all(a.kind == "persid" for a in res.anomalies)):
            return res  # a storage blob that only happened to start like a pickle
        self.judge(res, member, torch=torch)
        return res

    def judge(self, res: WalkResult, member: str | None, *, torch: bool) -> None:
        """Findings for every import and every anomaly of one walk."""
        for g in res.globals:
            self.judge_global(g, member)
        for a in res.anomalies:
            self.judge_anomaly(a, member, torch=torch)

    def judge_global(self, g: GlobalRef, member: str | None) -> None:
        """Dangerous is critical; unknown is high when called and medium when only imported."""
        d = classify(g.module, g.name)
        how = "called" if g.called else "imported"
        if d.verdict is Verdict.DANGEROUS:
            self.add(
                "ARTIFACT-PICKLE-CODE-EXECUTION",
                Severity.CRITICAL,
                f"Loading this file would run code: it {how} {g.qualname} ({d.reason})",
                g.qualname,
                g.offset,
                member,
            )
        elif d.verdict is Verdict.UNKNOWN:
            sev = Severity.HIGH if g.called else Severity.MEDIUM
            self.add(
                "ARTIFACT-PICKLE-UNKNOWN-CALLABLE",
                sev,
                f"Pickle {how} {g.qualname}, which is not a known model-reconstruction callable",
                g.qualname,
                g.offset,
                member,
            )

    def judge_anomaly(self, a: Anomaly, member: str | None, *, torch: bool) -> None:
        """Map an anomaly to its rule; torch's own persistent ids are how it stores tensors."""
        if a.kind in ("persid", "persid-call") and torch:
            return
        rule, sev = _ANOMALY_RULES.get(a.kind, ("ARTIFACT-PICKLE-MALFORMED", Severity.MEDIUM))
        self.add(
            rule, sev, f"Pickle stream anomaly ({a.kind}): {a.detail}", a.kind, a.offset, member
        )

    def zip_issues(self, z: SafeZip, start: int = 0) -> None:
        """Findings for the archive issues the bounded zip reader recorded."""
        for i in z.issues[start:]:
            rule, sev = _ZIP_RULES.get(i.kind, ("ARTIFACT-ARCHIVE-MALFORMED", Severity.MEDIUM))
            self.add(rule, sev, f"Archive anomaly ({i.kind}): {i.detail}", i.kind, None, i.member)
