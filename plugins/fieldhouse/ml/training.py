"""Retraining runs: train a challenger on the lake, register it, promote it or not."""

from __future__ import annotations

import logging
from typing import Any

from sklearn.metrics import f1_score

from fieldhouse.config import StorageSettings
from fieldhouse.ml import anomaly, registry
from fieldhouse.storage.objects import ObjectStore

log = logging.getLogger(__name__)

SENSOR_ANOMALY_MODEL = "sensor_anomaly"


def retrain_sensor_anomaly(
    store: ObjectStore, settings: StorageSettings, *, margin: float = 0.01, random_state: int = 0
) -> dict[str, Any]:
    """Train on the current lake snapshot; the challenger wins only by more than ``margin`` F1.

    The champion is scored on the challenger's held-out period, so both are
    judged on the same rows even though the period moves as data arrives.
    """
    from fieldhouse.lake import duckdb_connect

    with duckdb_connect(settings) as con:
        snapshot = anomaly.lake_snapshot_id(con)
        features = anomaly.load_features(con, snapshot)
    detector, metrics, fingerprint = anomaly.train_anomaly_model(
        features, random_state=random_state
    )
    card = registry.register(
        store,
        SENSOR_ANOMALY_MODEL,
        detector,
        anomaly.model_card_fields(detector, metrics, fingerprint, snapshot),
    )
    champion_f1 = _champion_f1(store, features)
    decision = registry.promote_if_better(
        store,
        SENSOR_ANOMALY_MODEL,
        card["version"],
        "f1",
        margin=margin,
        champion_score=champion_f1,
    )
    log.info("%s %s: %s", SENSOR_ANOMALY_MODEL, card["version"], decision.reason)
    return {
        "version": card["version"],
        "lake_snapshot_id": snapshot,
        "metrics": metrics,
        "promoted": decision.promoted,
        "reason": decision.reason,
    }


def _champion_f1(store: ObjectStore, features) -> float | None:
    try:
        champion = registry.load(store, SENSOR_ANOMALY_MODEL)
    except registry.NoChampion:
        return None
    evaluate = anomaly.split_by_time(features).evaluate
    truth = evaluate[anomaly.LABEL].astype(bool).to_numpy()
    return float(f1_score(truth, champion.predict(evaluate), zero_division=0))
