"""`custodes data baseline` through the CLI: success, and every bad input exits 2."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from tests.conftest import Result


def test_cli_writes_baseline_and_json_summary(
    cli: Callable[..., Result], parquet: Path, tmp_path: Path
) -> None:
    out = tmp_path / "b.json"
    r = cli(
        "data",
        "baseline",
        parquet,
        "-o",
        out,
        "--label",
        "y",
        "--source-column",
        "tier",
        "--id-column",
        "pid",
        "--format",
        "json",
    )
    assert r.code == 0, r.err
    summary = json.loads(r.out)
    assert summary["rows"] == 20_000
    assert set(summary["sources"]) == {
        "broker",
        "first_party",
        "user_generated",
    }
    assert json.loads(out.read_text())["format"] == "custodes-data-baseline"
    r = cli("data", "baseline", parquet, "-o", out)
    assert r.code == 0
    assert "rows" in r.out
    assert "file size" in r.out


def test_cli_reads_csv(cli: Callable[..., Result], table: pa.Table, tmp_path: Path) -> None:
    csv = tmp_path / "ref.csv"
    pacsv.write_csv(table, csv)
    r = cli("data", "baseline", csv, "-o", tmp_path / "b.json", "--label", "y", "--format", "json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["rows"] == 20_000


def _truncated(tmp_path: Path, parquet: Path) -> Path:
    bad = tmp_path / "trunc.parquet"
    bad.write_bytes(parquet.read_bytes()[: parquet.stat().st_size // 2])
    return bad


@pytest.mark.parametrize(
    ("make", "extra", "needle"),
    [
        (lambda tmp, pq_: tmp / "missing.parquet", [], "not found"),
        (
            lambda tmp, pq_: (
                ((tmp / "empty.parquet").write_bytes(b"") and tmp / "empty.parquet")
                or tmp / "empty.parquet"
            ),
            [],
            "empty",
        ),
        (_truncated, [], "truncated or corrupt"),
        (
            lambda tmp, pq_: (tmp / "x.xlsx").write_bytes(b"PK") and tmp / "x.xlsx",
            [],
            "unsupported format",
        ),
        (lambda tmp, pq_: pq_, ["--label", "yy"], "did you mean 'y'"),
        (lambda tmp, pq_: pq_, ["--source-column", "teir"], "did you mean 'tier'"),
        (lambda tmp, pq_: pq_, ["--id-column", "patient"], "not in the data"),
        (lambda tmp, pq_: pq_, ["--label", "bmi"], "class column"),
        (
            lambda tmp, pq_: (tmp / "empty_dir").mkdir() or tmp / "empty_dir",
            [],
            "no Parquet or CSV",
        ),
    ],
)
def test_bad_inputs_exit_2(
    cli: Callable[..., Result],
    parquet: Path,
    tmp_path: Path,
    make: Callable[[Path, Path], Path],
    extra: list[str],
    needle: str,
) -> None:
    ref = make(tmp_path, parquet)
    r = cli("data", "baseline", ref, "-o", tmp_path / "b.json", *extra)
    assert r.code == 2, (r.out, r.err)
    assert needle in r.err
    assert "Traceback" not in r.err


def test_zero_row_parquet_exits_2(cli: Callable[..., Result], tmp_path: Path) -> None:
    path = tmp_path / "zero.parquet"
    pq.write_table(pa.table({"a": pa.array([], pa.float64())}), path)
    r = cli("data", "baseline", path, "-o", tmp_path / "b.json")
    assert r.code == 2
    assert "no rows" in r.err


def test_tampered_baseline_refused_and_refresh(
    cli: Callable[..., Result], parquet: Path, tmp_path: Path
) -> None:
    out = tmp_path / "b.json"
    assert cli("data", "baseline", parquet, "-o", out, "--label", "y").code == 0
    doc = json.loads(out.read_text())
    doc["constraints"]["bmi"]["max"] = 99.0
    out.write_text(json.dumps(doc))
    r = cli("data", "baseline", "--refresh-digest", out)
    assert r.code == 0, r.err
    doc = json.loads(out.read_text())
    doc["format"] = "something-else"
    out.write_text(json.dumps(doc))
    r = cli("data", "baseline", "--refresh-digest", out)
    assert r.code == 2
    assert "not a custodes data baseline" in r.err


def test_check_and_labels_not_built_yet(cli: Callable[..., Result]) -> None:
    assert cli("data", "check", "x.parquet", "--baseline", "b.json").code == 2
    assert cli("data", "labels", "x.parquet").code == 2
