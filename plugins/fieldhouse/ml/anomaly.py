"""Sensor anomaly detection on ``ml_sensor_anomaly_features``: load, split, train, evaluate.

The detector is unsupervised (Isolation Forests on features that compare each
hour with its own series' history), so it trains on any series, labelled or
not. Labels, wherever they exist (the simulator's injected faults, anomaly
windows people send), choose the alarm thresholds on a validation period and
measure precision and recall on a later, held-out one. Without labels the
threshold flags a fixed share of hours and the card says the model is unjudged.
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

from fieldhouse.ml.tabular import NotEnoughData

if TYPE_CHECKING:
    import duckdb

FEATURE_TABLE = "lake.main.ml_sensor_anomaly_features"
DEVICE_TABLE = "lake.main.dim_devices"
SERIES_COLUMNS = ("source", "device_id", "metric")
KEY_COLUMNS = (*SERIES_COLUMNS, "event_hour")
LABEL = "has_anomaly"
LABELLED = "is_labelled"
IN_WINDOW = "in_labelled_window"

# Columns in the metric's own unit: divided by the metric's typical spread so that
# one forest can hold power in watts next to vibration in mm/s.
SCALED_COLUMNS = (
    "value_stddev",
    "value_range",
    "value_mean_delta_prev_hour",
    "value_mean_delta_trailing_24h",
)
# Unit-free already: counts, shares, and the hour against its series' own history
# (level z-scores over a day and a week, the daily cycle, trend, spread).
PLAIN_COLUMNS = (
    "reading_count_delta_prev_hour",
    "reading_count_delta_trailing_24h",
    "flagged_share",
    "spike_count",
    "stuck_count",
)
RELATIVE_COLUMNS = (
    "value_level_z_24h",
    "value_level_z_7d",
    "value_seasonal_delta",
    "value_day_delta",
    "value_trend_6h",
    "value_spread_ratio",
)
# A z-score of 50 is as anomalous as one of 5,000 (a series that was flat for a
# week): clipping keeps a division by a tiny spread from dominating the forest.
RELATIVE_CLIP = 50.0
# Left out on purpose: raw value levels (mean, min, max, p95) say where a device
# stands (a warm site), not whether it misbehaves; levels enter only against the
# series' own history. reading_count and trailing_24h_hours grow with a series'
# sampling rate and age, so they would separate series and periods, not anomalies.
FEATURES = (*SCALED_COLUMNS, *PLAIN_COLUMNS, *RELATIVE_COLUMNS)
DEFAULT_CONTAMINATION = 0.01
"""Share of hours flagged when no labels exist to choose a threshold with."""
MIN_TRAIN_ROWS = 24


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
        order by features.source, features.device_id, features.metric, features.event_hour
        """
    ).df()


def lake_snapshot_id(con: duckdb.DuckDBPyConnection) -> int:
    """The lake's current snapshot: pass it to :func:`load_features` and the model card."""
    return int(con.execute("select id from lake.current_snapshot()").fetchone()[0])


@dataclass(frozen=True)
class TimeSplit:
    """Each series' earlier hours to train on, its later hours to evaluate on."""

    split_at: datetime  # the earliest evaluated hour of any series
    train: pd.DataFrame
    evaluate: pd.DataFrame


def series_positions(features: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each row's position in its series by time (0 = oldest), and the series' length."""
    ordered = features.sort_values([*SERIES_COLUMNS, "event_hour"])
    groups = ordered.groupby(list(SERIES_COLUMNS), sort=False, dropna=False)
    position = groups.cumcount().reindex(features.index).to_numpy()
    length = groups["event_hour"].transform("size").reindex(features.index).to_numpy()
    return position, length


def later_part(features: pd.DataFrame, fraction: float) -> np.ndarray:
    """True for the latest ``fraction`` of each series' hours (at least one of two or more)."""
    position, length = series_positions(features)
    first = np.clip(np.round(length * (1 - fraction)), 1, None)
    return (position >= first) & (length >= 2)


def split_by_time(features: pd.DataFrame, eval_fraction: float = 0.3) -> TimeSplit:
    """Hold out the latest ``eval_fraction`` of every series' own hours.

    Per series, because series start and stop at different times: one device's
    years of history must not fill the training period while another's recent
    weeks fill the evaluation. Never a random split: neighbouring hours share
    their trailing features, so a random split would leak the evaluation hours
    into training and flatter the metrics.
    """
    if not 0 < eval_fraction < 1:
        raise ValueError(f"eval_fraction must be in (0, 1), got {eval_fraction}")
    held_out = later_part(features, eval_fraction)
    if not held_out.any():
        raise NotEnoughData("no series has two event hours to split by time")
    evaluate = features[held_out]
    split_at = pd.Timestamp(evaluate["event_hour"].min())
    return TimeSplit(split_at.to_pydatetime(), features[~held_out], evaluate)


class SensorAnomalyDetector(BaseEstimator):
    """One Isolation Forest per device kind, on unit-free hourly features.

    Why per kind rather than one forest with the kind one-hot encoded: the kinds
    measure different metrics with different sampling and noise (a GPS tracker's
    speed, a machine's power draw), so "normal" differs by kind; and a forest
    splits on randomly chosen columns, so one-hot columns would spend splits
    separating kinds instead of isolating odd hours. A kind never seen in
    training is scored by the forest of all kinds. Each series is judged against
    its own history by the features themselves (z-scores over its trailing day
    and week, its daily cycle), so one forest serves every device of a kind.

    Value columns in the metric's unit are divided by the training median of
    ``value_stddev`` of their metric. :meth:`fit` learns the forests only;
    :meth:`choose_thresholds` sets each kind's alarm threshold from labels, or
    flags ``contamination`` of the hours where a kind has none.
    """

    def __init__(
        self,
        n_estimators: int = 200,
        contamination: float = DEFAULT_CONTAMINATION,
        random_state: int = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.contamination = contamination
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y: pd.Series | None = None) -> SensorAnomalyDetector:
        spread = X.groupby("metric")["value_stddev"].median()
        self.metric_scale_ = {
            metric: float(value) if value and np.isfinite(value) and value > 0 else 1.0
            for metric, value in spread.items()
        }
        kinds = _kinds(X)
        self.forests_: dict[str, IsolationForest] = {}
        self.thresholds_: dict[str, float] = {}
        self.threshold_basis_: dict[str, str] = {}
        groups = {kind: (kinds == kind).to_numpy() for kind in sorted(kinds.unique())}
        groups[_ANY_KIND] = np.ones(len(X), dtype=bool)
        for kind, mask in groups.items():
            matrix = self._matrix(X[mask])
            forest = IsolationForest(
                n_estimators=self.n_estimators, random_state=self.random_state
            ).fit(matrix)
            self.forests_[kind] = forest
            scores = -forest.score_samples(matrix)
            self.thresholds_[kind] = float(np.quantile(scores, 1 - self.contamination))
            self.threshold_basis_[kind] = f"unlabelled: flags {self.contamination:.1%} of hours"
        self.feature_names_in_ = np.array(FEATURES, dtype=object)
        return self

    def choose_thresholds(self, X: pd.DataFrame, y: pd.Series, basis: str) -> None:
        """Per kind, the threshold with the best F1 on the labelled rows ``X``, ``y``.

        A kind whose rows carry no anomaly keeps its unlabelled threshold.
        """
        truth = np.asarray(y, dtype=bool)
        scores = self.anomaly_score(X)
        for kind, mask in self._by_kind(X):
            if not truth[mask].any():
                continue
            threshold, f1 = best_f1_threshold(scores[mask], truth[mask])
            self.thresholds_[kind] = threshold
            self.threshold_basis_[kind] = f"{basis}: best F1 {f1:.3f} on {int(mask.sum())} hours"
        # The catch-all forest scores kinds never seen in training: its threshold
        # comes from every labelled row it would have scored.
        if truth.any():
            anywhere = -self.forests_[_ANY_KIND].score_samples(self._matrix(X))
            threshold, f1 = best_f1_threshold(anywhere, truth)
            self.thresholds_[_ANY_KIND] = threshold
            self.threshold_basis_[_ANY_KIND] = f"{basis}: best F1 {f1:.3f} on {len(X)} hours"

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
        columns = [_numbers(X, name) / scale for name in SCALED_COLUMNS]
        columns += [_numbers(X, name) for name in PLAIN_COLUMNS]
        columns += [
            np.clip(_numbers(X, name), -RELATIVE_CLIP, RELATIVE_CLIP) for name in RELATIVE_COLUMNS
        ]
        # A missing delta or z-score means no history to compare with: count it as
        # no change.
        return np.nan_to_num(np.column_stack(columns), nan=0.0, posinf=0.0, neginf=0.0)


_ANY_KIND = "__any__"


def _kinds(X: pd.DataFrame) -> pd.Series:
    return X["device_kind"].fillna(_ANY_KIND).astype(str)


def _numbers(X: pd.DataFrame, name: str) -> np.ndarray:
    return pd.to_numeric(X[name], errors="coerce").astype(float).to_numpy()


def best_f1_threshold(scores: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """The score threshold (flag above it) with the highest F1; ties go to fewer alarms."""
    candidates = np.unique(np.quantile(scores, np.linspace(0.5, 0.999, 200)))
    best = (-1.0, float(candidates[-1]))
    for threshold in candidates:
        f1 = f1_score(truth, scores > threshold, zero_division=0)
        if f1 >= best[0]:
            best = (float(f1), float(threshold))
    return best[1], best[0]


def evaluation_fingerprint(evaluate: pd.DataFrame) -> str:
    """sha256 of the evaluation rows (keys) and their labels, order-independent.

    Two models scored on data with the same fingerprint were judged on the same
    hours against the same truth, so their metrics compare.
    """
    rows = evaluate[[*KEY_COLUMNS, LABEL, LABELLED]].copy()
    rows["event_hour"] = pd.to_datetime(rows["event_hour"], utc=True).map(lambda t: t.isoformat())
    text = (
        rows.astype(str)
        .sort_values(list(KEY_COLUMNS))
        .to_csv(index=False, header=True, lineterminator="\n")
    )
    return hashlib.sha256(text.encode()).hexdigest()


def window_detection(frame: pd.DataFrame, flagged: np.ndarray) -> dict[str, float | int | None]:
    """How many labelled windows got at least one flagged hour, and how soon.

    A window is a run of consecutive hours of one series inside labelled windows
    (``in_labelled_window``). What an operator asks is whether each failure was
    caught and how early, not how many of its hours were: so recall over windows,
    and the median hours from a window's first hour to its first flag.
    """
    rows = frame.assign(_flagged=np.asarray(flagged, dtype=bool))
    rows = rows[rows[IN_WINDOW].astype(bool)].sort_values([*SERIES_COLUMNS, "event_hour"])
    if rows.empty:
        return {
            "windows": 0,
            "windows_detected": 0,
            "window_recall": None,
            "median_hours_to_first_flag": None,
        }
    hours = pd.to_datetime(rows["event_hour"], utc=True)
    series = rows[list(SERIES_COLUMNS)].astype(str).agg("|".join, axis=1)
    new_run = (series != series.shift()) | (hours.diff() != pd.Timedelta(hours=1))
    run = new_run.cumsum()
    start = hours.groupby(run).transform("min")
    lead = (hours - start).dt.total_seconds() / 3600
    first_flag = lead.where(rows["_flagged"]).groupby(run).min()
    detected = first_flag.notna()
    return {
        "windows": len(first_flag),
        "windows_detected": int(detected.sum()),
        "window_recall": float(detected.mean()),
        "median_hours_to_first_flag": (
            float(first_flag[detected].median()) if detected.any() else None
        ),
    }


def train_anomaly_model(
    features: pd.DataFrame,
    *,
    eval_fraction: float = 0.3,
    validation_fraction: float = 0.3,
    n_estimators: int = 200,
    contamination: float = DEFAULT_CONTAMINATION,
    random_state: int = 0,
) -> tuple[SensorAnomalyDetector, dict[str, Any], str]:
    """Fit on each series' earlier hours, choose thresholds, score the held-out later ones.

    Thresholds are chosen on the labelled hours of a validation period (the
    latest ``validation_fraction`` of each series' training hours); when it holds
    no anomaly, on all labelled training hours; with no labels at all, the
    detector flags ``contamination`` of the hours. Metrics (precision, recall,
    F1 and window recall on labelled held-out hours) are null when the held-out
    period has no labelled hours, and ``label_mode`` on the card says which case
    applied. The detector's ``training_period_`` and ``evaluation_period_`` give
    the [start, end) hours of each part.

    Raises:
        NotEnoughData: fewer than MIN_TRAIN_ROWS training hours, or no series
            long enough to hold some out.
    """
    if len(features) == 0:
        raise NotEnoughData("the feature table has no rows")
    split = split_by_time(features, eval_fraction)
    if len(split.train) < MIN_TRAIN_ROWS:
        raise NotEnoughData(
            f"{len(split.train)} training hours; at least {MIN_TRAIN_ROWS} are needed"
        )
    detector = SensorAnomalyDetector(
        n_estimators=n_estimators, contamination=contamination, random_state=random_state
    )
    detector.fit(split.train)
    labelled_train = split.train[split.train[LABELLED].astype(bool)]
    validation = labelled_train[later_part(labelled_train, validation_fraction)]
    if validation[LABEL].astype(bool).any():
        detector.choose_thresholds(validation, validation[LABEL], "validation period")
    elif labelled_train[LABEL].astype(bool).any():
        detector.choose_thresholds(labelled_train, labelled_train[LABEL], "training period")

    judged = split.evaluate[split.evaluate[LABELLED].astype(bool)]
    truth = judged[LABEL].astype(bool).to_numpy()
    flagged = detector.predict(judged)
    has_truth = len(judged) > 0
    metrics: dict[str, Any] = {
        "precision": _rate(precision_score, truth, flagged, has_truth),
        "recall": _rate(recall_score, truth, flagged, has_truth),
        "f1": _rate(f1_score, truth, flagged, has_truth),
        "train_rows": len(split.train),
        "eval_rows": len(split.evaluate),
        "eval_labelled_rows": len(judged),
        "train_label_rate": float(labelled_train[LABEL].mean()) if len(labelled_train) else None,
        "eval_label_rate": float(truth.mean()) if has_truth else None,
        "eval_flagged_rate": float(detector.predict(split.evaluate).mean()),
        **window_detection(judged, flagged),
    }
    detector.label_mode_ = _label_mode(labelled_train, judged)
    hour = pd.Timedelta(hours=1)
    detector.training_period_ = _period(
        split.train["event_hour"].min(), split.train["event_hour"].max() + hour
    )
    detector.evaluation_period_ = _period(split.split_at, split.evaluate["event_hour"].max() + hour)
    return detector, metrics, evaluation_fingerprint(split.evaluate)


def _rate(score, truth: np.ndarray, flagged: np.ndarray, has_truth: bool) -> float | None:
    return float(score(truth, flagged, zero_division=0)) if has_truth else None


def _label_mode(labelled_train: pd.DataFrame, judged: pd.DataFrame) -> str:
    if labelled_train[LABEL].astype(bool).any() and len(judged):
        return "labelled: thresholds chosen on labels, scored on labelled held-out hours"
    if len(judged):
        return "unsupervised: no anomaly among the training labels; scored on labelled hours"
    if len(labelled_train):
        return "unsupervised: labelled training hours but none held out; not scored"
    return "unsupervised: no labels; thresholds flag a fixed share of hours; not scored"


def champion_f1(detector: SensorAnomalyDetector, features: pd.DataFrame) -> float:
    """The detector's F1 on the labelled held-out hours of ``features`` (NaN without any)."""
    evaluate = split_by_time(features).evaluate
    judged = evaluate[evaluate[LABELLED].astype(bool)]
    if judged.empty:
        return float("nan")
    truth = judged[LABEL].astype(bool).to_numpy()
    return float(f1_score(truth, detector.predict(judged), zero_division=0))


def model_card_fields(
    detector: SensorAnomalyDetector,
    metrics: dict[str, Any],
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
        "label_mode": detector.label_mode_,
        "eval_fingerprint": eval_fingerprint,
        "thresholds": detector.thresholds_,
        "threshold_basis": detector.threshold_basis_,
    }


def _period(start: Any, end: Any) -> dict[str, str]:
    return {"start": pd.Timestamp(start).isoformat(), "end": pd.Timestamp(end).isoformat()}
