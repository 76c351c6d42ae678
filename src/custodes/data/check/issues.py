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

__all__ = ["MAX_SCORED_ROWS", "cleanlab_issues"]

#: Rows cleanlab scores at most. The issue rates per source are estimates either way; on
#: a 1M-row batch a seeded 250k sample keeps them within about 0.1 percentage point and
#: cuts cleanlab's cost (its input checks loop over every label in Python) by 4x.
MAX_SCORED_ROWS = 250_000


def cleanlab_issues(proba: F64, y: I64, *, seed: int = 0) -> tuple[F64, dict[str, Any]]:
    """Per row: 1.0 label issue, 0.0 none, NaN not scored (no label, or outside the sample).

    Rates are ``np.nanmean`` over the rows of interest.
    """
    from cleanlab.filter import find_label_issues  # type: ignore[import-untyped,unused-ignore]

    known = np.flatnonzero(y >= 0)
    scores = np.full(y.size, np.nan)
    present = np.unique(y[known])
    if known.size < 50 or present.size < 2:
        return scores, {"available": False, "reason": "too few labelled rows or one class"}
    if known.size > MAX_SCORED_ROWS:
        rng = np.random.default_rng(seed)
        known = np.sort(rng.choice(known, MAX_SCORED_ROWS, replace=False))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = find_label_issues(
            labels=y[known], pred_probs=proba[known], filter_by="prune_by_noise_rate", n_jobs=1
        )
    flagged = np.asarray(found, bool)
    scores[known] = flagged
    return scores, {
        "available": True,
        "issues": int(flagged.sum()),
        "scored_rows": int(known.size),
        "rate": round(float(flagged.mean()), 5),
    }
