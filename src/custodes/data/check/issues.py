"""Out-of-sample label issues by confident learning (cleanlab), not rewritten here.

The probabilities come from a model that never saw the rows it scores (the calibrated
baseline model for ``data check``, cross-validated predictions for ``data labels``), which
is what confident learning needs. Row by row these issues are weak evidence (clinical
labels are noisy, so a clean batch already has many), so ``data check`` uses them per
source, beside the group signals, and reports cleanlab's own rows for comparison.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from custodes.data.sketches import F64, I64

__all__ = ["cleanlab_issues"]


def cleanlab_issues(proba: F64, y: I64) -> tuple[np.ndarray, dict[str, Any]]:
    """Boolean mask of rows cleanlab calls label issues (rows without a label: False)."""
    from cleanlab.filter import find_label_issues  # type: ignore[import-untyped,unused-ignore]

    known = np.flatnonzero(y >= 0)
    mask = np.zeros(y.size, bool)
    present = np.unique(y[known])
    if known.size < 50 or present.size < 2:
        return mask, {"available": False, "reason": "too few labelled rows or one class"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = find_label_issues(
            labels=y[known], pred_probs=proba[known], filter_by="prune_by_noise_rate", n_jobs=1
        )
    mask[known] = np.asarray(found, bool)
    return mask, {
        "available": True,
        "issues": int(mask.sum()),
        "rate": round(float(mask.mean()), 5),
    }
