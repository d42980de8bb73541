"""Drift checks of the wide-table models on a real lake: features and predictions."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from fieldhouse.monitoring.models import TRANSACTION_RISK, NothingToCheck, check_model_drift
from fieldhouse.storage.keys import Bucket, ObjectKey
from fieldhouse.storage.objects import ObjectStore
from tests.monitoring.probes import register_champion, transactions, write_tables

pytestmark = pytest.mark.integration

# Tables of this test's own, so the marts that dbt builds are left alone.
SPEC = dataclasses.replace(
    TRANSACTION_RISK,
    model_name="drift_probe_risk",
    feature_table="lake.main.drift_probe_risk_features",
    scores_table="lake.main.drift_probe_risk_scores",
)
START = pd.Timestamp("2026-10-01", tz="UTC")
LATER = START + pd.Timedelta(days=21)


@pytest.fixture
def training(store: ObjectStore, minio_server) -> pd.DataFrame:
    """Three weeks the champion trained on, a quiet week after, scores for all of it."""
    rng = np.random.default_rng(3)
    training = transactions(21, START, rng, shifted=False)
    register_champion(store, SPEC, START, LATER)
    frame = pd.concat([training, transactions(7, LATER, rng, shifted=False)], ignore_index=True)
    write_tables(minio_server, SPEC, frame, rng.beta(1, 30, len(frame)))
    return training


def _key(uri: str) -> ObjectKey:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    return ObjectKey(Bucket(bucket), key)


def test_a_quiet_week_is_not_flagged(training, store, minio_server) -> None:
    result = check_model_drift(store, minio_server, SPEC, "quiet")

    assert result["drifted"] is False, result["reason"]
    assert result["drifted_checks"] == []
    assert len(result["reports"]) == 2  # features and predictions
    page = store.get_bytes(_key(result["reports"][0])).decode()
    assert "<html" in page[:1000].lower() and page.rstrip().lower().endswith("</html>")


def test_a_shifted_week_is_flagged_with_its_columns_and_recorded(
    training, store, minio_server
) -> None:
    from fieldhouse.lake import duckdb_connect
    from fieldhouse.monitoring.drift import DRIFT_TABLE

    rng = np.random.default_rng(4)
    shifted = transactions(7, LATER, rng, shifted=True)
    frame = pd.concat([training, shifted], ignore_index=True)
    # The champion scores the odd week higher: its predictions drift as well.
    risk = np.concatenate([rng.beta(1, 30, len(training)), rng.beta(3, 10, len(shifted))])
    write_tables(minio_server, SPEC, frame, risk)

    result = check_model_drift(store, minio_server, SPEC, "shifted")

    assert result["drifted"] is True
    assert result["drifted_checks"] == ["features", "predictions"]
    assert "amount_to_usual_ratio" in result["reason"] and "tx_count_1h" in result["reason"]
    with duckdb_connect(minio_server) as con:
        rows = con.execute(
            f"select metric, drifted from {DRIFT_TABLE} "
            "where model_name = ? and run_id = 'shifted' order by metric",
            [SPEC.model_name],
        ).fetchall()
    assert rows == [("features", True), ("predictions", True)]


def test_a_model_without_its_table_has_nothing_to_check(store: ObjectStore, minio_server) -> None:
    spec = dataclasses.replace(
        SPEC, model_name="drift_probe_missing", feature_table="lake.main.drift_probe_absent"
    )
    register_champion(store, spec, START, LATER)
    with pytest.raises(NothingToCheck, match="drift_probe_absent does not exist"):
        check_model_drift(store, minio_server, spec, "missing")
