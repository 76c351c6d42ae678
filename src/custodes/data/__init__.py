"""Data baselines: mergeable profiles of reference data that checks compare batches to.

The public API::

    from custodes.data import build_baseline, Baseline
    baseline = build_baseline(["train.parquet"], label="y", source_column="tier")
    baseline.save("baseline.json")
    baseline = Baseline.load("baseline.json")       # verifies format, version, digest
"""

from __future__ import annotations

from custodes.data.baseline import Baseline, refresh_digest
from custodes.data.engine import build_baseline
from custodes.data.labels import FeatureBins, LabelModel
from custodes.data.partial import PartialBaseline, Roles, row_signatures
from custodes.data.profile import OTHER, ColumnProfile

__all__ = [
    "OTHER",
    "Baseline",
    "ColumnProfile",
    "FeatureBins",
    "LabelModel",
    "PartialBaseline",
    "Roles",
    "build_baseline",
    "refresh_digest",
    "row_signatures",
]
