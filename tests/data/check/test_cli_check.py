"""The CLI contract of ``data check`` / ``data labels``: outputs and exit codes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import Result


@pytest.fixture
def check(cli: Callable[..., Result]) -> Callable[..., tuple[int, str]]:
    def run(*args: str) -> tuple[int, str]:
        r = cli("data", "check", *args)
        return r.code, r.out + r.err

    return run


def test_json_and_flagged_rows(
    check: Callable[..., tuple[int, str]], corpus: Path, tmp_path: Path
) -> None:
    out = tmp_path / "flags.parquet"
    code, text = check(
        str(corpus / "batches" / "backdoor_trigger.parquet"),
        "--baseline",
        str(corpus / "baseline.json"),
        "--flagged-rows",
        str(out),
        "--format",
        "json",
    )
    assert code == 1
    doc = json.loads(text[text.index("{") : text.rindex("}") + 1])
    assert doc["verdict"] == "suspected_poisoning"
    assert {"columns", "sources", "signals"} <= set(doc)
    flags = pq.read_table(out)
    assert flags.column_names == ["patient_id", "reason", "source"]
    assert flags.num_rows > 0


def test_clean_exits_zero_and_html_has_no_script(
    check: Callable[..., tuple[int, str]], corpus: Path, tmp_path: Path
) -> None:
    html = tmp_path / "r.html"
    code, _ = check(
        str(corpus / "batches" / "clean.parquet"),
        "--baseline",
        str(corpus / "baseline.json"),
        "--format",
        "html",
        "-o",
        str(html),
    )
    assert code == 0
    page = html.read_text()
    assert "<script" not in page
    assert "<svg" in page


def test_bad_inputs_exit_2(
    check: Callable[..., tuple[int, str]], corpus: Path, tmp_path: Path
) -> None:
    base = str(corpus / "baseline.json")
    empty = tmp_path / "empty.parquet"
    pq.write_table(pq.read_table(corpus / "batches" / "clean.parquet").slice(0, 0), empty)
    truncated = tmp_path / "trunc.parquet"
    truncated.write_bytes((corpus / "batches" / "clean.parquet").read_bytes()[:5000])
    t = pq.read_table(corpus / "batches" / "clean.parquet")
    allnull = tmp_path / "allnull.parquet"
    i = t.schema.get_field_index("glucose")
    pq.write_table(t.set_column(i, "glucose", pa.nulls(t.num_rows, pa.int64())), allnull)
    other = tmp_path / "other.parquet"
    pq.write_table(pa.table({"a": [1, 2, 3], "b": ["x", "y", "z"]}), other)
    for batch in (empty, truncated, allnull, other, tmp_path / "missing.parquet"):
        code, text = check(str(batch), "--baseline", base)
        assert code == 2, (batch, text)
    code, _ = check(
        str(corpus / "batches" / "clean.parquet"), "--baseline", str(tmp_path / "no.json")
    )
    assert code == 2


def test_labels_rates_per_source(cli: Callable[..., Result], corpus: Path) -> None:
    res = cli(
        "data",
        "labels",
        str(corpus / "batches" / "clean.parquet"),
        "--label",
        "adverse_outcome",
        "--source-column",
        "source",
        "--format",
        "json",
    )
    assert res.code == 0, res.err
    doc = json.loads(res.out)
    assert set(doc["per_source"]) == {"first_party", "broker", "user_generated"}


def test_label_issues_are_opt_in_and_point_at_the_flipping_source(
    check: Callable[..., tuple[int, str]], corpus: Path
) -> None:
    """cleanlab's per-source rates cost an import of 0.7 s, so only --label-issues runs it;
    then the source whose labels were flipped has more label issues than the others."""
    batch = str(corpus / "batches" / "label_flip_subpop.parquet")
    args = (batch, "--baseline", str(corpus / "baseline.json"), "--format", "json")
    truth = json.loads((corpus / "truth" / "label_flip_subpop.json").read_text())
    flipped_source = truth["details"]["subpopulation"]["source"]

    def run(*extra: str) -> dict[str, Any]:
        code, text = check(*args, *extra)
        assert code == 1
        doc: dict[str, Any] = json.loads(text[text.index("{") : text.rindex("}") + 1])
        assert doc["verdict"] == "suspected_poisoning"
        return doc

    plain = run()
    assert plain["cleanlab"]["available"] is False
    assert "not requested" in plain["cleanlab"]["reason"]
    assert all(s["label_issue_rate"] is None for s in plain["sources"])
    asked = run("--label-issues")
    info = asked["cleanlab"]
    assert isinstance(info, dict)
    assert info["available"] is True
    assert 0 < info["issues"] <= info["scored_rows"]
    rates = {s["source"]: s for s in asked["sources"]}
    flipped = rates[flipped_source]
    assert flipped["label_issue_rate"] > flipped["other_label_issue_rate"]
    for name, s in rates.items():
        if name != flipped_source and s["rows"]:
            assert s["label_issue_rate"] < flipped["label_issue_rate"]
