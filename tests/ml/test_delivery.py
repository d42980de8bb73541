"""The delivery-time ranges: quantiles on order-time features, registry flow, scores in the lake."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fieldhouse.ml import delivery, registry, tabular
from fieldhouse.ml.training import DELIVERY_TIME_MODEL, retrain
from fieldhouse.storage.objects import ObjectStore

START = pd.Timestamp("2026-09-01", tz="UTC")
# Days in transit before the carrier's factor; abroad adds customs.
BASE_DAYS = {"US": 2.0, "CA": 3.5, "DE": 4.0, "JP": 5.5, "BR": 6.5}
CARRIER_FACTORS = {"express": 0.6, "standard": 1.0, "economy": 1.4}
CURRENCIES = {"US": "USD", "CA": "CAD", "DE": "EUR", "JP": "JPY", "BR": "BRL"}
CUSTOMS_DAYS = 1.5
# The outcome of an order is final this long after it was placed.
MATURITY = pd.Timedelta(days=14)


def shipments(n: int = 3000, days: int = 60, seed: int = 0) -> pd.DataFrame:
    """Rows of the feature table's contract: days depend on country and carrier, with noise."""
    rng = np.random.default_rng(seed)
    ordered_at = START + pd.to_timedelta(np.sort(rng.uniform(0, days * 86_400, n)), unit="s")
    country = rng.choice(list(BASE_DAYS), n, p=[0.4, 0.15, 0.2, 0.1, 0.15])
    carrier = rng.choice(list(CARRIER_FACTORS), n, p=[0.2, 0.5, 0.3])
    domestic = country == "US"
    expected = np.array([BASE_DAYS[c] for c in country]) * np.array(
        [CARRIER_FACTORS[c] for c in carrier]
    ) + np.where(domestic, 0.0, CUSTOMS_DAYS)
    taken = expected * rng.lognormal(0.0, 0.25, n)
    delivered_at = ordered_at + pd.to_timedelta(taken * 86_400, unit="s")
    now = ordered_at.max()
    delivered = np.asarray(delivered_at <= now)
    items = rng.integers(1, 6, n)
    return pd.DataFrame(
        {
            "shipment_id": [f"S{seed}-{i:06d}" for i in range(n)],
            "order_id": [f"O{seed}-{i:06d}" for i in range(n)],
            "customer_id": [f"C{c:04d}" for c in rng.integers(0, 500, n)],
            "ordered_at": ordered_at,
            "order_date": ordered_at.date,
            "destination_country": country,
            "carrier": carrier,
            "is_domestic": domestic,
            "order_month": ordered_at.month,
            "order_day_of_week": ordered_at.dayofweek + 1,
            "order_hour": ordered_at.hour,
            "item_count": items,
            "amount": np.round(items * rng.gamma(3.0, 10.0, n), 2),
            "currency": [CURRENCIES[c] for c in country],
            "delivered_at": delivered_at.where(delivered),
            "delivery_days": np.where(delivered, taken, np.nan),
            "is_delivered": delivered,
            "had_exception": rng.random(n) < 0.05,
            "label_complete": np.asarray(ordered_at < now - MATURITY),
        }
    )


@pytest.fixture(scope="module")
def features() -> pd.DataFrame:
    return shipments()


@pytest.fixture(scope="module")
def trained(features):
    return delivery.train_delivery_model(features, random_state=0)


def test_ranges_cover_about_80_percent_and_beat_a_constant(trained) -> None:
    _, metrics, _ = trained
    assert 0.6 <= metrics["coverage"] <= 0.95, metrics
    assert metrics["mean_pinball_loss"] < 0.7 * metrics["baseline_mean_pinball_loss"], metrics
    assert metrics["pinball_loss_p50"] > 0 and metrics["mae_p50"] > 0
    assert metrics["mean_pinball_loss"] == pytest.approx(
        np.mean([metrics[f"pinball_loss_p{q}"] for q in (10, 50, 90)])
    )


def test_quantiles_are_ordered_for_every_shipment(features, trained) -> None:
    estimator, _, _ = trained
    predicted = estimator.predict_quantiles(features)

    assert predicted.shape == (len(features), 3)
    assert (predicted[:, 0] <= predicted[:, 1]).all() and (predicted[:, 1] <= predicted[:, 2]).all()
    assert (predicted >= 0).all()
    # Farther and slower means later: Brazil by economy after the US by express.
    far = predicted[(features["destination_country"] == "BR") & (features["carrier"] == "economy")]
    near = predicted[(features["destination_country"] == "US") & (features["carrier"] == "express")]
    assert far[:, 1].mean() > near[:, 1].mean() + 3


def test_only_delivered_final_outcomes_are_learnt_and_split_by_time(features, trained) -> None:
    estimator, metrics, _ = trained
    rows = delivery.labelled(features)
    split = tabular.split_by_time(rows, delivery.TIME_COLUMN, delivery.EVAL_FRACTION)

    assert rows["label_complete"].all() and rows["is_delivered"].all()
    assert metrics["train_rows"] + metrics["eval_rows"] == len(rows) < len(features)
    assert split.train["ordered_at"].max() < split.evaluate["ordered_at"].min()
    assert estimator.training_period_["end"] == estimator.evaluation_period_["start"]


def test_outcome_columns_are_not_inputs(features, trained) -> None:
    estimator, _, _ = trained
    leaked = features.assign(had_exception=True, delivered_at=pd.NaT, delivery_days=99.0)
    np.testing.assert_array_equal(
        estimator.predict_quantiles(leaked), estimator.predict_quantiles(features)
    )
    assert not set(delivery.EXCLUDED) & set(delivery.FEATURES)


def test_unseen_country_is_still_ranged(features, trained) -> None:
    estimator, _, _ = trained
    novel = features.head(5).assign(destination_country="ZZ", carrier=None)
    predicted = estimator.predict_quantiles(novel)
    assert np.isfinite(predicted).all() and (np.diff(predicted, axis=1) >= 0).all()


def test_too_few_delivered_shipments_is_a_clear_error(features) -> None:
    with pytest.raises(tabular.NotEnoughData, match="delivered shipments with a final outcome"):
        delivery.train_delivery_model(features.assign(label_complete=False))


@pytest.mark.integration
def test_retraining_registers_keeps_replaces_and_scores(
    store: ObjectStore, minio_server, features
) -> None:
    from fieldhouse.lake import duckdb_connect

    with duckdb_connect(minio_server) as con:
        con.register("frame", features)
        con.execute(f"create or replace table {delivery.FEATURE_TABLE} as select * from frame")

    # A champion that learnt from shuffled delivery days: any real challenger beats it.
    shuffled = features.assign(
        delivery_days=features["delivery_days"].sample(frac=1, random_state=1).to_numpy()
    )
    weak, weak_metrics, weak_fingerprint = delivery.train_delivery_model(shuffled)
    weak_card = registry.register(
        DELIVERY_TIME_MODEL,
        weak,
        delivery.model_card_fields(weak, weak_metrics, weak_fingerprint, 0, shuffled),
    )
    registry.promote_if_better(DELIVERY_TIME_MODEL, weak_card["version"], delivery.METRIC)

    first = retrain(minio_server, DELIVERY_TIME_MODEL, margin=0.01)
    assert first["promoted"] and "challenger wins" in first["reason"], first["reason"]
    assert "lower is better" in first["reason"]
    assert registry.champion_version(DELIVERY_TIME_MODEL) == first["version"]
    card = registry.card(DELIVERY_TIME_MODEL)
    assert card["metrics"] == pytest.approx(first["metrics"])
    assert card["lake_snapshot_id"] == first["lake_snapshot_id"]
    assert set(card["features"]) == set(delivery.FEATURES)
    assert card["parameters"]["max_iter"] == 100
    assert card["training_period"]["end"] == card["evaluation_period"]["start"]
    decision = registry.decision(DELIVERY_TIME_MODEL, first["version"])
    assert decision["champion_version"] == weak_card["version"]

    # Same snapshot and seed: the challenger ties the champion, which stays.
    second = retrain(minio_server, DELIVERY_TIME_MODEL, margin=0.01)
    assert not second["promoted"] and "not better" in second["reason"], second["reason"]
    assert registry.champion_version(DELIVERY_TIME_MODEL) == first["version"]

    # The champion already scored these very feature rows: nothing is scored again.
    assert second["scores"] == {
        "table": delivery.SCORES_TABLE,
        "rows": len(features),
        "scored": 0,
        "kept": len(features),
        "model_version": first["version"],
    }
    with duckdb_connect(minio_server) as con:
        scored = con.execute(f"select * from {delivery.SCORES_TABLE}").df()
    assert list(scored.columns) == [
        "shipment_id",
        "model_version",
        "p10_delivery_days",
        "p50_delivery_days",
        "p90_delivery_days",
        "scored_at",
        "feature_hash",
    ]
    assert set(scored["shipment_id"]) == set(features["shipment_id"])
    assert (scored["model_version"] == first["version"]).all()
    assert (scored["p10_delivery_days"] <= scored["p50_delivery_days"]).all()
    assert (scored["p50_delivery_days"] <= scored["p90_delivery_days"]).all()


@pytest.mark.integration
def test_a_missing_feature_table_is_named(minio_server) -> None:
    from fieldhouse.lake import duckdb_connect

    with (
        duckdb_connect(minio_server) as con,
        pytest.raises(tabular.MissingFeatureTable, match="no_such_features"),
    ):
        tabular.load_table(con, "lake.main.no_such_features", ("shipment_id",))


@pytest.mark.integration
def test_a_rerun_of_a_run_reuses_its_version_and_the_window_limits_training(
    store: ObjectStore, minio_server, features
) -> None:
    from fieldhouse.lake import duckdb_connect

    with duckdb_connect(minio_server) as con:
        con.register("frame", features)
        con.execute(f"create or replace table {delivery.FEATURE_TABLE} as select * from frame")

    key = "2026-11-23T03:00:00+00:00"
    first = retrain(minio_server, DELIVERY_TIME_MODEL, run_key=key, window_days=40)
    again = retrain(minio_server, DELIVERY_TIME_MODEL, run_key=key, window_days=40)

    # Cleared and rerun: the same lake snapshot and window give back the first version.
    assert again["rerun"] and again["version"] == first["version"]
    assert again["reason"] == first["reason"]
    assert registry.versions(DELIVERY_TIME_MODEL) == [first["version"]]
    # The window: only the latest 40 of the 60 days were read; scores still cover every row.
    card = registry.card(DELIVERY_TIME_MODEL, first["version"])
    newest = features["ordered_at"].max()
    assert pd.Timestamp(card["training_period"]["start"]) > newest - pd.Timedelta(days=40)
    assert (card["run_key"], card["window_days"]) == (key, 40)
    assert first["scores"]["rows"] == len(features)

    # Another run (another logical date) trains a new version from the same data.
    other = retrain(minio_server, DELIVERY_TIME_MODEL, run_key="2026-11-24T03:00:00+00:00")
    assert other["version"] != first["version"] and "rerun" not in other
