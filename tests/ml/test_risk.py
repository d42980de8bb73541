"""The transaction risk scorer: ranking on rare chargebacks, registry flow, scores in the lake."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fieldhouse.ml import registry, risk, tabular
from fieldhouse.ml.training import TRANSACTION_RISK_MODEL, retrain
from fieldhouse.storage.objects import ObjectStore

START = pd.Timestamp("2026-10-01", tz="UTC")
CATEGORIES = ("grocery", "fuel", "electronics", "travel", "restaurants")
# A chargeback arrives within this long of its transaction, so older labels are final.
MATURITY = pd.Timedelta(days=5)


def transactions(
    n: int = 15_000, days: int = 30, seed: int = 0, fraud_rate: float = 0.01
) -> pd.DataFrame:
    """Rows of the feature table's contract; fraud is new devices and countries, large
    amounts against the customer's usual, bursts, night hours and electronics."""
    rng = np.random.default_rng(seed)
    ts = START + pd.to_timedelta(np.sort(rng.uniform(0, days * 86_400, n)), unit="s")
    fraud = rng.random(n) < fraud_rate

    def chance(legit: float, fraudulent: float) -> np.ndarray:
        return rng.random(n) < np.where(fraud, fraudulent, legit)

    hour = np.where(fraud & chance(0.0, 0.5), rng.integers(0, 6, n), ts.hour.to_numpy())
    is_foreign = chance(0.05, 0.4)
    is_new_country = is_foreign & chance(0.2, 0.8)
    ratio = rng.lognormal(np.where(fraud, 1.2, 0.0), 0.6)
    tx_count_1h = rng.poisson(np.where(fraud, 1.5, 0.3))
    category = np.where(fraud & chance(0.0, 0.4), "electronics", rng.choice(CATEGORIES, n))
    amount = np.round(40 * ratio, 2)
    return pd.DataFrame(
        {
            "transaction_id": [f"T{seed}-{i:07d}" for i in range(n)],
            "customer_id": [f"C{c:04d}" for c in rng.integers(0, 2000, n)],
            "ts": ts,
            "amount": amount,
            "currency": "USD",
            "merchant_category": category,
            "channel": rng.choice(["card_present", "online"], n),
            "country": np.where(is_foreign, rng.choice(["GB", "FR", "NG"], n), "US"),
            "home_country": "US",
            "hour_of_day": hour,
            "is_foreign": is_foreign,
            "is_new_country": is_new_country,
            "is_new_device": chance(0.03, 0.5),
            "amount_to_usual_ratio": ratio,
            "log_amount": np.log1p(amount),
            "tx_count_1h": tx_count_1h,
            "tx_count_24h": tx_count_1h + rng.poisson(2.0, n),
            # A customer's first transaction has no previous one.
            "seconds_since_prev_tx": np.where(
                rng.random(n) < 0.05, np.nan, rng.exponential(20_000, n)
            ),
            "is_charged_back": fraud,
            "label_complete": np.asarray(ts < ts.max() - MATURITY),
        }
    )


@pytest.fixture(scope="module")
def features() -> pd.DataFrame:
    return transactions()


@pytest.fixture(scope="module")
def trained(features):
    return risk.train_risk_model(features, random_state=0)


def test_ranking_finds_fraud_far_above_the_base_rate(trained) -> None:
    _, metrics, _ = trained
    rate = metrics["base_rate"]
    assert 0 < rate < 0.05, metrics
    assert metrics["pr_auc"] > 10 * rate, metrics
    # Alerting on 1% of transactions at random would catch 1% of the fraud.
    assert metrics["recall_at_alert_rate"] > 10 * risk.ALERT_RATE, metrics
    assert metrics["precision_at_alert_rate"] > 10 * rate, metrics
    assert metrics["alert_rate"] == risk.ALERT_RATE
    assert 0 < metrics["baseline_pr_auc"] <= 1


def test_the_alert_threshold_flags_the_alert_rate_of_held_out_rows(features, trained) -> None:
    classifier, metrics, _ = trained
    evaluate = risk.held_out(features)
    flagged = classifier.risk_score(evaluate) >= classifier.alert_threshold_

    assert len(evaluate) == metrics["eval_rows"]
    assert flagged.sum() == pytest.approx(risk.ALERT_RATE * len(evaluate), abs=2)


def test_only_mature_labels_are_learnt_and_split_by_time(features, trained) -> None:
    classifier, metrics, _ = trained
    rows = risk.labelled(features)
    split = tabular.split_by_time(rows, risk.TIME_COLUMN, risk.EVAL_FRACTION)

    assert metrics["train_rows"] + metrics["eval_rows"] == len(rows) < len(features)
    assert split.train["ts"].max() < split.evaluate["ts"].min()
    assert metrics["eval_positives"] == int(split.evaluate["is_charged_back"].sum())
    assert classifier.training_period_["end"] == classifier.evaluation_period_["start"]


def test_training_is_deterministic(features, trained) -> None:
    classifier, metrics, fingerprint = trained
    again, metrics_again, fingerprint_again = risk.train_risk_model(features, random_state=0)

    assert metrics_again == metrics and fingerprint_again == fingerprint
    np.testing.assert_array_equal(again.risk_score(features), classifier.risk_score(features))


def test_no_chargebacks_to_score_on_leaves_the_model_unjudged(features) -> None:
    late = features["ts"] >= features["ts"].quantile(0.5)
    without_late_fraud = features.assign(is_charged_back=features["is_charged_back"] & ~late)
    model, metrics, _ = risk.train_risk_model(without_late_fraud)

    assert isinstance(model, risk.TransactionRiskClassifier)
    assert metrics["pr_auc"] is None and metrics["eval_positives"] == 0
    assert model.label_mode_.endswith(
        "not scored: the held-out period has no chargebacks and other transactions"
    )


def test_without_chargebacks_the_model_is_unsupervised_and_scored_on_what_exists(
    features,
) -> None:
    # Every label final, chargebacks only in the held-out (latest 30%) period.
    early = features["ts"] < features["ts"].quantile(0.7)
    without_early_fraud = features.assign(
        is_charged_back=features["is_charged_back"] & ~early, label_complete=True
    )
    model, metrics, _ = risk.train_risk_model(without_early_fraud)

    assert isinstance(model, risk.UnsupervisedRisk)
    assert model.label_mode_.startswith("unsupervised: 0 chargebacks in training")
    assert metrics["eval_positives"] > 0
    # Unusual transactions are riskier ones: better than ranking at random.
    assert metrics["pr_auc"] > metrics["base_rate"], metrics

    none_at_all = features.assign(is_charged_back=False)
    model, metrics, _ = risk.train_risk_model(none_at_all)
    assert isinstance(model, risk.UnsupervisedRisk) and metrics["pr_auc"] is None
    assert len(model.risk_score(features)) == len(features)


@pytest.mark.integration
def test_retraining_registers_keeps_replaces_and_scores(
    store: ObjectStore, minio_server, features
) -> None:
    from fieldhouse.lake import duckdb_connect

    with duckdb_connect(minio_server) as con:
        con.register("frame", features)
        con.execute(f"create or replace table {risk.FEATURE_TABLE} as select * from frame")

    # A champion that learnt from shuffled labels ranks no better than chance.
    shuffled = features.assign(
        is_charged_back=features["is_charged_back"].sample(frac=1, random_state=1).to_numpy()
    )
    weak, weak_metrics, weak_fingerprint = risk.train_risk_model(shuffled)
    weak_card = registry.register(
        TRANSACTION_RISK_MODEL,
        weak,
        risk.model_card_fields(weak, weak_metrics, weak_fingerprint, 0, shuffled),
    )
    registry.promote_if_better(TRANSACTION_RISK_MODEL, weak_card["version"], risk.METRIC)

    first = retrain(minio_server, TRANSACTION_RISK_MODEL, margin=0.01)
    assert first["promoted"] and "challenger wins" in first["reason"], first["reason"]
    card = registry.card(TRANSACTION_RISK_MODEL)
    assert card["version"] == first["version"]
    assert card["metrics"] == pytest.approx(first["metrics"])
    assert card["alert_rate"] == risk.ALERT_RATE and card["alert_threshold"] > 0
    assert set(card["features"]) == set(risk.FEATURES)
    assert card["eval_fingerprint"] != weak_card["eval_fingerprint"]

    second = retrain(minio_server, TRANSACTION_RISK_MODEL, margin=0.01)
    assert not second["promoted"] and "not better" in second["reason"], second["reason"]
    assert registry.champion_version(TRANSACTION_RISK_MODEL) == first["version"]

    # The kept champion had scored these very rows: none is scored again.
    assert (second["scores"]["rows"], second["scores"]["scored"]) == (len(features), 0)
    with duckdb_connect(minio_server) as con:
        scored = con.execute(f"select * from {risk.SCORES_TABLE}").df()
    assert list(scored.columns) == [
        "transaction_id",
        "model_version",
        "risk_score",
        "is_alert",
        "scored_at",
        "feature_hash",
    ]
    assert len(scored) == scored["transaction_id"].nunique() == len(features)
    assert (scored["model_version"] == first["version"]).all()
    assert scored["is_alert"].eq(scored["risk_score"] >= card["alert_threshold"]).all()
    assert 0 < scored["is_alert"].mean() < 5 * risk.ALERT_RATE
