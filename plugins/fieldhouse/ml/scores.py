"""Model scores written back to the lake, one table per model, replaced on every scoring."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from fieldhouse.config import StorageSettings

if TYPE_CHECKING:
    import duckdb


def write_scores(settings: StorageSettings, table: str, frame: pd.DataFrame) -> int:
    """Replace ``table`` (``lake.main.<name>``) with ``frame``; returns the rows written.

    Replaced, not appended: the table holds the champion's view of the current
    feature rows, and the lake's snapshots keep the earlier versions for time travel.
    """
    from fieldhouse.lake import write_lake

    def replace(con: duckdb.DuckDBPyConnection) -> int:
        con.register("new_scores", frame)
        con.execute(f"create or replace table {table} as from new_scores")
        return int(con.execute(f"select count(*) from {table}").fetchone()[0])

    return write_lake(settings, replace, what=f"scores {table}")
