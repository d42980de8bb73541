"""The commerce and finance marts on ingested data, checked against pandas and the labels."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from fieldhouse.config import StorageSettings
from fieldhouse.contracts.contract import load_contracts
from fieldhouse.ingest.feeds import ingest_dataset_hour, ingest_source
from fieldhouse.ingest.sources import COMMERCE, FINANCE, CommerceRunOptions, FinanceRunOptions
from fieldhouse.storage.keys import (
    COMMERCE_DELIVERY_LABELS,
    COMMERCE_ORDERS,
    COMMERCE_SHIPMENT_EVENTS,
    FINANCE_CHARGEBACKS,
    FINANCE_TRANSACTION_LABELS,
    FINANCE_TRANSACTIONS,
    Dataset,
    Interval,
    LandingArea,
)
from fieldhouse.storage.objects import ObjectStore
from fieldhouse.storage.parquet import from_parquet_bytes
from tests.zones import empty_zones

pytestmark = pytest.mark.integration

# Commerce: long enough for most shipments of the first week to be delivered.
# Finance: longer than the 21-day chargeback horizon, so some labels are final.
# (Every hour of scans replays the 19 days of orders before it, which makes a
# commerce hour the slowest to ingest.)
COMMERCE_WINDOW = Interval(datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 12, tzinfo=UTC))
FINANCE_WINDOW = Interval(datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 25, tzinfo=UTC))
COMMERCE_OPTIONS = CommerceRunOptions(seed=11, include_landing=False, orders_per_hour=10.0)
FINANCE_OPTIONS = FinanceRunOptions(seed=5, include_landing=False)
# The project's defaults (dbt_project.yml vars).
DELIVERY_WINDOW_DAYS = 28
LATE_AFTER_DAYS = 7
TOLERANCE = 1e-9
MARTS = (
    "fct_delivery_times_by_country",
    "ml_delivery_time_features",
    "fct_transactions",
    "ml_transaction_risk_features",
    "dim_customers",
)
# Each mart's key: rows are compared in this order.
MART_KEYS = {
    "fct_delivery_times_by_country": ["source", "destination_country", "carrier"],
    "ml_delivery_time_features": ["source", "shipment_id"],
    "fct_transactions": ["source", "transaction_id"],
    "ml_transaction_risk_features": ["source", "transaction_id"],
    "dim_customers": ["source", "customer_id"],
}
# A second source beside the simulator: files landed through the platform's own
# contracts, whose rows carry the contract's name as their source. The ERP ships to
# Germany with the shop's carrier, as the simulator does; the bank has a customer
# CUST-00001, as the simulated issuer does. Landed in an hour after both windows.
LANDED_HOUR = Interval.parse("2026-03-26T00:00:00+00:00")
LANDED_INTO = {
    "fct_delivery_times_by_country": "erp_shipments",
    "ml_delivery_time_features": "erp_shipments",
    "fct_transactions": "finance_transactions",
    "ml_transaction_risk_features": "finance_transactions",
    "dim_customers": "finance_transactions",
}
LANDED = {
    "erp_shipments": (
        "shipment_id,order_id,destination_country,carrier,ordered_at,delivered_at\n"
        "ERP-1,PO-1,DE,swiftpost,2026-03-01T08:00:00Z,2026-03-04T08:00:00Z\n"
        "ERP-2,PO-2,DE,swiftpost,2026-03-02T08:00:00Z,2026-03-08T20:00:00Z\n"
        "ERP-3,PO-3,NG,,2026-03-03T08:00:00Z,2026-03-20T08:00:00Z\n"
    ),
    "finance_transactions": (
        "transaction_id,customer_id,ts,amount,currency,merchant_category,channel,country,"
        "device_id\n"
        "BANK-1,CUST-00001,2026-03-03T10:00:00Z,25.00,EUR,grocery,card_present,DE,BANK-DEV-1\n"
        "BANK-2,CUST-00001,2026-03-04T10:00:00Z,40.00,EUR,restaurant,online,DE,BANK-DEV-1\n"
        "BANK-3,CUST-90000,2026-03-05T10:00:00Z,99.00,EUR,travel,online,FR,BANK-DEV-2\n"
    ),
}


def _ingest(domain: str, settings: StorageSettings) -> None:
    store = ObjectStore(settings)
    if domain == "commerce":
        ingest_source(store, COMMERCE, COMMERCE_WINDOW, COMMERCE_OPTIONS)
    else:
        ingest_source(store, FINANCE, FINANCE_WINDOW, FINANCE_OPTIONS)


@pytest.fixture(scope="module")
def built(minio_server):
    """Both domains ingested into a fresh MinIO, then their models built and tested."""
    from fieldhouse.lake import duckdb_connect, run_dbt

    store = empty_zones(minio_server)
    # The two domains are independent: ingest them side by side.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        for done in [pool.submit(_ingest, d, minio_server) for d in ("commerce", "finance")]:
            done.result()
    result = run_dbt(["build", "--select", "tag:commerce tag:finance"], minio_server)
    tables = _read_marts(minio_server)
    with duckdb_connect(minio_server) as con:
        for name in (
            "stg_commerce__orders",
            "stg_commerce__shipment_events",
            "stg_finance__transactions",
            "stg_finance__chargebacks",
        ):
            tables[name] = con.execute(f"select count(*) as n from lake.staging.{name}").df()
    return result, tables, _RawReader(store)


def _read_marts(settings: StorageSettings) -> dict[str, pd.DataFrame]:
    """The commerce and finance marts, each sorted by its key."""
    from fieldhouse.lake import duckdb_connect

    with duckdb_connect(settings) as con:
        return {
            name: con.execute(f"select * from lake.main.{name}")
            .df()
            .sort_values(MART_KEYS[name], ignore_index=True)
            for name in MARTS
        }


class _RawReader:
    """Every partition of a raw dataset as one frame, read once per module."""

    def __init__(self, store: ObjectStore) -> None:
        self._store = store
        self._frames: dict[Dataset, pd.DataFrame] = {}

    def __call__(self, dataset: Dataset, window: Interval) -> pd.DataFrame:
        if dataset not in self._frames:
            self._frames[dataset] = pd.concat(
                (from_parquet_bytes(self._store.get_bytes(dataset.raw(h))) for h in window.hours()),
                ignore_index=True,
            )
        return self._frames[dataset]


def _first_ingested(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    ordered = frame.sort_values("ingested_at", kind="stable")
    return ordered.drop_duplicates(key, keep="first")


def _expected_delivery_times(orders: pd.DataFrame, scans: pd.DataFrame) -> pd.DataFrame:
    """fct_delivery_times_by_country's definition, written independently in pandas."""
    scans = _first_ingested(scans, "event_id")
    delivered = (
        scans[scans["event_type"] == "delivered"]
        .groupby("shipment_id")
        .agg(
            order_id=("order_id", "first"),
            carrier=("carrier", "first"),
            delivered_at=("event_ts", "min"),
        )
        .reset_index()
    )
    excepted = set(scans.loc[scans["event_type"] == "exception", "shipment_id"])
    shipments = delivered.merge(_first_ingested(orders, "order_id"), on="order_id")
    # Each country's window ends at its own latest delivery (one source here).
    window_end = shipments.groupby("destination_country")["delivered_at"].transform("max")
    window_start = window_end - pd.Timedelta(days=DELIVERY_WINDOW_DAYS)
    shipments = shipments[
        (shipments["delivered_at"] > window_start) & (shipments["delivered_at"] <= window_end)
    ].assign(
        delivery_days=lambda f: (f["delivered_at"] - f["ordered_at"]).dt.total_seconds() / 86400,
        had_exception=lambda f: f["shipment_id"].isin(excepted),
    )
    # The order's own promise decides lateness when it made one.
    none = pd.Series(pd.NaT, index=shipments.index, dtype="datetime64[us, UTC]")
    promised = shipments.get("promised_at", none)
    shipments["late"] = np.where(
        promised.notna(),
        shipments["delivered_at"] > promised,
        shipments["delivery_days"] > LATE_AFTER_DAYS,
    )

    def summarize(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
        days = frame.groupby(keys)["delivery_days"]
        return pd.DataFrame(
            {
                "shipments_delivered": days.size(),
                "p10_delivery_days": days.quantile(0.1, interpolation="linear"),
                "p50_delivery_days": days.quantile(0.5, interpolation="linear"),
                "p90_delivery_days": days.quantile(0.9, interpolation="linear"),
                "exceptions": frame.groupby(keys)["had_exception"].sum(),
                "late_shipments": frame.groupby(keys)["late"].sum(),
            }
        ).reset_index()

    by_carrier = summarize(shipments, ["destination_country", "carrier"])
    by_country = summarize(shipments, ["destination_country"]).assign(carrier="all")
    return pd.concat([by_carrier, by_country], ignore_index=True)


def _pseudonym(customer_id: str) -> str:
    from fieldhouse.pseudonym import key, pseudonym

    return pseudonym(customer_id, key())


def _expected_transaction_features(transactions: pd.DataFrame) -> pd.DataFrame:
    """tx_count_1h, is_new_country and amount_to_usual_ratio, in pandas."""
    frame = _first_ingested(transactions, "transaction_id").sort_values(
        ["customer_id", "ts", "transaction_id"], ignore_index=True
    )
    frame["is_new_country"] = ~frame.duplicated(["customer_id", "country"])
    usual = frame.groupby("customer_id")["amount"].transform(
        lambda a: a.shift(1).rolling(50, min_periods=1).median()
    )
    frame["amount_to_usual_ratio"] = (frame["amount"] / usual).fillna(1.0)
    counts = []
    for _, customer in frame.groupby("customer_id", sort=False):
        micros = customer["ts"].astype("int64").to_numpy()
        first_in_hour = np.searchsorted(micros, micros - 3_600_000_000, side="left")
        last_at_ts = np.searchsorted(micros, micros, side="right")
        counts.append(pd.Series(last_at_ts - first_in_hour - 1, index=customer.index))
    frame["tx_count_1h"] = pd.concat(counts)
    return frame


def test_the_models_build_and_pass_their_tests(built) -> None:
    result, tables, _ = built
    assert result.success
    statuses = {r.node.unique_id: str(r.status) for r in result.result}
    assert any(uid.startswith("test.") for uid in statuses), "no data tests ran"
    assert any(uid.startswith("unit_test.") for uid in statuses), "no unit tests ran"
    assert set(statuses.values()) <= {"success", "pass"}, statuses
    for name in ("fct_delivery_times_by_country", "fct_transactions", "dim_customers"):
        assert not tables[name].empty, name


def test_staging_keeps_each_raw_id_once(built) -> None:
    _, tables, raw = built
    for model, dataset, window, key in (
        ("stg_commerce__orders", COMMERCE_ORDERS, COMMERCE_WINDOW, "order_id"),
        ("stg_commerce__shipment_events", COMMERCE_SHIPMENT_EVENTS, COMMERCE_WINDOW, "event_id"),
        ("stg_finance__transactions", FINANCE_TRANSACTIONS, FINANCE_WINDOW, "transaction_id"),
        ("stg_finance__chargebacks", FINANCE_CHARGEBACKS, FINANCE_WINDOW, "chargeback_id"),
    ):
        rows = raw(dataset, window)
        assert tables[model]["n"].iloc[0] == rows[key].nunique(), model


def test_delivery_percentiles_match_pandas_on_the_raw_rows(built) -> None:
    _, tables, raw = built
    expected = _expected_delivery_times(
        raw(COMMERCE_ORDERS, COMMERCE_WINDOW),
        raw(COMMERCE_SHIPMENT_EVENTS, COMMERCE_WINDOW),
    )
    mart = tables["fct_delivery_times_by_country"]
    assert set(mart["source"]) == {"simulator"}
    merged = expected.merge(
        mart,
        on=["destination_country", "carrier"],
        how="outer",
        suffixes=("", "_mart"),
        indicator=True,
    )

    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"]
    assert (merged["carrier"] == "all").sum() == merged["destination_country"].nunique()
    for column in ("shipments_delivered", "exceptions", "late_shipments"):
        assert (merged[column] == merged[f"{column}_mart"]).all(), column
    for column in ("p10_delivery_days", "p50_delivery_days", "p90_delivery_days"):
        assert (merged[column] - merged[f"{column}_mart"]).abs().max() < TOLERANCE, column
    # Every country is served by several carriers, and some deliveries are late.
    assert merged["late_shipments"].sum() > 0
    assert merged["exceptions"].sum() > 0


def test_delivery_days_agree_with_the_simulators_labels(built) -> None:
    _, tables, raw = built
    labels = raw(COMMERCE_DELIVERY_LABELS, COMMERCE_WINDOW)
    features = tables["ml_delivery_time_features"]
    delivered = features[features["is_delivered"]]
    merged = delivered.merge(labels, on="shipment_id", suffixes=("", "_label"))

    # Every delivered shipment of a known order was delivered inside the window,
    # so it has a label.
    assert len(merged) == len(delivered) > 0
    seconds_off = (merged["delivery_days"] - merged["delivery_days_label"]).abs() * 86_400
    assert seconds_off.max() < 1.0
    assert (merged["carrier"] == merged["carrier_label"]).all()
    # An exception scan can be quarantined (malformed), never invented.
    assert not (merged["had_exception"] & ~merged["exception"]).any()
    assert (merged["had_exception"] != merged["exception"]).mean() < 0.01
    assert features["shipment_id"].is_unique


def test_transaction_features_match_pandas_on_the_raw_rows(built) -> None:
    _, tables, raw = built
    expected = _expected_transaction_features(raw(FINANCE_TRANSACTIONS, FINANCE_WINDOW))
    mart = tables["fct_transactions"]
    merged = expected.merge(
        mart, on="transaction_id", how="outer", suffixes=("", "_mart"), indicator=True
    )

    assert (merged["_merge"] == "both").all()
    assert (merged["tx_count_1h"] == merged["tx_count_1h_mart"]).all()
    assert (merged["is_new_country"] == merged["is_new_country_mart"]).all()
    ratio_off = (merged["amount_to_usual_ratio"] - merged["amount_to_usual_ratio_mart"]).abs()
    assert ratio_off.max() < TOLERANCE
    # Fraud bursts put several transactions within the hour.
    assert merged["tx_count_1h"].max() >= 3
    # Each customer id reaches the lake as its keyed hash, and no id as it arrived.
    from fieldhouse.pseudonym import pseudonymize_series

    assert (merged["customer_id_mart"] == pseudonymize_series(merged["customer_id"])).all()
    assert not set(merged["customer_id"]) & set(mart["customer_id"])
    features = tables["ml_transaction_risk_features"]
    assert set(features["transaction_id"]) == set(mart["transaction_id"])


def test_final_chargeback_labels_are_the_simulators_fraud(built) -> None:
    _, tables, raw = built
    labels = raw(FINANCE_TRANSACTION_LABELS, FINANCE_WINDOW)
    mart = tables["fct_transactions"].merge(
        labels[["transaction_id", "is_fraud"]], on="transaction_id", how="left"
    )

    assert mart["is_fraud"].notna().all()
    # A chargeback only ever names fraud; once the horizon has passed, all of it.
    assert not (mart["is_charged_back"] & ~mart["is_fraud"].astype(bool)).any()
    final = mart[mart["label_complete"]]
    assert final["is_fraud"].sum() > 0
    assert (final["is_charged_back"] == final["is_fraud"].astype(bool)).all()
    assert 0 < len(final) < len(mart)


# --- a second source, and builds limited by the var `sources` ----------------------------


@pytest.fixture(scope="module")
def by_source(built, minio_server) -> dict[str, dict[str, pd.DataFrame]]:
    """The files landed beside the simulator, then one build per choice of `sources`.

    Keyed by the sources chosen ("" for all of them). Depends on ``built`` so that
    its marts were read before the landed files exist.
    """
    from fieldhouse.lake import build_domains

    store = ObjectStore(minio_server)
    contracts = load_contracts()
    for name, text in LANDED.items():
        contract = contracts[name]
        store.put_bytes(LandingArea(contract.landing).incoming(f"{name}.csv"), text.encode())
        manifest = ingest_dataset_hour(store, contract.dataset, LANDED_HOUR, contracts=[contract])
        assert manifest.rows_written == text.count("\n") - 1, manifest.reasons
    builds = {}
    for chosen in (["simulator"], list(LANDED), []):
        build_domains(minio_server, ["commerce", "finance"], vars={"sources": chosen})
        builds[",".join(chosen)] = _read_marts(minio_server)
    return builds


def _of_source(marts: dict[str, pd.DataFrame], sources: set[str]) -> dict[str, pd.DataFrame]:
    return {
        name: mart[mart["source"].isin(sources)].reset_index(drop=True)
        for name, mart in marts.items()
    }


def test_a_build_of_the_simulator_alone_leaves_the_landed_files_out(built, by_source) -> None:
    _, tables, _ = built
    marts = by_source["simulator"]

    for name in MARTS:
        assert set(marts[name]["source"]) == {"simulator"}, name
        # No trace of the landed files: the marts of the lake before they came.
        pd.testing.assert_frame_equal(marts[name], tables[name], obj=name)


def test_a_build_of_the_landed_sources_leaves_the_simulator_out(by_source) -> None:
    marts = by_source[",".join(LANDED)]
    delivery = marts["fct_delivery_times_by_country"].set_index(["destination_country", "carrier"])
    customers = marts["dim_customers"]

    assert set(delivery["source"]) == {"erp_shipments"}
    assert sorted(delivery.index) == [("DE", "all"), ("DE", "swiftpost"), ("NG", "all")]
    # ERP-1 took 3 days and ERP-2 6.5: none of the simulator's German deliveries count.
    assert delivery.loc[("DE", "all"), "shipments_delivered"] == 2
    assert delivery.loc[("DE", "all"), "p50_delivery_days"] == pytest.approx(4.75)
    assert list(marts["ml_delivery_time_features"]["shipment_id"]) == ["ERP-1", "ERP-2", "ERP-3"]
    for name in ("fct_transactions", "ml_transaction_risk_features"):
        assert set(marts[name]["source"]) == {"finance_transactions"}, name
        assert list(marts[name]["transaction_id"]) == ["BANK-1", "BANK-2", "BANK-3"], name
    # The bank's customers, not the simulated issuer's registry: its CUST-00001 is
    # another person, unregistered, in the currency of their transactions.
    # Known to the lake by their pseudonyms only.
    counts = dict(zip(customers["customer_id"], customers["transaction_count"], strict=True))
    assert counts == {_pseudonym("CUST-00001"): 2, _pseudonym("CUST-90000"): 1}
    assert not customers["is_registered_customer"].any()
    assert set(customers["currency"]) == {"EUR"}


def test_a_build_of_every_source_keeps_them_apart(by_source) -> None:
    every = by_source[""]
    landed = _of_source(every, set(LANDED))
    simulated = _of_source(every, {"simulator"})

    for name in MARTS:
        assert set(every[name]["source"]) == {"simulator", LANDED_INTO[name]}, name
        # Each source's rows are those of a build of that source alone (the other
        # source's nulls may make a column nullable: values are compared, not dtypes).
        for alone, rows in (
            (by_source["simulator"], simulated),
            (by_source[",".join(LANDED)], landed),
        ):
            pd.testing.assert_frame_equal(rows[name], alone[name], check_dtype=False, obj=name)
    # The bank's CUST-00001 and the simulated issuer's are two customers.
    customers = every["dim_customers"].set_index(["source", "customer_id"])
    bank_customer = _pseudonym("CUST-00001")
    assert customers.loc[("finance_transactions", bank_customer), "transaction_count"] == 2
    assert customers.loc[("simulator", bank_customer), "is_registered_customer"]
