"""Files the demo projects need beside their custodes.yaml, generated at demo time.

Nothing here is committed as a file: keys are fresh random fakes (no real credential
ever sits in the repository) and the one model that would run a command when loaded is
built from pickle opcodes, never loaded. The story each file tells is the talk's: cloud
keys left in a notebook's output, a model file from a hub that runs code, a notebook
that reads production data and prints patients' contact details.
"""

from __future__ import annotations

import json
import os
import pickle
import random
import secrets
import string
import struct
from pathlib import Path

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


def _health(root: Path) -> None:
    _health_data(root)
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
