"""Delivery-time ranges on ``ml_delivery_time_features``: load, split, train, evaluate, score.

Per shipment, three quantile regressions give a range of delivery days: the
10th, 50th and 90th percentiles, so "2 to 5 days, most likely 3" can be shown
when the order is placed. Only what is known then is used: where it goes, with
which carrier, when, and how big the order is. The scan history (an exception,
the delivery time) is the outcome, never an input.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.metrics import mean_absolute_error, mean_pinball_loss
from sklearn.pipeline import Pipeline

from fieldhouse.ml import tabular

if TYPE_CHECKING:
    import duckdb

FEATURE_TABLE = "lake.main.ml_delivery_time_features"
SCORES_TABLE = "lake.main.fct_delivery_time_scores"
KEY = "shipment_id"
TIME_COLUMN = "ordered_at"
TARGET = "delivery_days"
QUANTILES = (0.1, 0.5, 0.9)
EVAL_FRACTION = 0.3
# Fewer delivered shipments than this cannot say much about a 10th percentile.
MIN_ROWS = 200

CATEGORICAL = ("destination_country", "carrier")
NUMERIC = (
    "is_domestic",
    "order_month",
    "order_day_of_week",
    "order_hour",
    "item_count",
    "amount",
)
FEATURES = (*CATEGORICAL, *NUMERIC)
# Known only once the shipment is under way or done: inputs from these would
# leak the outcome into a prediction made at order time.
EXCLUDED = ("had_exception", "delivered_at", "is_delivered", "delivery_days")
# The promotion metric: lower is better.
METRIC = "mean_pinball_loss"


def load_features(con: duckdb.DuckDBPyConnection, snapshot_id: int | None = None) -> pd.DataFrame:
    """The feature table at ``snapshot_id`` (default: latest), ordered by order time.

    Raises:
        MissingFeatureTable: the commerce marts have not been built yet.
    """
    return tabular.load_table(con, FEATURE_TABLE, (TIME_COLUMN, KEY), snapshot_id)


def labelled(features: pd.DataFrame) -> pd.DataFrame:
    """The shipments to learn from: delivered, with the outcome final."""
    if "label_complete" not in features.columns:
        raise tabular.NotEnoughData(f"{FEATURE_TABLE} has no label_complete column")
    known = features["label_complete"].fillna(False).astype(bool)
    delivered = features["is_delivered"].fillna(False).astype(bool)
    return features[known & delivered & features[TARGET].notna()]


def held_out(features: pd.DataFrame, eval_fraction: float = EVAL_FRACTION) -> pd.DataFrame:
    """The labelled shipments of the evaluation period (the latest ``eval_fraction``)."""
    return tabular.split_by_time(labelled(features), TIME_COLUMN, eval_fraction).evaluate


def quantile_name(quantile: float) -> str:
    """``p10`` for 0.1."""
    return f"p{round(quantile * 100)}"


def quantile_column(quantile: float) -> str:
    """``p10_delivery_days`` for 0.1: the score table's column of a quantile."""
    return f"{quantile_name(quantile)}_{TARGET}"


class DeliveryTimeEstimator(BaseEstimator):
    """One gradient-boosted quantile regression per quantile, on order-time features.

    Country and carrier are native categorical features: the trees split on
    sets of them, which suits "these countries clear customs slowly". The
    quantiles are fitted separately, so for a row they can cross; predictions
    are sorted per row, which keeps each model's rank order and gives
    p10 <= p50 <= p90.
    """

    def __init__(
        self,
        quantiles: tuple[float, ...] = QUANTILES,
        max_iter: int = 100,
        learning_rate: float = 0.05,
        max_leaf_nodes: int = 15,
        min_samples_leaf: int = 50,
        random_state: int = 0,
    ) -> None:
        self.quantiles = quantiles
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y: Any) -> DeliveryTimeEstimator:
        if list(self.quantiles) != sorted(self.quantiles):
            raise ValueError(f"quantiles must be ascending, got {self.quantiles}")
        inputs = tabular.tree_inputs(X, CATEGORICAL, NUMERIC)
        target = np.asarray(y, dtype=float)
        self.models_ = [self._pipeline(q).fit(inputs, target) for q in self.quantiles]
        self.feature_names_in_ = np.array(FEATURES, dtype=object)
        return self

    def predict_quantiles(self, X: pd.DataFrame) -> np.ndarray:
        """Delivery days, one column per quantile, ascending in every row, never negative."""
        inputs = tabular.tree_inputs(X, CATEGORICAL, NUMERIC)
        predictions = np.column_stack([model.predict(inputs) for model in self.models_])
        return np.clip(np.sort(predictions, axis=1), 0.0, None)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """The middle quantile (the median with the default quantiles)."""
        return self.predict_quantiles(X)[:, len(self.quantiles) // 2]

    def _pipeline(self, quantile: float) -> Pipeline:
        regressor = HistGradientBoostingRegressor(
            loss="quantile",
            quantile=quantile,
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf,
            categorical_features=list(range(len(CATEGORICAL))),
            early_stopping=False,
            random_state=self.random_state,
        )
        return Pipeline(
            [("encode", tabular.category_encoder(CATEGORICAL, NUMERIC)), ("regress", regressor)]
        )


def evaluate(
    estimator: DeliveryTimeEstimator, rows: pd.DataFrame, baseline: np.ndarray | None = None
) -> dict[str, float]:
    """Pinball loss per quantile and averaged, p10-p90 coverage and p50 MAE on ``rows``.

    ``baseline`` (one value per quantile) adds the mean pinball loss of
    predicting those same days for every shipment, the bar a model must clear.
    """
    truth = rows[TARGET].astype(float).to_numpy()
    predicted = estimator.predict_quantiles(rows)
    quantiles = estimator.quantiles
    metrics = {
        f"pinball_loss_{quantile_name(q)}": float(
            mean_pinball_loss(truth, predicted[:, i], alpha=q)
        )
        for i, q in enumerate(quantiles)
    }
    metrics[METRIC] = float(np.mean(list(metrics.values())))
    low, high = predicted[:, 0], predicted[:, -1]
    middle = predicted[:, len(quantiles) // 2]
    metrics |= {
        "coverage": float(np.mean((truth >= low) & (truth <= high))),
        "nominal_coverage": float(quantiles[-1] - quantiles[0]),
        "mean_interval_days": float(np.mean(high - low)),
        "mae_p50": float(mean_absolute_error(truth, middle)),
    }
    if baseline is not None:
        metrics["baseline_mean_pinball_loss"] = float(
            np.mean(
                [
                    mean_pinball_loss(truth, np.full(len(truth), value), alpha=q)
                    for q, value in zip(quantiles, baseline, strict=True)
                ]
            )
        )
    return metrics


def champion_score(estimator: DeliveryTimeEstimator, features: pd.DataFrame) -> float:
    """:data:`METRIC` of ``estimator`` on the evaluation period of ``features``."""
    return evaluate(estimator, held_out(features))[METRIC]


def train_delivery_model(
    features: pd.DataFrame,
    *,
    eval_fraction: float = EVAL_FRACTION,
    random_state: int = 0,
    **params: Any,
) -> tuple[DeliveryTimeEstimator, dict[str, float], str]:
    """Fit on the earlier delivered shipments, score the later ones.

    Returns the estimator, its metrics on the held-out period and the evaluation
    data's fingerprint. ``training_period_`` and ``evaluation_period_`` on the
    estimator give the [start, end) order times of each part.

    Raises:
        NotEnoughData: fewer than :data:`MIN_ROWS` delivered shipments with a
            final outcome, or an empty part after the split.
    """
    rows = labelled(features)
    if len(rows) < MIN_ROWS:
        raise tabular.NotEnoughData(
            f"{len(rows)} delivered shipments with a final outcome "
            f"(of {len(features)} shipments); need at least {MIN_ROWS}"
        )
    split = tabular.split_by_time(rows, TIME_COLUMN, eval_fraction)
    if split.train.empty or split.evaluate.empty:
        raise tabular.NotEnoughData(
            f"split at {split.split_at}: {len(split.train)} training and "
            f"{len(split.evaluate)} evaluation shipments"
        )
    tabular.require_values(split.train, FEATURES, "training")
    estimator = DeliveryTimeEstimator(random_state=random_state, **params)
    estimator.fit(split.train, split.train[TARGET])
    baseline = np.quantile(split.train[TARGET].astype(float), estimator.quantiles)
    metrics = {
        **evaluate(estimator, split.evaluate, baseline),
        "train_rows": len(split.train),
        "eval_rows": len(split.evaluate),
        "eval_mean_delivery_days": float(split.evaluate[TARGET].mean()),
    }
    estimator.training_period_, estimator.evaluation_period_ = tabular.training_periods(
        split, TIME_COLUMN
    )
    fingerprint = tabular.evaluation_fingerprint(split.evaluate, KEY, (TARGET,))
    return estimator, metrics, fingerprint


def model_card_fields(
    estimator: DeliveryTimeEstimator,
    metrics: dict[str, float],
    eval_fingerprint: str,
    lake_snapshot_id: int,
    features: pd.DataFrame,
) -> dict[str, Any]:
    """What :func:`fieldhouse.ml.registry.register` needs to record about an estimator."""
    return {
        "metrics": metrics,
        "promotion_metric": {"name": METRIC, "higher_is_better": False},
        "features": tabular.feature_types(features, FEATURES),
        "categorical_features": list(CATEGORICAL),
        "excluded_columns": list(EXCLUDED),
        "quantiles": list(estimator.quantiles),
        "training_period": estimator.training_period_,
        "evaluation_period": estimator.evaluation_period_,
        "training_rows": "label_complete and is_delivered, split by ordered_at",
        "lake_snapshot_id": lake_snapshot_id,
        "source_table": FEATURE_TABLE,
        "label": TARGET,
        "eval_fingerprint": eval_fingerprint,
    }


def scores(
    estimator: DeliveryTimeEstimator,
    model_card: dict[str, Any],
    features: pd.DataFrame,
    scored_at: pd.Timestamp,
) -> pd.DataFrame:
    """One row per shipment of ``features`` (delivered or not) for :data:`SCORES_TABLE`."""
    predicted = estimator.predict_quantiles(features)
    frame = pd.DataFrame(
        {KEY: features[KEY].to_numpy(), "model_version": model_card["version"]},
    )
    for i, quantile in enumerate(estimator.quantiles):
        frame[quantile_column(quantile)] = predicted[:, i]
    frame["scored_at"] = scored_at
    return frame
