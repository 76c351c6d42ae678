"""Check a batch against a baseline: schema, drift, poisoning signals, flagged rows.

from custodes.data import Baseline
from custodes.data.check import check_batch
result = check_batch("batch.parquet", Baseline.load("baseline.json"))
result.verdict   # "ok" | "drift" | "suspected_poisoning" | "schema_violation"
"""

from __future__ import annotations

from custodes.data.check.checker import check_batch, read_batch
from custodes.data.check.flagged import write_flagged
from custodes.data.check.result import (
    ColumnResult,
    DataCheckResult,
    FlaggedRow,
    SchemaIssue,
    Signal,
    SourceResult,
)

__all__ = [
    "ColumnResult",
    "DataCheckResult",
    "FlaggedRow",
    "SchemaIssue",
    "Signal",
    "SourceResult",
    "check_batch",
    "read_batch",
    "write_flagged",
]
