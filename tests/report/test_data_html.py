"""The data check page: self-contained, in the report's style, and escaping batch input."""

from __future__ import annotations

import re

import pyarrow as pa
import pytest

from custodes.data import Baseline, build_baseline
from custodes.data.check import DataCheckResult, check_batch
from custodes.demo.health_data import (
    ID_COLUMN,
    LABEL_COLUMN,
    SOURCE_COLUMN,
    reference_table,
    scenario_batch,
)
from custodes.report.data_html import render_data_check_html

HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def baseline() -> Baseline:
    ref = reference_table(30_000, seed=1)
    return build_baseline(
        [ref], label=LABEL_COLUMN, source_column=SOURCE_COLUMN, id_column=ID_COLUMN
    )


@pytest.fixture(scope="module")
def batch() -> pa.Table:
    table, _ = scenario_batch("label_flip_subpop", 10_000, 1)
    return table


@pytest.fixture(scope="module")
def poisoned(baseline: Baseline, batch: pa.Table) -> DataCheckResult:
    return check_batch(batch, baseline)


def test_poisoned_page(poisoned: DataCheckResult) -> None:
    assert poisoned.verdict == "suspected_poisoning"
    page = render_data_check_html(poisoned, flagged_rows_path="review/flagged.csv")
    lowered = page.lower()
    assert "<script" not in lowered
    for fetched in ("<link", "<img", "url(", "@import", "http://", "https://"):
        assert fetched not in lowered, fetched
    assert ".masthead {" in page  # style.css is inlined
    assert '<p class="kicker">custodes · data check</p>' in page
    assert 'class="verdict blocked"' in page
    assert "Suspected poisoning" in page
    bad = [s.source for s in poisoned.sources if s.verdict == "suspected_poisoning"]
    assert bad == ["user_generated"]
    assert "Suspect source: user_generated." in page
    assert '<span class="badge critical">suspected poisoning</span>' in page
    assert "<code>review/flagged.csv</code>" in page
    assert f"{len(poisoned.flagged):,} rows</strong>" in page
    hist_columns = [c for c in poisoned.columns if c.reference_hist]
    assert hist_columns
    assert page.count("<svg") == len(hist_columns)
    assert len(re.findall(r"<title id=\"hist-\d+-t\">", page)) == len(hist_columns)
    # the full column list is collapsed by default
    assert re.search(r"<details class=\"all-columns\">\s*<summary>", page)


def test_hostile_column_name_is_escaped(baseline: Baseline, batch: pa.Table) -> None:
    names = [HOSTILE if n == "region" else n for n in batch.column_names]
    result = check_batch(batch.rename_columns(names), baseline)
    assert result.verdict == "schema_violation"
    page = render_data_check_html(result)
    assert HOSTILE not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<img" not in page.lower()
    assert "<script" not in page.lower()
    assert 'class="verdict blocked"' in page
    assert "Schema violation" in page
    assert "--flagged-rows FILE" in page or "No row was flagged." in page


def test_ok_verdict_is_green(baseline: Baseline) -> None:
    clean, _ = scenario_batch("clean", 10_000, 2)
    result = check_batch(clean, baseline)
    assert result.verdict == "ok"
    page = render_data_check_html(result)
    assert 'class="verdict ready"' in page
    assert "No column drifted or broke the schema" in page
    assert "<script" not in page.lower()
