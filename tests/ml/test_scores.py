"""Scores tables kept up to date row by row, equal to a full scoring of the features."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from fieldhouse.lake import duckdb_connect, write_lake
from fieldhouse.ml.scores import HASH_COLUMN, update_scores

pytestmark = pytest.mark.integration

KEYS = ("source", "item_id")


class Scorer:
    """A model stand-in whose score is a function of the row alone; counts what it scores."""

    def __init__(self, version: str) -> None:
        self.version = version
        self.rows_scored = 0

    def __call__(self, rows: pd.DataFrame) -> pd.DataFrame:
        self.rows_scored += len(rows)
        return pd.DataFrame(
            {
                "source": rows["source"].to_numpy(),
                "item_id": rows["item_id"].to_numpy(),
                "model_version": self.version,
                "score": rows["amount"].to_numpy() * 2 + rows["count"].to_numpy(),
                "scored_at": pd.Timestamp.now(tz="UTC"),
            }
        )


def _features(items: range, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "source": ["simulator" if i % 3 else "my_feed" for i in items],
            "item_id": [f"item-{i}" for i in items],
            "amount": rng.normal(100, 10, len(items)),
            "count": rng.integers(0, 5, len(items)),
            "tags": [["a", "b"] if i % 2 else [] for i in items],
        }
    )


def _table(settings, table: str) -> pd.DataFrame:
    with duckdb_connect(settings) as con:
        frame = con.execute(f"select * exclude (scored_at) from {table}").df()
    return frame.sort_values(list(KEYS)).reset_index(drop=True)


def _full_scoring(features: pd.DataFrame, version: str) -> pd.DataFrame:
    frame = Scorer(version)(features).drop(columns="scored_at")
    return frame.sort_values(list(KEYS)).reset_index(drop=True)


def test_only_new_or_changed_rows_are_scored_and_the_table_equals_a_full_scoring(
    minio_server,
) -> None:
    table = f"lake.main.scores_{os.urandom(4).hex()}"
    features = _features(range(200))
    first = Scorer("v1")
    assert update_scores(minio_server, table, KEYS, "v1", features, first) == {
        "rows": 200,
        "scored": 200,
        "kept": 0,
    }

    again = Scorer("v1")
    report = update_scores(minio_server, table, KEYS, "v1", features, again)
    assert (report, again.rows_scored) == ({"rows": 200, "scored": 0, "kept": 200}, 0)

    # Late data: three rows change, two are gone, five are new; the order is shuffled.
    changed = features.copy()
    changed.loc[[5, 50, 150], "amount"] += 1.0
    changed = pd.concat([changed.drop(index=[7, 8]), _features(range(200, 205), seed=1)])
    changed = changed.sample(frac=1.0, random_state=3)
    late = Scorer("v1")
    report = update_scores(minio_server, table, KEYS, "v1", changed, late)
    assert (report, late.rows_scored) == ({"rows": 203, "scored": 8, "kept": 195}, 8)
    held = _table(minio_server, table)
    pd.testing.assert_frame_equal(held.drop(columns=HASH_COLUMN), _full_scoring(changed, "v1"))

    # A new champion scores every row again.
    champion = Scorer("v2")
    report = update_scores(minio_server, table, KEYS, "v2", changed, champion)
    assert (report["scored"], report["kept"], champion.rows_scored) == (203, 0, 203)
    held = _table(minio_server, table)
    pd.testing.assert_frame_equal(held.drop(columns=HASH_COLUMN), _full_scoring(changed, "v2"))


def test_a_table_written_before_rows_carried_their_hash_is_scored_again(minio_server) -> None:
    table = f"lake.main.scores_{os.urandom(4).hex()}"
    features = _features(range(20))
    legacy = _full_scoring(features, "v1").head(5)

    def create(con) -> None:
        con.register("legacy", legacy)
        con.execute(f"create table {table} as from legacy")

    write_lake(minio_server, create, what="legacy scores")
    scorer = Scorer("v1")
    report = update_scores(minio_server, table, KEYS, "v1", features, scorer)
    assert (report, scorer.rows_scored) == ({"rows": 20, "scored": 20, "kept": 0}, 20)
    assert HASH_COLUMN in _table(minio_server, table).columns
