"""Files the demo projects need beside their custodes.yaml, generated at demo time.

Nothing here is committed as a file: keys are fresh random fakes (no real credential
ever sits in the repository) and the one model that would run a command when loaded is
built from pickle opcodes, never loaded. The story each file tells is the talk's: cloud
keys left in a notebook's output, a model file from a hub that runs code, a notebook
that reads production data and prints patients' contact details.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import random
import secrets
import string
import struct
from pathlib import Path
from typing import Any

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

__all__ = ["write_artifacts"]

_B32 = string.ascii_uppercase + "234567"
_B64 = string.ascii_letters + string.digits + "+/"


def _fake_aws_pair() -> tuple[str, str]:
    key_id = "AKIA" + "".join(secrets.choice(_B32) for _ in range(16))
    secret = "".join(secrets.choice(_B64) for _ in range(40))
    return key_id, secret


def _write_notebook(path: Path, cells: list[nbformat.NotebookNode]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, str(path))


class _RunsACommand:
    """Pickles to a call of os.system: the shape of a malicious model, never unpickled here."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (
            os.system,
            ("echo custodes demo: loading this model file would have run a command",),
        )


def _biometric(root: Path) -> None:
    key_id, secret = _fake_aws_pair()
    _write_notebook(
        root / "research/notebooks/threshold_tuning.ipynb",
        [
            new_markdown_cell("# Threshold tuning on the monthly template snapshot"),
            new_code_cell(
                "!cat ~/.aws/credentials",
                outputs=[
                    new_output(
                        "stream",
                        name="stdout",
                        text=f"[default]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n",
                    )
                ],
                execution_count=1,
            ),
            new_code_cell(
                "import boto3\n"
                "s3 = boto3.client('s3')\n"
                "obj = s3.get_object(Bucket='tessellate-prod-templates', Key='face/2026-11.parquet')",
                execution_count=2,
            ),
        ],
    )
    model = root / "models/face-backbone/pytorch_model.bin"
    model.parent.mkdir(parents=True, exist_ok=True)
    model.write_bytes(pickle.dumps({"state_dict": {}, "hook": _RunsACommand()}, protocol=2))
    # A well-formed safetensors file: an 8-byte header length, a JSON header, the data.
    head = root / "models/matching-head/head.safetensors"
    head.parent.mkdir(parents=True, exist_ok=True)
    weights = struct.pack("<4f", 0.25, -0.5, 0.125, 1.0)
    header = json.dumps(
        {"weight": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}
    ).encode()
    header += b" " * (-len(header) % 8)
    head.write_bytes(struct.pack("<Q", len(header)) + header + weights)


#: Demo data sizes: large enough for the poisoning to be statistically visible, small
#: enough that `custodes demo` stays a few seconds.
HEALTH_REFERENCE_ROWS = 150_000
HEALTH_BATCH_ROWS = 40_000


def _health_data(root: Path) -> None:
    """Reference data, its baseline, and this week's poisoned upload from the app."""
    import pyarrow.parquet as pq

    from custodes.data import build_baseline
    from custodes.demo import health_data

    data = root / "data"
    (data / "batches").mkdir(parents=True, exist_ok=True)
    reference = health_data.reference_table(HEALTH_REFERENCE_ROWS, seed=11)
    pq.write_table(reference, data / "reference.parquet")
    baseline = build_baseline(
        [reference],
        label=health_data.LABEL_COLUMN,
        source_column=health_data.SOURCE_COLUMN,
        id_column=health_data.ID_COLUMN,
        workers=1,
    )
    baseline.save(data / "baseline.json")
    batch, _truth = health_data.scenario_batch("label_flip_subpop", HEALTH_BATCH_ROWS, 11)
    pq.write_table(batch, data / "batches/2026-11-bloom-upload.parquet")
    _health_lineage(root, reference)


#: Demo source per tier: (source id in custodes.yaml, custodian, chain-of-custody record).
_HEALTH_SOURCES = {
    "first_party": (
        "ehr-extract",
        "Calder Health clinical data office",
        "docs/custody/ehr-extract.md",
    ),
    "broker": ("claims-demographics", "Meridian Claims Data Co.", None),
    "user_generated": ("symptom-tracker-entries", "Bloom app users", None),
}


def _health_lineage(root: Path, reference: Any) -> None:
    """Per-source datasets with manifests, a trained model and its signed attestation.

    The signing key lives only in memory: a demo must not leave a private key on disk
    (the credential scanner would rightly flag it). Its public half is written so
    ``custodes provenance verify-chain`` can check the attestation.
    """
    import joblib  # type: ignore[import-untyped,unused-ignore]
    import numpy as np
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

    from custodes.demo import health_data
    from custodes.demo.governance import write_model_manifest
    from custodes.provenance.attest import build_statement, sign_envelope
    from custodes.provenance.manifest import (
        Provenance,
        Tier,
        build_manifest,
        default_manifest_path,
        write_manifest,
    )

    manifests = []
    for tier, (source, custodian, custody) in _HEALTH_SOURCES.items():
        part = reference.filter(pc.equal(reference[health_data.SOURCE_COLUMN], tier))
        path = root / "data" / "sources" / f"{source}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(part, path)
        prov = Provenance(
            source=source,
            tier=Tier(tier),
            custodian=custodian,
            health_data=True,
            personal_data=True,
            chain_of_custody=custody,
        )
        manifest = default_manifest_path(path)
        write_manifest(build_manifest(path, prov), manifest)
        manifests.append(manifest)
    features = ["age", "bmi", "systolic_bp", "glucose", "hba1c"]
    sample = reference.slice(0, 20_000)
    x = np.column_stack([np.nan_to_num(sample[c].to_numpy(zero_copy_only=False)) for c in features])
    y = sample[health_data.LABEL_COLUMN].to_numpy(zero_copy_only=False).astype(int)
    model_path = root / "models" / "outcome_model.joblib"
    model_path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(LogisticRegression(max_iter=200).fit(x, y), model_path)
    key = Ed25519PrivateKey.generate()
    # Paths in the attestation are relative to the project, so the demo can be moved.
    with contextlib.chdir(root):
        statement = build_statement(
            model_path.relative_to(root),
            [m.relative_to(root) for m in manifests],
            "0f3c9a1e5b7d2c4f6a8e0b1d3c5e7f9a1b3d5e7f",
            {"features": ",".join(features)},
        )
    out = root / "provenance"
    out.mkdir(exist_ok=True)
    (out / "training-attestation.json").write_text(
        json.dumps(sign_envelope(statement, key), indent=2) + "\n", encoding="utf-8"
    )
    write_model_manifest(root, model_path, key)
    (out / "demo-signer.pub.pem").write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


#: The simulated week of traffic to the health model (custodes.monitor.simulate): small
#: enough to write and check in about a second, with one client (probe-7) extracting it.
HEALTH_WEEK = {"ordinary_clients": 120, "batch_per_night": 1500}
MONITOR_NAME = "outcome-api-monitor"
MONITOR_DIES_AFTER_DAYS = 3.5
"""The demo's monitor beats hourly from the week's start, then dies mid-week (Thursday noon)."""


def _health_monitoring(root: Path) -> None:
    """A week of predictions, the reference they are judged against, and the store record
    of a monitor whose heartbeats stop mid-week.

    The monitor rows are written directly: the monitoring registry keeps no audit log.
    """
    import json as _json
    from datetime import timedelta

    from sqlalchemy import delete

    from custodes.monitor.registry import config_hash
    from custodes.monitor.simulate import (
        START,
        TrafficSpec,
        reference_table,
        traffic_table,
        write_jsonl,
    )
    from custodes.store import open_store
    from custodes.store.models import MonitorHeartbeat, MonitorRecord

    out = root / "monitoring"
    write_jsonl(reference_table(3000, seed=1), out / "reference.jsonl")
    spec = TrafficSpec(seed=7, extraction=True, **HEALTH_WEEK)  # type: ignore[arg-type]
    week = traffic_table(spec)
    write_jsonl(week, out / "predictions-week.jsonl")
    config = {
        "model": "outcome-model",
        "reference": "monitoring/reference.jsonl",
        "window": "1h",
        "interval_seconds": 3600.0,
    }
    hours = int(MONITOR_DIES_AFTER_DAYS * 24)
    per_hour = week.num_rows // (spec.days * 24)
    with open_store(None, root) as store, store.session.begin() as session:
        session.execute(delete(MonitorHeartbeat).where(MonitorHeartbeat.monitor == MONITOR_NAME))
        session.execute(delete(MonitorRecord).where(MonitorRecord.name == MONITOR_NAME))
        session.add(
            MonitorRecord(
                name=MONITOR_NAME,
                model="outcome-model",
                interval_s=3600.0,
                config_hash=config_hash(config),
                config=_json.dumps(config, sort_keys=True),
                created_at=START,
                changes=0,
                last_heartbeat=START + timedelta(hours=hours),
            )
        )
        session.flush()
        session.add_all(
            MonitorHeartbeat(
                monitor=MONITOR_NAME,
                at=START + timedelta(hours=h),
                records=int(per_hour * h),
                rejected=0,
                verdict="ok",
                config_hash=config_hash(config),
            )
            for h in range(hours + 1)
        )


def _health(root: Path) -> None:
    from custodes.demo.governance import reset_store, write_governance_history

    reset_store(root)
    _health_data(root)
    _health_monitoring(root)
    write_governance_history(root)
    rng = random.Random(7)  # noqa: S311 - fake demo rows, not a secret
    rows = "\n".join(
        f"{i}  patient{rng.randrange(10**4, 10**5)}@example.org  +1-202-555-01{rng.randrange(10, 99)}  {w}"
        for i, w in enumerate((38, 41, 36, 40, 39))
    )
    _write_notebook(
        root / "notebooks/exploration/cohort_exploration.ipynb",
        [
            new_markdown_cell("# Cohort exploration (production extract)"),
            new_code_cell(
                "import pandas as pd\n"
                "cohort = pd.read_parquet('s3://calder-maternal-raw/ehr/2026-10/')\n"
                "cohort[['patient_id', 'email', 'phone', 'gestation_weeks']].head()",
                outputs=[
                    new_output(
                        "execute_result",
                        data={"text/plain": "   email  phone  gestation_weeks\n" + rows},
                        execution_count=1,
                    )
                ],
                execution_count=1,
            ),
        ],
    )


def _llm(root: Path) -> None:
    _write_notebook(
        root / "notebooks/prompt_lab.ipynb",
        [
            new_markdown_cell(
                "# Prompt lab: keys come from the environment, never from the notebook"
            ),
            new_code_cell(
                "import os\nclient_key = os.environ['MODEL_PROVIDER_API_KEY']", execution_count=1
            ),
        ],
    )


_WRITERS = {
    "biometric-identity": _biometric,
    "health-outcomes": _health,
    "llm-support-assistant": _llm,
}


def write_artifacts(project: Path) -> None:
    """Generate the demo files of one example project, if it has any."""
    writer = _WRITERS.get(project.name)
    if writer is not None:
        writer(project)
