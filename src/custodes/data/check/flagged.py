"""``--flagged-rows FILE``: the suspect rows, for a person to review before training.

One row per suspect: its id in a column named like the baseline's id column (so it
joins back to the batch), the reason (signal and group) and the source. Parquet when
the file name says so, CSV otherwise.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from custodes.data.check.result import FlaggedRow
from custodes.errors import InputError

__all__ = ["flagged_table", "write_flagged"]


def flagged_table(
    rows: tuple[FlaggedRow, ...] | list[FlaggedRow], id_column: str | None
) -> pa.Table:
    ids = [r.id for r in rows]
    return pa.table(
        {
            id_column or "row": pa.array(ids) if ids else pa.array([], pa.int64()),
            "reason": pa.array([r.reason for r in rows], pa.string()),
            "source": pa.array([r.source for r in rows], pa.string()),
        }
    )


def write_flagged(
    rows: tuple[FlaggedRow, ...] | list[FlaggedRow], id_column: str | None, path: str | Path
) -> Path:
    p = Path(path)
    table = flagged_table(rows, id_column)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        if p.suffix.lower() in (".parquet", ".pq", ".parq"):
            pq.write_table(table, p)
        else:
            pacsv.write_csv(table, p)
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"cannot write flagged rows: {exc}", path=p) from None
    return p
