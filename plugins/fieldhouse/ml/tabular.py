"""Shared steps of the models trained on one wide feature table (a row per entity).

Loading a table at a lake snapshot, splitting it by time, fingerprinting the
evaluation rows and describing the features on a model card: the delivery-time
and transaction-risk models do these the same way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from fieldhouse.lake import table_exists

if TYPE_CHECKING:
    import duckdb


class MissingFeatureTable(LookupError):
    """The feature table is not in the lake yet (its domain has no data)."""


class NotEnoughData(ValueError):
    """Too few labelled rows (or no rows of a class) to train and evaluate a model."""


def load_table(
    con: duckdb.DuckDBPyConnection,
    table: str,
    order_by: Iterable[str],
    snapshot_id: int | None = None,
) -> pd.DataFrame:
    """All rows of ``table`` at ``snapshot_id`` (default: latest), in a stable order.

    Raises:
        MissingFeatureTable: the table does not exist.
    """
    if not table_exists(con, table):
        raise MissingFeatureTable(f"{table} does not exist yet: no data for its domain")
    at = "" if snapshot_id is None else f" AT (VERSION => {int(snapshot_id)})"
    return con.execute(f"select * from {table}{at} order by {', '.join(order_by)}").df()


@dataclass(frozen=True)
class TimeSplit:
    """Train on rows before ``split_at``, evaluate on rows from it on."""

    split_at: datetime
    train: pd.DataFrame
    evaluate: pd.DataFrame


def split_by_time(frame: pd.DataFrame, column: str, eval_fraction: float = 0.3) -> TimeSplit:
    """Hold out the latest ``eval_fraction`` of the rows by ``column``.

    Never a random split: a model is used on rows later than any it learnt
    from, and rows close in time share conditions (season, a carrier's backlog,
    a fraud wave), so a random split would flatter the metrics.
    """
    if not 0 < eval_fraction < 1:
        raise ValueError(f"eval_fraction must be in (0, 1), got {eval_fraction}")
    moments = pd.to_datetime(frame[column], utc=True)
    ordered = moments.sort_values(ignore_index=True)
    distinct = ordered.drop_duplicates(ignore_index=True)
    if len(distinct) < 2:
        raise NotEnoughData(f"need at least two distinct {column} values, got {len(distinct)}")
    split_at = ordered.iloc[min(round(len(ordered) * (1 - eval_fraction)), len(ordered) - 1)]
    # Ties at the cut stay together; a cut at the very first moment would leave no training rows.
    split_at = max(split_at, distinct.iloc[1])
    before = (moments < split_at).to_numpy()
    return TimeSplit(split_at.to_pydatetime(warn=False), frame[before], frame[~before])


def require_values(frame: pd.DataFrame, columns: Iterable[str], part: str) -> None:
    """Refuse to train when a feature has no value in any row of ``part``.

    A feature column that is null throughout (a feed that never sends it, a
    window too short for a rolling figure) gives a learner nothing to split on,
    and some fail deep inside scikit-learn; the model is skipped with the
    column's name instead.

    Raises:
        NotEnoughData: naming the empty columns.
    """
    empty = [name for name in columns if frame[name].isna().all()]
    if empty:
        raise NotEnoughData(
            f"feature {', '.join(empty)} is null in all {len(frame)} {part} rows; "
            "nothing to learn from it"
        )


def evaluation_fingerprint(evaluate: pd.DataFrame, key: str, truth: Iterable[str]) -> str:
    """sha256 of the evaluation rows' keys and true outcomes, order-independent.

    Two models scored on data with the same fingerprint were judged on the same
    rows against the same truth, so their metrics compare.
    """
    rows = evaluate[[key, *truth]].astype(str).sort_values(key)
    text = rows.to_csv(index=False, header=True, lineterminator="\n")
    return hashlib.sha256(text.encode()).hexdigest()


def feature_types(frame: pd.DataFrame, columns: Iterable[str]) -> dict[str, str]:
    """Column name -> dtype, as recorded on a model card."""
    return {name: str(frame[name].dtype) for name in columns}


def period(start: Any, end: Any) -> dict[str, str]:
    """A [start, end) period as ISO strings."""
    return {"start": pd.Timestamp(start).isoformat(), "end": pd.Timestamp(end).isoformat()}


def training_periods(split: TimeSplit, column: str) -> tuple[dict[str, str], dict[str, str]]:
    """The [start, end) of the training and evaluation parts of ``split``."""
    last = pd.to_datetime(split.evaluate[column], utc=True).max()
    first = pd.to_datetime(split.train[column], utc=True).min()
    # One microsecond past the last evaluated row, so the period is half-open like the split.
    end = last + pd.Timedelta(microseconds=1)
    return period(first, split.split_at), period(split.split_at, end)


def tree_inputs(
    X: pd.DataFrame, categorical: Iterable[str], numeric: Iterable[str]
) -> pd.DataFrame:
    """Categories as text (missing stays missing) and numbers as floats, in a fixed order."""
    columns = {name: X[name].astype(object).where(X[name].notna(), np.nan) for name in categorical}
    columns |= {
        name: pd.to_numeric(X[name].astype(object), errors="coerce").astype(float)
        for name in numeric
    }
    return pd.DataFrame(columns, index=X.index)


def category_encoder(categorical: Iterable[str], numeric: Iterable[str]) -> Any:
    """Ordinal codes for the categories (first), numbers passed through.

    Gradient-boosted trees split a native categorical feature on sets of
    categories, so a dozen countries need one column, not twelve. A category
    not seen in training, or a missing one, becomes NaN, which the trees route
    like a missing value.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OrdinalEncoder

    encoder = OrdinalEncoder(
        handle_unknown="use_encoded_value",
        unknown_value=np.nan,
        encoded_missing_value=np.nan,
        dtype=float,
    )
    return ColumnTransformer(
        [("categories", encoder, list(categorical)), ("numbers", "passthrough", list(numeric))],
        verbose_feature_names_out=False,
    )
