"""``find_secrets``: prefilter, confirm near each hit, score, and keep the best per span.

The steps, each there for a reason:

1. ANSI colour codes (raw ``\\x1b[..m`` or JSON-escaped ``\\u001b[..m``) are blanked to
   spaces of the same length, so a key printed in a coloured traceback still starts at a
   token boundary and offsets stay those of the input.
2. The prefilter reports, per rule, where its anchors end (:mod:`.prefilter`).
3. Hits of one rule that lie close together are merged into windows, and the rule's
   confirming pattern runs only inside them: cost grows with hits, not with file size.
4. Each candidate passes the rule's check (entropy, placeholders, examples) or, for
   generic assignments, the name/value/file scoring of :mod:`.generic`.
5. When candidates overlap, the more specific rule wins (an OpenAI key assigned to
   ``api_key`` is an OpenAI key, not a generic assignment).
"""

from __future__ import annotations

import bisect
import functools
import re

from custodes.scan.secrets.detectors import RULES
from custodes.scan.secrets.generic import (
    GENERIC_RULES,
    allows_unquoted,
    is_lockfile,
    score_assignment,
    strip_auth_scheme,
)
from custodes.scan.secrets.model import SecretMatch
from custodes.scan.secrets.prefilter import Prefilter
from custodes.scan.secrets.rules import Rule

__all__ = ["ALL_RULES", "find_secrets", "rule_ids"]

ALL_RULES: tuple[Rule, ...] = RULES + GENERIC_RULES
_GENERIC = frozenset(id(r) for r in GENERIC_RULES)
_ANSI = re.compile(r"(?:\x1b|\\u001[bB]|\\x1[bB]|\\033|\\e)\[[0-9;?]*[A-Za-z]")
_SECRET_GROUPS = ("s", "s2", "s3", "s4")


def rule_ids() -> list[str]:
    """Every rule id this detector can emit, sorted."""
    return sorted({r.rule_id for r in ALL_RULES})


@functools.lru_cache(maxsize=2)
def _prefilter(use_hyperscan: bool = True) -> Prefilter:
    return Prefilter(ALL_RULES, use_hyperscan=use_hyperscan)


def _blank_ansi(text: str) -> str:
    if (
        "\x1b" not in text
        and "\\u001" not in text
        and "\\x1" not in text
        and "\\033" not in text
        and "\\e[" not in text
    ):
        return text
    return _ANSI.sub(lambda m: " " * len(m.group()), text)


def _windows(ends: list[int], back: int, ahead: int, size: int) -> list[tuple[int, int]]:
    """Merge ``[end - back, end + ahead]`` around each hit into disjoint windows."""
    ends.sort()
    out: list[tuple[int, int]] = []
    for e in ends:
        lo, hi = max(e - back, 0), min(e + ahead, size)
        if out and lo <= out[-1][1]:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out


def _line_windows(text: str, ends: list[int], back: int, ahead: int) -> list[tuple[int, int]]:
    """The line around each hit (bounded by ``back``/``ahead``), each line once.

    Generic assignments are confirmed per line, not over merged windows: in a config
    file dense with keywords, merged windows would cover the file and the assignment
    pattern would then score every ``name = value`` in it.
    """
    size = len(text)
    out: set[tuple[int, int]] = set()
    for e in ends:
        lo = max(e - back, 0)
        lo = max(text.rfind("\n", lo, e) + 1, lo)
        hi = text.find("\n", e, min(e + ahead, size))
        out.add((lo, hi if hi != -1 else min(e + ahead, size)))
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(out):  # adjacent keyword lines: one window, fewer calls
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return merged


def _confirm(
    rule: Rule, text: str, lo: int, hi: int, path_hint: str, unquoted_ok: bool
) -> list[SecretMatch]:
    found: list[SecretMatch] = []
    generic = id(rule) in _GENERIC
    for m in rule.pattern.finditer(text, lo, hi):
        if generic:
            raw = m.group("val")
            start = m.start("val")
            quoted = len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'`"
            if quoted:
                raw, start = raw[1:-1], start + 1
            secret, skipped = strip_auth_scheme(raw)
            start += skipped
            name = m.groupdict().get("name") or "password"
            conf = score_assignment(
                name,
                secret,
                quoted=quoted or "name" not in m.groupdict(),
                path_hint=path_hint,
                unquoted_ok=unquoted_ok,
            )
            if conf is None:
                continue
        else:
            group = next(
                (g for g in _SECRET_GROUPS if g in rule.pattern.groupindex and m.group(g)), None
            )
            if group is None:
                continue
            secret = m.group(group)
            start = m.start(group)
            conf = rule.check(secret, text, start) if rule.check else rule.confidence
            if conf is None:
                continue
        found.append(
            SecretMatch(
                rule.rule_id,
                rule.description,
                rule.severity,
                secret,
                start,
                start + len(secret),
                conf,
            )
        )
    return found


def _resolve(candidates: list[tuple[int, SecretMatch]]) -> list[SecretMatch]:
    """Keep one match per span: the highest priority, then the most confident."""
    candidates.sort(key=lambda pc: (-pc[0], -pc[1].confidence, pc[1].start))
    starts: list[int] = []
    kept: list[SecretMatch] = []
    for _, m in candidates:
        i = bisect.bisect_left(starts, m.start)
        if i < len(kept) and kept[i].start < m.end:
            continue
        if i and kept[i - 1].end > m.start:
            continue
        starts.insert(i, m.start)
        kept.insert(i, m)
    return kept


def find_secrets(
    text: str,
    *,
    path_hint: str = "",
    literal_values: bool | None = None,
    use_hyperscan: bool = True,
) -> list[SecretMatch]:
    """Every credential in ``text``, in order of position.

    ``path_hint`` is the file name, used for context only: whether bare values are
    literals there (``.env``, YAML) and whether it is a lock file full of hashes.
    ``literal_values`` overrides the first: True for printed text such as notebook
    outputs, where ``KEY=value`` shows a value, not an expression.
    ``use_hyperscan=False`` forces the pure ``re`` prefilter (same results, slower).
    """
    if not text:
        return []
    text = _blank_ansi(text)
    data = text.encode("ascii", "replace")
    prefilter = _prefilter(use_hyperscan)
    hits = prefilter.hits(data)
    skip_generic = is_lockfile(path_hint)
    unquoted_ok = allows_unquoted(path_hint) if literal_values is None else literal_values
    candidates: list[tuple[int, SecretMatch]] = []
    size = len(text)
    for index, ends in enumerate(hits):
        if not ends:
            continue
        rule = ALL_RULES[index]
        if skip_generic and id(rule) in _GENERIC:
            continue
        seen: set[tuple[int, int]] = set()
        if id(rule) in _GENERIC:
            windows = _line_windows(text, ends, rule.back, rule.ahead)
        else:
            windows = _windows(ends, rule.back, rule.ahead, size)
        for lo, hi in windows:
            for match in _confirm(rule, text, lo, hi, path_hint, unquoted_ok):
                key = (match.start, match.end)
                if key not in seen:
                    seen.add(key)
                    candidates.append((rule.priority, match))
    return _resolve(candidates)
