"""The sensor anomaly detector on features built by ingestion and dbt from the simulator."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from fieldhouse.ingest.feeds import ingest_source
from fieldhouse.ingest.sources import SENSORS, SensorRunOptions
from fieldhouse.ml import registry
from fieldhouse.ml.anomaly import (
    LABEL,
    lake_snapshot_id,
    load_features,
    model_card_fields,
    split_by_time,
    train_anomaly_model,
)
from fieldhouse.storage.keys import Interval
from fieldhouse.storage.objects import ObjectStore
from tests.zones import empty_zones

pytestmark = pytest.mark.integration

# About 30 hours of a 20-device fleet: enough hours for a trailing day and a held-out part.
WINDOW = Interval(datetime(2026, 11, 21, 0, tzinfo=UTC), datetime(2026, 11, 22, 6, tzinfo=UTC))
OPTIONS = SensorRunOptions(fleet_size=20, seed=11)


@pytest.fixture(scope="module")
def lake_features(minio_server) -> tuple[pd.DataFrame, int]:
    """The features after ingesting WINDOW and building the sensor models, and the snapshot id."""
    from fieldhouse.lake import build_domains, duckdb_connect

    store = empty_zones(minio_server)
    ingest_source(store, SENSORS, WINDOW, OPTIONS)
    build_domains(minio_server, ["sensors"])
    with duckdb_connect(minio_server) as con:
        snapshot = lake_snapshot_id(con)
        features = load_features(con, snapshot)
    return features, snapshot


@pytest.fixture(scope="module")
def trained(lake_features):
    features, _ = lake_features
    return train_anomaly_model(features, random_state=0)


def test_features_carry_the_device_kind_and_label(lake_features) -> None:
    features, _ = lake_features
    assert features["device_id"].nunique() == OPTIONS.fleet_size
    assert features["device_kind"].notna().all()
    assert features[LABEL].any() and not features[LABEL].all()


def test_split_is_by_time(lake_features) -> None:
    features, _ = lake_features
    split = split_by_time(features, eval_fraction=0.3)

    assert len(split.train) + len(split.evaluate) == len(features)
    assert split.train["event_hour"].max() < split.evaluate["event_hour"].min()
    assert (split.evaluate["event_hour"] >= pd.Timestamp(split.split_at)).all()
    # The later part is held out, not a sliver of it.
    eval_hours = split.evaluate["event_hour"].nunique()
    assert 0.2 <= eval_hours / features["event_hour"].nunique() <= 0.4


def test_metrics_are_rates_and_beat_flagging_everything(trained) -> None:
    detector, metrics, _ = trained
    for name in ("precision", "recall", "f1", "eval_label_rate", "eval_flagged_rate"):
        assert 0.0 <= metrics[name] <= 1.0, (name, metrics[name])
    # Flagging every hour gets recall 1 and precision = the label rate.
    rate = metrics["eval_label_rate"]
    assert metrics["f1"] > 2 * rate / (1 + rate), metrics
    assert metrics["precision"] > rate, metrics
    assert detector.training_period_["end"] == detector.evaluation_period_["start"]


def test_training_is_deterministic(lake_features, trained) -> None:
    features, _ = lake_features
    detector, metrics, fingerprint = trained
    again, metrics_again, fingerprint_again = train_anomaly_model(features, random_state=0)

    assert metrics_again == metrics
    assert fingerprint_again == fingerprint
    np.testing.assert_array_equal(again.anomaly_score(features), detector.anomaly_score(features))


def test_fingerprint_changes_with_the_evaluation_data(lake_features, trained) -> None:
    features, _ = lake_features
    _, _, fingerprint = trained
    _, _, shorter = train_anomaly_model(features, eval_fraction=0.2, random_state=0)
    flipped = features.assign(**{LABEL: ~features[LABEL]})
    _, _, relabelled = train_anomaly_model(flipped, random_state=0)

    assert len({fingerprint, shorter, relabelled}) == 3


def test_registered_detector_round_trips(store: ObjectStore, lake_features, trained) -> None:
    features, snapshot = lake_features
    detector, metrics, fingerprint = trained
    card = registry.register(
        "sensor_anomaly",
        detector,
        model_card_fields(detector, metrics, fingerprint, snapshot),
    )
    decision = registry.promote_if_better("sensor_anomaly", card["version"], "f1")

    assert decision.promoted
    assert card["lake_snapshot_id"] == snapshot
    assert card["eval_fingerprint"] == fingerprint
    loaded = registry.load("sensor_anomaly")
    np.testing.assert_array_equal(loaded.predict(features), detector.predict(features))


def test_retraining_registers_then_keeps_an_equal_champion(lake_features, minio_server) -> None:
    from fieldhouse.ml import registry
    from fieldhouse.ml.training import SENSOR_ANOMALY_MODEL, retrain

    empty_zones(minio_server)

    first = retrain(minio_server, SENSOR_ANOMALY_MODEL, margin=0.01)
    assert first["promoted"] and "no champion yet" in first["reason"]
    assert registry.champion_version(SENSOR_ANOMALY_MODEL) == first["version"]

    # Same snapshot, same seed: the challenger equals the champion, so it stays.
    second = retrain(minio_server, SENSOR_ANOMALY_MODEL, margin=0.01)
    assert not second["promoted"]
    assert "re-scored on the challenger's evaluation data" in second["reason"]
    assert registry.champion_version(SENSOR_ANOMALY_MODEL) == first["version"]
    assert registry.versions(SENSOR_ANOMALY_MODEL) == [first["version"], second["version"]]


def test_a_rerun_of_a_scheduled_run_registers_nothing_new(lake_features, minio_server) -> None:
    """As train_models calls it: keyed by the logical date, without scoring."""
    from fieldhouse.ml import registry
    from fieldhouse.ml.training import SENSOR_ANOMALY_MODEL, retrain

    key = "2026-11-23T03:00:00+00:00"
    first = retrain(minio_server, SENSOR_ANOMALY_MODEL, score=False, run_key=key)
    before = registry.versions(SENSOR_ANOMALY_MODEL)
    again = retrain(minio_server, SENSOR_ANOMALY_MODEL, score=False, run_key=key)

    assert again["rerun"] and again["version"] == first["version"]
    assert registry.versions(SENSOR_ANOMALY_MODEL) == before
