"""Bad input is counted and reported with file:line samples; only unusable files exit 2."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from custodes.monitor.simulate import TrafficSpec, traffic_table, write_jsonl

from ..conftest import Result
from .conftest import NOW

CLI = Callable[..., Result]

GOOD = {
    "ts": "2026-11-03T10:00:00Z",
    "client_id": "clinic-001",
    "features": {
        "age": 50,
        "bmi": 27.0,
        "systolic_bp": 125,
        "diastolic_bp": 80,
        "glucose": 99.0,
        "hba1c": 5.6,
        "cholesterol": 200,
        "heart_rate": 70,
        "steps_per_day": 6000,
        "smoker": False,
        "sex": "F",
    },
    "prediction": "low_risk",
    "confidence": 0.8,
}


def _line(**changes: object) -> str:
    rec = json.loads(json.dumps(GOOD))
    for k, v in changes.items():
        if k.startswith("f_"):
            rec["features"][k[2:]] = v
        elif v is None:
            rec.pop(k, None)
        else:
            rec[k] = v
    return json.dumps(rec)


# (kind, line text) injected into good traffic
BAD = [
    ("malformed_json", '{"ts": "2026-11-03T10:00:00Z", "client_id": '),
    ("not_an_object", "[1, 2, 3]"),
    ("missing_field", _line(client_id=None)),
    ("wrong_type", _line(f_age="fifty")),
    ("wrong_type", _line(client_id=17)),
    ("bad_timestamp", _line(ts="yesterday")),
    ("out_of_range", _line(confidence=1.7)),
    ("future_timestamp", _line(ts="2031-01-01T00:00:00Z")),
]


@pytest.fixture
def messy(tmp_path: Path) -> tuple[Path, dict[str, list[int]]]:
    table = traffic_table(
        TrafficSpec(
            seed=21,
            ordinary_clients=300,
            queries_per_client_day=1,
            extraction=False,
            batch_job=False,
        )
    )
    good = write_jsonl(table, tmp_path / "good.jsonl").read_text().splitlines()
    lines: list[str] = []
    where: dict[str, list[int]] = {}
    step = len(good) // (len(BAD) + 2)
    bad = iter(BAD)
    for i, text in enumerate(good):
        lines.append(text)
        if i and i % step == 0:
            item = next(bad, None)
            if item is not None:
                lines.append(item[1])
                where.setdefault(item[0], []).append(len(lines))
    # a record much earlier than those before it, and a blank line
    lines.insert(len(lines) - 3, _line(ts="2026-11-02T00:00:01Z"))
    where["out_of_order"] = [len(lines) - 3]
    lines.insert(10, "")
    where = {k: [n + 1 if n > 10 else n for n in v] for k, v in where.items()}
    path = tmp_path / "messy.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path, where


def test_bad_records_are_counted_with_file_and_line(
    cli: CLI, reference: Path, messy: tuple[Path, dict[str, list[int]]]
) -> None:
    path, where = messy
    r = cli("monitor", "check", path, "-r", reference, "--now", NOW, "-f", "json")
    assert r.code in (0, 1), r.err
    doc = json.loads(r.out)
    issues = doc["input_issues"]
    for kind, lines in where.items():
        assert issues["counts"].get(kind) == len(lines), (kind, issues)
        for n in lines:
            assert any(s.startswith(f"{path}:{n}: ") for s in issues["samples"][kind]), (
                kind,
                n,
                issues["samples"][kind],
            )
    assert issues["rejected"] == len(BAD)  # out_of_order records are kept
    total_lines = sum(1 for line in path.read_text().splitlines() if line.strip())
    assert doc["records"] == total_lines - len(BAD)


def test_console_shows_bad_input_samples(
    cli: CLI, reference: Path, messy: tuple[Path, dict[str, list[int]]]
) -> None:
    path, where = messy
    r = cli("monitor", "check", path, "-r", reference, "--now", NOW)
    assert "bad input" in r.out
    assert f"{path}:{where['future_timestamp'][0]}:" in r.out


def test_clock_skew_is_judged_against_now(cli: CLI, reference: Path, tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text("\n".join(_line(ts=f"2026-11-03T10:{m:02d}:00Z") for m in range(60)) + "\n")
    early = json.loads(
        cli(
            "monitor", "check", path, "-r", reference, "--now", "2026-11-03T10:30:00Z", "-f", "json"
        ).out
    )
    # minutes 36..59 lie more than the 5-minute allowance after 10:30
    assert early["input_issues"]["counts"]["future_timestamp"] == 24
    assert early["records"] == 36


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("this is not JSON\nnor is this\n", "not JSONL"),
        ("a,b,c\n1,2,3\n", "not JSONL"),
        ('[{"ts": "2026-11-03T10:00:00Z"}]\n', "not JSONL"),
        ("", "empty file"),
    ],
)
def test_unusable_prediction_file_exits_2_in_one_line(
    cli: CLI, reference: Path, tmp_path: Path, content: str, needle: str
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    r = cli("monitor", "check", path, "-r", reference, "--now", NOW)
    assert r.code == 2
    lines = [line for line in r.err.splitlines() if line.strip()]
    assert len(lines) == 1, r.err
    assert str(path) in lines[0]
    assert needle in lines[0]
    assert "Traceback" not in r.err


def test_file_of_only_broken_records_exits_2(cli: CLI, reference: Path, tmp_path: Path) -> None:
    path = tmp_path / "broken.jsonl"
    path.write_text("\n".join([_line(ts="nope"), _line(confidence=3.0), "{oops"]) + "\n")
    r = cli("monitor", "check", path, "-r", reference, "--now", NOW)
    assert r.code == 2
    assert "no usable prediction record" in r.err
    assert str(path) in r.err


@pytest.mark.parametrize("which", ["predictions", "reference", "labels"])
def test_missing_file_exits_2(cli: CLI, reference: Path, tmp_path: Path, which: str) -> None:
    missing = tmp_path / "nope.jsonl"
    args = {"predictions": missing, "reference": reference, "labels": None}
    if which == "reference":
        args = {"predictions": reference, "reference": missing, "labels": None}
    if which == "labels":
        args = {"predictions": reference, "reference": reference, "labels": missing}
    cmd = ["monitor", "check", args["predictions"], "-r", args["reference"], "--now", NOW]
    if args["labels"] is not None:
        cmd += ["--labels", args["labels"]]
    r = cli(*cmd)
    assert r.code == 2
    assert str(missing) in r.err
    assert "no such file" in r.err


def test_parquet_with_bad_rows_is_counted(cli: CLI, reference: Path, tmp_path: Path) -> None:
    rows = [json.loads(_line(ts=f"2026-11-03T10:{m:02d}:00Z")) for m in range(50)]
    rows[5]["ts"] = "not a time"
    rows[9]["confidence"] = -0.5
    path = tmp_path / "p.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    doc = json.loads(cli("monitor", "check", path, "-r", reference, "--now", NOW, "-f", "json").out)
    counts = doc["input_issues"]["counts"]
    assert counts["out_of_range"] == 1
    assert counts.get("bad_timestamp", 0) + counts.get("missing_field", 0) >= 1
    assert doc["records"] == 48
    assert any(s.startswith(f"{path}:10: ") for s in doc["input_issues"]["samples"]["out_of_range"])


def test_truncated_parquet_and_odd_labels_are_exit_2(
    cli: CLI, reference: Path, tmp_path: Path
) -> None:
    rows = [json.loads(_line(ts=f"2026-11-03T10:{m:02d}:00Z")) for m in range(50)]
    good = tmp_path / "p.parquet"
    pq.write_table(pa.Table.from_pylist(rows), good)
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    r = cli("monitor", "check", broken, "-r", reference, "--now", NOW)
    assert r.code == 2, r.err
    assert "Traceback" not in r.err
    assert str(broken) in r.err
    labels = tmp_path / "labels.jsonl"
    labels.write_text('{"id": {"nested": 1}, "label": "1"}\n', encoding="utf-8")
    r = cli("monitor", "check", good, "-r", reference, "--now", NOW, "--labels", labels)
    assert r.code == 2, r.err
    assert "Traceback" not in r.err


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--port", "70000"], "65535"),
        (["--port", "-1"], "greater than or equal to 0"),
        (["--interval", "nan"], "--interval"),
        (["--interval", "inf"], "--interval"),
        (["--eval-every", "0"], "--eval-every"),
    ],
)
def test_monitor_run_refuses_unusable_settings(
    cli: Callable[..., Result], tmp_path: Path, args: list[str], says: str
) -> None:
    """A port outside 0-65535 was an internal error; an interval of nan or inf made a
    monitor that never looks stale. Both are usage errors, before anything starts."""
    r = cli(
        "monitor", "run", "--reference", str(tmp_path / "ref.parquet"), "--model", "m",
        "--no-store", "--duration", "1", *args,
    )  # fmt: skip
    assert r.code == 2
    assert says in r.out + r.err
    assert "internal error" not in r.out + r.err
