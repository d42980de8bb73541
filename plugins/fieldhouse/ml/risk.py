"""Transaction risk on ``ml_transaction_risk_features``: load, split, train, evaluate, score.

Fraud is rare (a fraction of a percent of transactions end in a chargeback),
so accuracy says nothing and ROC AUC flatters. The model is judged the way it
is used: a fixed share of transactions, the riskiest, is sent to review
(:data:`ALERT_RATE`); what matters is how much fraud that share catches
(recall) and how much of the share is fraud (precision). PR-AUC summarises
the ranking over all shares and decides promotion.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.pipeline import Pipeline

from fieldhouse.ml import tabular

if TYPE_CHECKING:
    import duckdb

FEATURE_TABLE = "lake.main.ml_transaction_risk_features"
SCORES_TABLE = "lake.main.fct_transaction_risk_scores"
KEY = "transaction_id"
TIME_COLUMN = "ts"
LABEL = "is_charged_back"
EVAL_FRACTION = 0.3
# The share of transactions the review team can look at: the top 1% of scores raise an alert.
ALERT_RATE = 0.01
MIN_POSITIVES = 5
"""Chargebacks the training period needs for a supervised fit; with fewer, the model
is an unsupervised one (an isolation forest) judged on whatever labels exist."""
MIN_ROWS = 50
# The promotion metric: higher is better.
METRIC = "pr_auc"

CATEGORICAL = ("merchant_category", "channel", "country")
NUMERIC = (
    "amount_to_usual_ratio",
    "log_amount",
    "hour_of_day",
    "is_foreign",
    "is_new_country",
    "is_new_device",
    "tx_count_1h",
    "tx_count_24h",
    "seconds_since_prev_tx",
)
FEATURES = (*CATEGORICAL, *NUMERIC)


def load_features(con: duckdb.DuckDBPyConnection, snapshot_id: int | None = None) -> pd.DataFrame:
    """The feature table at ``snapshot_id`` (default: latest), ordered by time.

    Raises:
        MissingFeatureTable: the finance marts have not been built yet.
    """
    return tabular.load_table(con, FEATURE_TABLE, (TIME_COLUMN, KEY), snapshot_id)


def labelled(features: pd.DataFrame) -> pd.DataFrame:
    """Transactions whose label is mature: a chargeback would have arrived by now."""
    if "label_complete" not in features.columns:
        raise tabular.NotEnoughData(f"{FEATURE_TABLE} has no label_complete column")
    return features[features["label_complete"].fillna(False).astype(bool)]


def held_out(features: pd.DataFrame, eval_fraction: float = EVAL_FRACTION) -> pd.DataFrame:
    """The mature transactions of the evaluation period (the latest ``eval_fraction``)."""
    return tabular.split_by_time(labelled(features), TIME_COLUMN, eval_fraction).evaluate


class TransactionRiskClassifier(ClassifierMixin, BaseEstimator):
    """Gradient-boosted trees on velocity, amount and novelty features.

    Trees fit the interactions that make a transaction odd (a large amount in a
    new country at night) without hand-made crosses, and take a missing
    ``seconds_since_prev_tx`` (a customer's first transaction) as its own case.
    Positives are up-weighted (``class_weight``) so that the few hundred
    chargebacks are not drowned out; that shifts the scores' scale, not their
    order, and alerts are raised by rank, so the scores are not read as
    probabilities.
    """

    def __init__(
        self,
        max_iter: int = 300,
        learning_rate: float = 0.05,
        max_leaf_nodes: int = 15,
        min_samples_leaf: int = 50,
        l2_regularization: float = 1.0,
        class_weight: str | dict | None = "balanced",
        random_state: int = 0,
    ) -> None:
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.class_weight = class_weight
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y: Any) -> TransactionRiskClassifier:
        classifier = HistGradientBoostingClassifier(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization,
            class_weight=self.class_weight,
            categorical_features=list(range(len(CATEGORICAL))),
            # Stop when a held-back tenth of the training rows stops improving.
            early_stopping=True,
            validation_fraction=0.1,
            n_iter_no_change=20,
            random_state=self.random_state,
        )
        self.pipeline_ = Pipeline(
            [("encode", tabular.category_encoder(CATEGORICAL, NUMERIC)), ("classify", classifier)]
        ).fit(tabular.tree_inputs(X, CATEGORICAL, NUMERIC), np.asarray(y, dtype=bool))
        self.classes_ = self.pipeline_.classes_
        self.feature_names_in_ = np.array(FEATURES, dtype=object)
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return self.pipeline_.predict_proba(tabular.tree_inputs(X, CATEGORICAL, NUMERIC))

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.pipeline_.predict(tabular.tree_inputs(X, CATEGORICAL, NUMERIC))

    def risk_score(self, X: pd.DataFrame) -> np.ndarray:
        """Higher is riskier; only the order of the scores is meaningful."""
        return self.predict_proba(X)[:, 1]


class UnsupervisedRisk(BaseEstimator):
    """An isolation forest on the same features, for transactions without chargebacks.

    Where an issuer sends no chargebacks (or too few to learn from), what is
    unusual for the book of transactions is the best available guess at risk:
    a large amount against the customer's usual, a burst of transactions, a new
    country or device. Categories are ordinal codes and missing numbers take the
    training median, as a forest cannot split on NaN.
    """

    def __init__(self, n_estimators: int = 200, random_state: int = 0) -> None:
        self.n_estimators = n_estimators
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y: Any = None) -> UnsupervisedRisk:
        from sklearn.ensemble import IsolationForest
        from sklearn.impute import SimpleImputer

        self.pipeline_ = Pipeline(
            [
                ("encode", tabular.category_encoder(CATEGORICAL, NUMERIC)),
                ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                (
                    "isolate",
                    IsolationForest(n_estimators=self.n_estimators, random_state=self.random_state),
                ),
            ]
        ).fit(tabular.tree_inputs(X, CATEGORICAL, NUMERIC))
        self.feature_names_in_ = np.array(FEATURES, dtype=object)
        return self

    def risk_score(self, X: pd.DataFrame) -> np.ndarray:
        """Higher is more unusual; only the order of the scores is meaningful."""
        return -self.pipeline_.score_samples(tabular.tree_inputs(X, CATEGORICAL, NUMERIC))


def logistic_baseline(random_state: int = 0) -> Pipeline:
    """A linear model on one-hot categories and standardised numbers, for comparison."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numbers = Pipeline(
        [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())],
    )
    encode = ColumnTransformer(
        [
            ("categories", OneHotEncoder(handle_unknown="ignore"), list(CATEGORICAL)),
            ("numbers", numbers, list(NUMERIC)),
        ]
    )
    classifier = LogisticRegression(
        class_weight="balanced", max_iter=1000, random_state=random_state
    )
    return Pipeline([("encode", encode), ("classify", classifier)])


def alert_threshold(scores: np.ndarray, alert_rate: float = ALERT_RATE) -> float:
    """The lowest score among the top ``alert_rate`` share (at least one row)."""
    count = max(1, math.ceil(alert_rate * len(scores)))
    return float(np.sort(scores)[::-1][count - 1])


def evaluate(scores: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """PR-AUC, and recall and precision when the top :data:`ALERT_RATE` of scores alert."""
    truth = np.asarray(truth, dtype=bool)
    count = max(1, math.ceil(ALERT_RATE * len(scores)))
    # Ranked, not thresholded: ties at the cut would otherwise alert more than the rate.
    top = np.argsort(-scores, kind="stable")[:count]
    caught = int(truth[top].sum())
    return {
        METRIC: float(average_precision_score(truth, scores)),
        "roc_auc": float(roc_auc_score(truth, scores)),
        "alert_rate": ALERT_RATE,
        "recall_at_alert_rate": caught / int(truth.sum()),
        "precision_at_alert_rate": caught / count,
        "base_rate": float(truth.mean()),
    }


def champion_score(classifier: Any, features: pd.DataFrame) -> float:
    """:data:`METRIC` of ``classifier`` on the evaluation period of ``features``.

    NaN when that period has no chargebacks (or nothing else) to rank.
    """
    rows = held_out(features)
    truth = rows[LABEL].astype(bool).to_numpy()
    if truth.all() or not truth.any():
        return float("nan")
    return float(average_precision_score(truth, classifier.risk_score(rows)))


def train_risk_model(
    features: pd.DataFrame,
    *,
    eval_fraction: float = EVAL_FRACTION,
    random_state: int = 0,
    **params: Any,
) -> tuple[Any, dict[str, Any], str]:
    """Fit on the earlier transactions, score the later ones.

    Supervised (gradient-boosted trees on mature transactions) when the training
    period has at least :data:`MIN_POSITIVES` chargebacks and other transactions;
    otherwise an :class:`UnsupervisedRisk` forest on every transaction of the
    period. Either is scored on the held-out period's mature transactions when
    they hold chargebacks and others (PR-AUC and the alert figures; a logistic
    regression's PR-AUC as ``baseline_pr_auc`` for the supervised one), else its
    metrics are null. The model's ``label_mode_`` says which case applied and
    goes on the card; ``alert_threshold_`` is the score at which
    :data:`ALERT_RATE` of the held-out transactions alert.

    Raises:
        NotEnoughData: fewer than :data:`MIN_ROWS` transactions to train on, or a
            feature empty in every training row.
    """
    rows = labelled(features)
    train_positives = 0
    if len(rows):
        split = tabular.split_by_time(rows, TIME_COLUMN, eval_fraction)
        train_positives = int(split.train[LABEL].astype(bool).sum())
    supervised = MIN_POSITIVES <= train_positives < len(split.train) if len(rows) else False
    if not supervised:
        # Without enough chargebacks, every transaction can be learnt from.
        split = tabular.split_by_time(features, TIME_COLUMN, eval_fraction)
    if len(split.train) < MIN_ROWS:
        raise tabular.NotEnoughData(
            f"{len(split.train)} transactions in the training period; need at least {MIN_ROWS}"
        )
    tabular.require_values(split.train, FEATURES, "training")
    if supervised:
        model: Any = TransactionRiskClassifier(random_state=random_state, **params)
        model.fit(split.train, split.train[LABEL].astype(bool).to_numpy())
    else:
        model = UnsupervisedRisk(random_state=random_state).fit(split.train)
    scores = model.risk_score(split.evaluate)
    judged = split.evaluate[split.evaluate["label_complete"].fillna(False).astype(bool)]
    truth = judged[LABEL].astype(bool).to_numpy()
    measurable = bool(truth.any() and not truth.all())

    metrics: dict[str, Any] = {
        METRIC: None,
        "train_rows": len(split.train),
        "eval_rows": len(split.evaluate),
        "train_positives": train_positives,
        "eval_positives": int(truth.sum()),
    }
    if measurable:
        judged_scores = model.risk_score(judged)
        metrics |= evaluate(judged_scores, truth)
        if supervised:
            train_truth = split.train[LABEL].astype(bool).to_numpy()
            baseline = logistic_baseline(random_state).fit(split.train, train_truth)
            metrics["baseline_pr_auc"] = float(
                average_precision_score(truth, baseline.predict_proba(judged)[:, 1])
            )
            metrics["train_base_rate"] = float(train_truth.mean())
    model.label_mode_ = _label_mode(supervised, measurable, train_positives, int(truth.sum()))
    model.alert_threshold_ = alert_threshold(scores)
    model.training_period_, model.evaluation_period_ = tabular.training_periods(split, TIME_COLUMN)
    fingerprint = tabular.evaluation_fingerprint(split.evaluate, KEY, (LABEL,))
    return model, metrics, fingerprint


def _label_mode(
    supervised: bool, measurable: bool, train_positives: int, eval_positives: int
) -> str:
    fit = (
        f"supervised on {train_positives} chargebacks"
        if supervised
        else f"unsupervised: {train_positives} chargebacks in training, fewer than {MIN_POSITIVES}"
    )
    judged = (
        f"scored on {eval_positives} held-out chargebacks"
        if measurable
        else "not scored: the held-out period has no chargebacks and other transactions"
    )
    return f"{fit}; {judged}"


def model_card_fields(
    classifier: TransactionRiskClassifier,
    metrics: dict[str, float],
    eval_fingerprint: str,
    lake_snapshot_id: int,
    features: pd.DataFrame,
) -> dict[str, Any]:
    """What :func:`fieldhouse.ml.registry.register` needs to record about a classifier."""
    return {
        "metrics": metrics,
        "promotion_metric": {"name": METRIC, "higher_is_better": True},
        "features": tabular.feature_types(features, FEATURES),
        "categorical_features": list(CATEGORICAL),
        "alert_rate": ALERT_RATE,
        "alert_threshold": classifier.alert_threshold_,
        "training_period": classifier.training_period_,
        "evaluation_period": classifier.evaluation_period_,
        "training_rows": "label_complete, split by ts",
        "lake_snapshot_id": lake_snapshot_id,
        "source_table": FEATURE_TABLE,
        "label": LABEL,
        "label_mode": classifier.label_mode_,
        "eval_fingerprint": eval_fingerprint,
    }


def scores(
    classifier: TransactionRiskClassifier,
    model_card: dict[str, Any],
    features: pd.DataFrame,
    scored_at: pd.Timestamp,
) -> pd.DataFrame:
    """One row per transaction of ``features`` for :data:`SCORES_TABLE`.

    ``is_alert`` uses the threshold on the model's card, fixed when it was
    evaluated, so the alert rate of new data shows whether the scores drift.
    """
    risk = classifier.risk_score(features)
    return pd.DataFrame(
        {
            KEY: features[KEY].to_numpy(),
            "model_version": model_card["version"],
            "risk_score": risk,
            "is_alert": risk >= float(model_card["alert_threshold"]),
            "scored_at": scored_at,
        }
    )
