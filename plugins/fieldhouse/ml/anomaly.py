"""Sensor anomaly detection on ``ml_sensor_anomaly_features``: load, split, train, evaluate.

The detector is unsupervised (Isolation Forests); the simulator's label
``has_injected_anomaly`` is used only to pick how many training hours to flag
and to measure precision and recall on a later, held-out period.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.ensemble import IsolationForest
from sklearn.metrics import f1_score, precision_score, recall_score

if TYPE_CHECKING:
    import duckdb

FEATURE_TABLE = "lake.main.ml_sensor_anomaly_features"
DEVICE_TABLE = "lake.main.dim_devices"
KEY_COLUMNS = ("device_id", "metric", "event_hour")
LABEL = "has_injected_anomaly"

# Columns in the metric's own unit: divided by the metric's typical spread so that
# one forest can hold power in watts next to vibration in mm/s.
SCALED_COLUMNS = (
    "value_stddev",
    "value_range",
    "value_mean_delta_prev_hour",
    "value_mean_delta_trailing_24h",
)
# Unit-free already.
PLAIN_COLUMNS = (
    "reading_count",
    "reading_count_delta_prev_hour",
    "reading_count_delta_trailing_24h",
    "flagged_share",
    "spike_count",
    "stuck_count",
)
# Left out on purpose: value levels (mean, min, max, p95, trailing mean) say where
# a device stands (a warm site), not whether it misbehaves; trailing_24h_hours
# grows with time since the data started, so under a split by time it would
# separate the periods instead of the anomalies.
FEATURES = (*SCALED_COLUMNS, *PLAIN_COLUMNS)


def load_features(con: duckdb.DuckDBPyConnection, snapshot_id: int | None = None) -> pd.DataFrame:
    """The feature table with each device's kind, at ``snapshot_id`` (default: latest)."""
    at = "" if snapshot_id is None else f" AT (VERSION => {int(snapshot_id)})"
    return con.execute(
        f"""
        with
        features as (select * from {FEATURE_TABLE}{at}),
        devices as (select device_id, device_kind from {DEVICE_TABLE}{at})
        select features.*, devices.device_kind
        from features
        left join devices on features.device_id = devices.device_id
        order by features.device_id, features.metric, features.event_hour
        """
    ).df()


def lake_snapshot_id(con: duckdb.DuckDBPyConnection) -> int:
    """The lake's current snapshot: pass it to :func:`load_features` and the model card."""
    return int(con.execute("select id from lake.current_snapshot()").fetchone()[0])


@dataclass(frozen=True)
class TimeSplit:
    """Train on hours before ``split_at``, evaluate on hours from it on."""

    split_at: datetime
    train: pd.DataFrame
    evaluate: pd.DataFrame


def split_by_time(features: pd.DataFrame, eval_fraction: float = 0.3) -> TimeSplit:
    """Hold out the latest ``eval_fraction`` of the distinct event hours.

    Never a random split: neighbouring hours of a device share their trailing
    24-hour features, so a random split would leak the evaluation hours into
    training and flatter the metrics.
    """
    if not 0 < eval_fraction < 1:
        raise ValueError(f"eval_fraction must be in (0, 1), got {eval_fraction}")
    hours = np.sort(features["event_hour"].unique())
    if len(hours) < 2:
        raise ValueError(f"need at least two event hours to split by time, got {len(hours)}")
    first_eval = min(max(round(len(hours) * (1 - eval_fraction)), 1), len(hours) - 1)
    split_at = pd.Timestamp(hours[first_eval])
    before = features["event_hour"] < split_at
    return TimeSplit(split_at.to_pydatetime(), features[before], features[~before])


class SensorAnomalyDetector(BaseEstimator):
    """One Isolation Forest per device kind, on unit-free hourly features.

    Why per kind rather than one forest with the kind one-hot encoded: the kinds
    measure different metrics with different sampling and noise (a GPS tracker's
    speed, a machine's power draw), so "normal" differs by kind; and a forest
    splits on randomly chosen columns, so one-hot columns would spend splits
    separating kinds instead of isolating odd hours. A kind never seen in
    training is scored by the forest of all kinds.

    Value columns are divided by the training median of ``value_stddev`` of their
    metric, so metrics in different units share one forest. The alarm threshold
    of each kind is the training-score quantile that flags as many training
    hours as carried a label (``contamination=None``), or the given share.
    """

    def __init__(
        self,
        n_estimators: int = 200,
        contamination: float | None = None,
        random_state: int = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.contamination = contamination
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y: pd.Series | None = None) -> SensorAnomalyDetector:
        if y is None and self.contamination is None:
            raise ValueError("without labels, give contamination (the share of hours to flag)")
        labels = None if y is None else np.asarray(y, dtype=bool)
        spread = X.groupby("metric")["value_stddev"].median()
        self.metric_scale_ = {
            metric: float(value) if value and np.isfinite(value) and value > 0 else 1.0
            for metric, value in spread.items()
        }
        kinds = _kinds(X)
        self.forests_: dict[str, IsolationForest] = {}
        self.thresholds_: dict[str, float] = {}
        groups = {kind: (kinds == kind).to_numpy() for kind in sorted(kinds.unique())}
        groups[_ANY_KIND] = np.ones(len(X), dtype=bool)
        for kind, mask in groups.items():
            matrix = self._matrix(X[mask])
            forest = IsolationForest(
                n_estimators=self.n_estimators, random_state=self.random_state
            ).fit(matrix)
            share = self.contamination
            if share is None:
                share = float(labels[mask].mean())
            # At least one hour flagged, never more than half: a kind without
            # labelled training hours still gets a threshold.
            share = min(max(share, 1 / max(mask.sum(), 1)), 0.5)
            scores = -forest.score_samples(matrix)
            self.forests_[kind] = forest
            self.thresholds_[kind] = float(np.quantile(scores, 1 - share))
        self.feature_names_in_ = np.array(FEATURES, dtype=object)
        return self

    def anomaly_score(self, X: pd.DataFrame) -> np.ndarray:
        """Higher is more anomalous (the negated Isolation Forest score)."""
        scores = np.zeros(len(X))
        for kind, mask in self._by_kind(X):
            scores[mask] = -self.forests_[kind].score_samples(self._matrix(X[mask]))
        return scores

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """True for the hours flagged as anomalous."""
        flagged = np.zeros(len(X), dtype=bool)
        for kind, mask in self._by_kind(X):
            scores = -self.forests_[kind].score_samples(self._matrix(X[mask]))
            flagged[mask] = scores > self.thresholds_[kind]
        return flagged

    def _by_kind(self, X: pd.DataFrame) -> list[tuple[str, np.ndarray]]:
        kinds = _kinds(X).where(_kinds(X).isin(self.forests_), _ANY_KIND)
        return [(kind, (kinds == kind).to_numpy()) for kind in kinds.unique()]

    def _matrix(self, X: pd.DataFrame) -> np.ndarray:
        scale = X["metric"].map(self.metric_scale_).fillna(1.0).to_numpy()
        columns = [
            pd.to_numeric(X[name], errors="coerce").astype(float).to_numpy() / scale
            for name in SCALED_COLUMNS
        ]
        columns += [
            pd.to_numeric(X[name], errors="coerce").astype(float).to_numpy()
            for name in PLAIN_COLUMNS
        ]
        # A missing delta means no earlier hour to compare with: count it as no change.
        return np.nan_to_num(np.column_stack(columns), nan=0.0)


_ANY_KIND = "__any__"


def _kinds(X: pd.DataFrame) -> pd.Series:
    return X["device_kind"].fillna(_ANY_KIND).astype(str)


def evaluation_fingerprint(evaluate: pd.DataFrame) -> str:
    """sha256 of the evaluation rows (keys) and their labels, order-independent.

    Two models scored on data with the same fingerprint were judged on the same
    hours against the same truth, so their metrics compare.
    """
    rows = evaluate[[*KEY_COLUMNS, LABEL]].copy()
    rows["event_hour"] = pd.to_datetime(rows["event_hour"], utc=True).map(lambda t: t.isoformat())
    text = (
        rows.astype(str)
        .sort_values(list(KEY_COLUMNS))
        .to_csv(index=False, header=True, lineterminator="\n")
    )
    return hashlib.sha256(text.encode()).hexdigest()


def train_anomaly_model(
    features: pd.DataFrame,
    *,
    eval_fraction: float = 0.3,
    n_estimators: int = 200,
    random_state: int = 0,
) -> tuple[SensorAnomalyDetector, dict[str, float], str]:
    """Fit on the earlier hours, score the held-out later ones.

    Returns the detector, its metrics on the held-out period (precision, recall,
    F1 against ``has_injected_anomaly``, plus row counts and label rates) and the
    evaluation data's fingerprint. The detector's ``training_period_`` and
    ``evaluation_period_`` give the [start, end) hours of each part.
    """
    split = split_by_time(features, eval_fraction)
    if split.train[LABEL].sum() == 0 or split.evaluate[LABEL].sum() == 0:
        raise ValueError("both periods need labelled anomalies to fit a threshold and score it")
    detector = SensorAnomalyDetector(n_estimators=n_estimators, random_state=random_state)
    detector.fit(split.train, split.train[LABEL])
    truth = split.evaluate[LABEL].astype(bool).to_numpy()
    flagged = detector.predict(split.evaluate)
    metrics = {
        "precision": float(precision_score(truth, flagged, zero_division=0)),
        "recall": float(recall_score(truth, flagged, zero_division=0)),
        "f1": float(f1_score(truth, flagged, zero_division=0)),
        "train_rows": len(split.train),
        "eval_rows": len(split.evaluate),
        "train_label_rate": float(split.train[LABEL].mean()),
        "eval_label_rate": float(truth.mean()),
        "eval_flagged_rate": float(flagged.mean()),
    }
    hour = pd.Timedelta(hours=1)
    detector.training_period_ = _period(split.train["event_hour"].min(), split.split_at)
    detector.evaluation_period_ = _period(split.split_at, split.evaluate["event_hour"].max() + hour)
    return detector, metrics, evaluation_fingerprint(split.evaluate)


def model_card_fields(
    detector: SensorAnomalyDetector,
    metrics: dict[str, float],
    eval_fingerprint: str,
    lake_snapshot_id: int,
) -> dict[str, Any]:
    """What :func:`fieldhouse.ml.registry.register` needs to record about a detector."""
    return {
        "metrics": metrics,
        "features": {name: "float64" for name in FEATURES},
        "feature_inputs": ["device_kind", "metric", *FEATURES],
        "training_period": detector.training_period_,
        "evaluation_period": detector.evaluation_period_,
        "lake_snapshot_id": lake_snapshot_id,
        "source_table": FEATURE_TABLE,
        "label": LABEL,
        "eval_fingerprint": eval_fingerprint,
        "thresholds": detector.thresholds_,
    }


def _period(start: Any, end: Any) -> dict[str, str]:
    return {"start": pd.Timestamp(start).isoformat(), "end": pd.Timestamp(end).isoformat()}
