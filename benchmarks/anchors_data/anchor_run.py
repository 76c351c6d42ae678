"""One step of one anchor tool, run inside the anchors' own venv by bench_data_anchors.py.

    python anchor_run.py TOOL STEP --ref DIR --batch FILE --state DIR --out FILE.json

TOOL is evidently | whylogs | alibi | cleanlab; STEP is ``fit`` (whatever the tool keeps
from the reference: a whylogs profile, an alibi-detect detector, a cleanlab model; Evidently
keeps nothing) or ``check`` (one batch against the reference). The step writes what the
tool reported to ``--out`` as JSON; an exception is written there too (``error``), so a
crash on the schema-break batch is recorded rather than lost. Each step is its own
process so the parent measures its wall time and peak RSS alone.

The tools are used as their documentation shows, with the settings a user would pick for
this table: the id column is left out, the label is a categorical column, booleans are
categorical, strings are encoded by the reference's categories (alibi-detect and the
cleanlab model need numbers), and nulls become -1 (alibi-detect) or 0 plus a null
indicator (the model). Nothing here compensates for a batch whose columns differ from the
reference: a user's pipeline built on the reference's columns meets the batch as it is.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

ID = "patient_id"
LABEL = "adverse_outcome"
SOURCE = "source"
DATE = "record_date"


def load(path: Path) -> pd.DataFrame:
    df = pq.read_table(path).to_pandas()
    if DATE in df.columns:
        df[DATE] = pd.to_datetime(df[DATE])
    return df


def column_kinds(df: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(numerical, categorical) feature columns of the reference, label included as categorical."""
    num: list[str] = []
    cat: list[str] = []
    for col in df.columns:
        if col in (ID, DATE):
            continue
        kind = df[col].dtype.kind
        if col == LABEL or kind in "bO" or str(df[col].dtype) in ("string", "category"):
            cat.append(col)
        elif kind in "iuf":
            num.append(col)
    return num, cat


class Encoder:
    """Reference-fitted numeric encoding for alibi-detect and the cleanlab model."""

    def __init__(self, ref: pd.DataFrame) -> None:
        self.num, self.cat = column_kinds(ref)
        self.cat = [c for c in self.cat if c != LABEL]
        self.levels = {c: sorted(map(str, ref[c].dropna().unique())) for c in self.cat}

    def codes(self, df: pd.DataFrame) -> np.ndarray:
        """Numbers for alibi-detect: numerics as float (null -1), categories as codes."""
        cols = [df[c].astype(float).fillna(-1.0).to_numpy() for c in self.num]
        for c in self.cat:
            lookup = {v: i for i, v in enumerate(self.levels[c])}
            cols.append(df[c].astype(str).map(lookup).fillna(-1).to_numpy(dtype=float))
        return np.column_stack(cols).astype(np.float32)

    def design(self, df: pd.DataFrame) -> np.ndarray:
        """Model features: numerics (null 0 + indicator), one-hot categories."""
        cols: list[np.ndarray] = []
        for c in self.num:
            v = df[c].astype(float)
            cols.append(v.fillna(0.0).to_numpy())
            if v.isna().any():
                cols.append(v.isna().to_numpy(dtype=float))
        for c in self.cat:
            s = df[c].astype(str)
            cols.extend((s == level).to_numpy(dtype=float) for level in self.levels[c])
        return np.column_stack(cols)

    def n_features(self) -> int:
        return len(self.num) + len(self.cat)


def evidently_check(args: argparse.Namespace) -> dict[str, Any]:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    ref, cur = load(args.ref), load(args.batch)
    num, cat = column_kinds(ref)
    dd = DataDefinition(
        id_column=ID, timestamp=DATE, numerical_columns=num, categorical_columns=cat
    )
    snap = Report([DataDriftPreset()]).run(
        current_data=Dataset.from_pandas(cur, data_definition=dd),
        reference_data=Dataset.from_pandas(ref, data_definition=dd),
    )
    metrics = snap.dict()["metrics"]
    drifted: list[str] = []
    share = 0.0
    n_cols = 0
    for m in metrics:
        cfg = m.get("config", {})
        kind = str(cfg.get("type", ""))
        if kind.endswith("DriftedColumnsCount"):
            share = float(m["value"]["share"])
        elif kind.endswith("ValueDrift"):
            n_cols += 1
            method = str(cfg.get("method", "")).lower()
            value, thr = float(m["value"]), float(cfg.get("threshold", 0.1))
            is_test = "p_value" in method or "test" in method
            if (value < thr) if is_test else (value >= thr):
                drifted.append(str(cfg.get("column")))
    return {
        "drift": share >= 0.5,
        "columns_flagged": len(drifted),
        "columns": n_cols,
        "flagged_columns": drifted,
        "per_source": None,
    }


def whylogs_fit(args: argparse.Namespace) -> dict[str, Any]:
    import whylogs as why

    view = why.log(pandas=load(args.ref).drop(columns=[ID])).profile().view()
    args.state.mkdir(parents=True, exist_ok=True)
    view.write(str(args.state / "whylogs_ref.bin"))
    return {"columns": len(view.get_columns())}


def whylogs_check(args: argparse.Namespace) -> dict[str, Any]:
    import whylogs as why
    from whylogs.core import DatasetProfileView
    from whylogs.viz.drift.column_drift_algorithms import calculate_drift_scores

    ref_view = DatasetProfileView.read(str(args.state / "whylogs_ref.bin"))
    cur_view = why.log(pandas=load(args.batch).drop(columns=[ID])).profile().view()
    scores = calculate_drift_scores(
        target_view=cur_view, reference_view=ref_view, with_thresholds=True
    )
    drifted = [c for c, s in scores.items() if s and s.get("drift_category") == "DRIFT"]
    possible = [c for c, s in scores.items() if s and s.get("drift_category") == "POSSIBLE_DRIFT"]
    return {
        "drift": bool(drifted),
        "columns_flagged": len(drifted),
        "columns_possible_drift": len(possible),
        "columns": len(scores),
        "flagged_columns": drifted,
        "per_source": None,
    }


def alibi_fit(args: argparse.Namespace) -> dict[str, Any]:
    from alibi_detect.cd import TabularDrift
    from alibi_detect.saving import save_detector

    ref = load(args.ref)
    enc = Encoder(ref)
    x = enc.codes(ref)
    cats = {len(enc.num) + i: None for i in range(len(enc.cat))}
    cd = TabularDrift(x, p_val=0.05, categories_per_feature=cats)
    args.state.mkdir(parents=True, exist_ok=True)
    save_detector(cd, str(args.state / "alibi"))
    (args.state / "alibi_encoder.pkl").write_bytes(pickle.dumps(enc))
    return {"columns": enc.n_features()}


def alibi_check(args: argparse.Namespace) -> dict[str, Any]:
    from alibi_detect.saving import load_detector

    cd = load_detector(str(args.state / "alibi"))
    # Our own state from the fit step of this same run, never a file from elsewhere.
    state = (args.state / "alibi_encoder.pkl").read_bytes()
    enc: Encoder = pickle.loads(state)  # custodes: ignore[CODE-PICKLE-LOAD]
    pred = cd.predict(enc.codes(load(args.batch)), drift_type="batch")["data"]
    names = enc.num + enc.cat
    # the columns below the Bonferroni-corrected threshold that its batch verdict uses
    flagged = [
        names[i] for i, p in enumerate(np.atleast_1d(pred["p_val"])) if p < pred["threshold"]
    ]
    return {
        "drift": bool(pred["is_drift"]),
        "columns_flagged": len(flagged),
        "columns": len(names),
        "flagged_columns": flagged,
        "per_source": None,
    }


def cleanlab_fit(args: argparse.Namespace) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    ref = load(args.ref)
    if len(ref) > args.fit_rows:  # a simple model; a million rows are plenty for it
        ref = ref.sample(args.fit_rows, random_state=0)
    enc = Encoder(ref)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300))
    model.fit(enc.design(ref), ref[LABEL].to_numpy())
    args.state.mkdir(parents=True, exist_ok=True)
    (args.state / "cleanlab_model.pkl").write_bytes(pickle.dumps((enc, model)))
    return {"fit_rows": len(ref)}


def cleanlab_check(args: argparse.Namespace) -> dict[str, Any]:
    from cleanlab.filter import find_label_issues

    # Our own state from the fit step of this same run, never a file from elsewhere.
    state = (args.state / "cleanlab_model.pkl").read_bytes()
    enc, model = pickle.loads(state)  # custodes: ignore[CODE-PICKLE-LOAD]
    cur = load(args.batch)
    probs = model.predict_proba(enc.design(cur))
    issues = find_label_issues(labels=cur[LABEL].to_numpy(), pred_probs=probs, n_jobs=1)
    flagged = cur.loc[issues, ID].to_numpy()
    np.save(args.state / f"cleanlab_flagged_{args.batch.stem}.npy", flagged)
    by_source = cur.loc[issues, SOURCE].value_counts() / cur[SOURCE].value_counts()
    return {
        "flagged_rows": len(flagged),
        "flagged_share": float(issues.mean()),
        "flagged_ids_file": str(args.state / f"cleanlab_flagged_{args.batch.stem}.npy"),
        "flag_rate_by_source": {str(k): round(float(v), 4) for k, v in by_source.fillna(0).items()},
    }


STEPS = {
    ("evidently", "check"): evidently_check,
    ("whylogs", "fit"): whylogs_fit,
    ("whylogs", "check"): whylogs_check,
    ("alibi", "fit"): alibi_fit,
    ("alibi", "check"): alibi_check,
    ("cleanlab", "fit"): cleanlab_fit,
    ("cleanlab", "check"): cleanlab_check,
}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("tool", choices=sorted({t for t, _ in STEPS}))
    ap.add_argument("step", choices=["fit", "check"])
    ap.add_argument("--ref", type=Path, required=True)
    ap.add_argument("--batch", type=Path)
    ap.add_argument("--state", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--fit-rows", type=int, default=1_000_000)
    args = ap.parse_args()
    try:
        result = STEPS[(args.tool, args.step)](args)
        code = 0
    except Exception as exc:  # the crash is the measurement
        result = {
            "error": f"{type(exc).__name__}: {exc}"[:500],
            "traceback": traceback.format_exc()[-2000:],
        }
        code = 1
    args.out.write_text(json.dumps(result, default=str))
    return code


if __name__ == "__main__":
    sys.exit(main())
