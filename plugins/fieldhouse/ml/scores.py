"""Model scores written back to the lake, one table per model, kept up to date row by row.

A scores table holds the champion's score of every current feature row. Each
row carries ``feature_hash``, a hash of the feature row it was scored from, so a
scoring run scores only what the table lacks: new rows, rows whose features
changed (a late reading, a scan of an old order, a chargeback), and every row
when the champion changed. Rows of features that are gone or changed are
deleted in the same lake transaction. The table then equals a full scoring of
the current features, except that ``scored_at`` of an unchanged row is when it
was first scored. The lake's snapshots keep the earlier versions for time travel.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from fieldhouse.config import StorageSettings

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger(__name__)

HASH_COLUMN = "feature_hash"
ROW = "_feature_row"


def feature_hashes(features: pd.DataFrame) -> np.ndarray:
    """A 64-bit hash of each feature row, the same in any process for the same values."""
    # Values pandas cannot hash (lists, arrays) are hashed by their text.
    hashable = features.apply(
        lambda column: column.astype(str) if column.dtype == object else column
    )
    return pd.util.hash_pandas_object(hashable, index=False).to_numpy(dtype=np.uint64)


def update_scores(
    settings: StorageSettings,
    table: str,
    key_columns: Sequence[str],
    model_version: str,
    features: pd.DataFrame,
    score: Callable[[pd.DataFrame], pd.DataFrame],
) -> dict[str, int]:
    """Bring ``table`` (``lake.main.<name>``) up to date with ``features``.

    ``score(rows)`` returns the scores frame of those feature rows (with
    ``key_columns`` and ``model_version``). Only rows the table does not hold
    for ``model_version`` with the same feature hash are scored. Returns the
    rows the table holds, those scored now, and those kept from earlier runs.
    """
    from fieldhouse.lake import table_exists, write_lake

    keys = list(key_columns)
    current = features[keys].reset_index(drop=True).copy()
    current[HASH_COLUMN] = feature_hashes(features.reset_index(drop=True))
    current[ROW] = np.arange(len(current))
    match = " and ".join(f"t.{k} is not distinct from c.{k}" for k in (*keys, HASH_COLUMN))

    def update(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
        con.register("current_rows", current)
        rows = features.reset_index(drop=True)
        if not (table_exists(con, table) and HASH_COLUMN in _columns(con, table)):
            # A new table, or one written before rows carried their hash: score it all.
            frame = score(rows).reset_index(drop=True)
            frame[HASH_COLUMN] = current[HASH_COLUMN].to_numpy()
            con.register("new_scores", frame)
            con.execute(f"create or replace table {table} as from new_scores")
            return {"rows": len(frame), "scored": len(frame), "kept": 0}
        todo = np.sort(
            con.execute(
                f"select c.{ROW} from current_rows c where not exists "
                f"(select 1 from {table} t where {match} and t.model_version = ?)",
                [model_version],
            )
            .fetchnumpy()[ROW]
            .astype(np.int64)
        )
        # Rows of features that are gone, changed, or scored by another version.
        con.execute(
            f"delete from {table} t where t.model_version <> ? or not exists "
            f"(select 1 from current_rows c where {match})",
            [model_version],
        )
        if len(todo):
            frame = score(rows.iloc[todo]).reset_index(drop=True)
            frame[HASH_COLUMN] = current[HASH_COLUMN].to_numpy()[todo]
            con.register("new_scores", frame)
            con.execute(f"insert into {table} by name from new_scores")
        total = int(con.execute(f"select count(*) from {table}").fetchone()[0])
        return {"rows": total, "scored": len(todo), "kept": total - len(todo)}

    result = write_lake(settings, update, what=f"scores {table}")
    log.info(
        "%s: %d rows, %d scored now by %s, %d kept from earlier runs",
        table,
        result["rows"],
        result["scored"],
        model_version,
        result["kept"],
    )
    return result


def _columns(con: duckdb.DuckDBPyConnection, qualified: str) -> set[str]:
    catalog, schema, name = qualified.split(".")
    rows = con.execute(
        "select column_name from information_schema.columns "
        "where table_catalog = ? and table_schema = ? and table_name = ?",
        [catalog, schema, name],
    ).fetchall()
    return {column for (column,) in rows}
