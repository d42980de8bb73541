"""Shipments exported whole reach the delivery marts beside those built from scans.

The raw Parquet is written here directly, as ingestion lays it out, so the test
controls every case: orders from before and after the promise and region columns
existed, a dataset hour written in two parts, exported shipments without a
carrier or a promise, one re-sent, and one whose id the carriers also scanned.
The marts are compared with the definitions written again in pandas.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fieldhouse.storage.keys import (
    COMMERCE_ORDERS,
    COMMERCE_SHIPMENT_EVENTS,
    COMMERCE_SHIPMENTS,
    Dataset,
    Interval,
)
from fieldhouse.storage.objects import ObjectStore
from fieldhouse.storage.parquet import to_parquet_bytes
from tests.zones import empty_zones

pytestmark = pytest.mark.integration

# The project's defaults (dbt_project.yml vars).
DELIVERY_WINDOW_DAYS = 28
LATE_AFTER_DAYS = 7
TOLERANCE = 1e-9
COUNTS = ("shipments_delivered", "exceptions", "late_shipments", "deliveries_with_promise")

OLD_HOUR = Interval.parse("2026-03-10T00:00:00+00:00")  # orders without region and promise
NEW_HOUR = Interval.parse("2026-03-20T00:00:00+00:00")
RESENT_HOUR = Interval.parse("2026-04-12T00:00:00+00:00")
CURRENCIES = {"DE": "EUR", "FR": "EUR", "US": "USD"}
SHOP_CARRIERS = ["swiftpost", "globalship", "parcelnet", "ecoparcel"]
SCANNED_ORDERS = 100
EXPORTED = 80
OVERLAP_ID = "SHP-0001"  # scanned, and exported too: the scans win
RESENT_ID = "ERP-0002"  # exported twice: the first copy ingested wins


def _days(days: np.ndarray) -> pd.Series:
    """Fractional days as durations of whole seconds."""
    return pd.Series(pd.to_timedelta(np.round(np.asarray(days) * 86400), unit="s"))


def _seconds(start: str, days: np.ndarray) -> pd.Series:
    """``start`` plus fractional ``days``, whole seconds, as UTC timestamps."""
    return (pd.Timestamp(start, tz="UTC") + _days(days)).dt.as_unit("us")


def _orders(rng: np.random.Generator, n: int) -> pd.DataFrame:
    country = rng.choice(list(CURRENCIES), n)
    ordered_at = _seconds("2026-03-01", rng.uniform(0, 19, n))
    promised = rng.random(n) < 0.5
    return pd.DataFrame(
        {
            "order_id": [f"ORD-{i:04d}" for i in range(1, n + 1)],
            "customer_id": [f"C{i % 17:05d}" for i in range(n)],
            "ordered_at": ordered_at,
            "destination_country": country,
            "currency": [CURRENCIES[c] for c in country],
            "amount": np.round(rng.uniform(10, 200, n), 2),
            "item_count": rng.integers(1, 5, n),
            "destination_region": np.where(country == "US", "US-CA", None),
            "promised_at": ordered_at.where(promised) + _days(rng.uniform(2, 9, n)),
        }
    )


def _scans(rng: np.random.Generator, orders: pd.DataFrame) -> pd.DataFrame:
    """Tracking scans of the first orders' shipments: pick-up, maybe a delay, delivery."""
    events = []
    for order in orders.head(SCANNED_ORDERS).itertuples():
        shipment = order.order_id.replace("ORD", "SHP")
        carrier = rng.choice(SHOP_CARRIERS)
        steps = [("picked_up", 0.2)]
        if rng.random() < 0.15:
            steps.append(("exception", 1.0))
        if rng.random() < 0.9:
            steps.append(("delivered", rng.uniform(1, 12)))
        for event_type, days in steps:
            events.append(
                {
                    "event_id": f"{shipment}-{event_type}",
                    "shipment_id": shipment,
                    "order_id": order.order_id,
                    "carrier": carrier,
                    "event_type": event_type,
                    "event_ts": order.ordered_at + pd.Timedelta(seconds=round(days * 86400)),
                    "location": order.destination_country,
                }
            )
    return pd.DataFrame(events)


def _exported(rng: np.random.Generator, orders: pd.DataFrame) -> pd.DataFrame:
    """ERP records: other destinations, often no carrier or promise, some not delivered."""
    n = EXPORTED
    ordered_at = _seconds("2026-02-01", rng.uniform(0, 47, n))
    frame = pd.DataFrame(
        {
            "shipment_id": [f"ERP-{i:04d}" for i in range(1, n + 1)],
            "order_id": [f"PO-{i}" for i in range(n)],
            "destination_country": rng.choice(["NG", "ZA", "US"], n),
            "destination_region": None,
            "carrier": np.where(rng.random(n) < 0.4, None, rng.choice(["dhl", "ups"], n)),
            "shipment_mode": rng.choice(["Air", "Ocean", "Truck"], n),
            "ordered_at": ordered_at,
            "promised_at": ordered_at.where(rng.random(n) < 0.6) + _days(rng.uniform(3, 15, n)),
            "delivered_at": ordered_at.where(rng.random(n) < 0.85) + _days(rng.uniform(2, 20, n)),
        }
    )
    # Shipments of shop orders that were never scanned: the record leaves out the
    # order time and promise, and the order in the lake fills them in.
    shop = frame.index[-5:]
    placed = orders.set_index("order_id")["ordered_at"].iloc[SCANNED_ORDERS : SCANNED_ORDERS + 5]
    frame.loc[shop, "order_id"] = placed.index.to_numpy()
    frame.loc[shop, "ordered_at"] = pd.NaT
    frame.loc[shop, "promised_at"] = pd.NaT
    delivered = placed.reset_index(drop=True) + _days(rng.uniform(2, 10, 5))
    frame.loc[shop, "delivered_at"] = delivered.to_numpy()
    overlap = {
        "shipment_id": OVERLAP_ID,
        "order_id": "ORD-0001",
        "destination_country": "NG",
        "carrier": "dhl",
        "shipment_mode": "Air",
        "ordered_at": pd.Timestamp("2026-02-01", tz="UTC"),
        "delivered_at": pd.Timestamp("2026-03-25", tz="UTC"),
    }
    return pd.concat([frame, pd.DataFrame([overlap])], ignore_index=True)


def _write(
    store: ObjectStore, dataset: Dataset, hour: Interval, parts: list[pd.DataFrame]
) -> pd.DataFrame:
    """Write ``parts`` as the hour's part-0, part-1, ...; returns them as one frame."""
    stamped = [
        part.assign(origin="landing:export.csv", ingested_at=pd.Timestamp(hour.end).as_unit("us"))
        for part in parts
    ]
    for index, part in enumerate(stamped):
        store.put_bytes(dataset.raw(hour, index), to_parquet_bytes(part))
    return pd.concat(stamped, ignore_index=True)


@pytest.fixture(scope="module")
def lake(minio_server):
    """The raw commerce datasets written directly, then `dbt build` of tag commerce."""
    from fieldhouse.lake import duckdb_connect, run_dbt

    store = empty_zones(minio_server)
    rng = np.random.default_rng(23)
    orders = _orders(rng, 110)
    old, new = orders.iloc[:60], orders.iloc[60:]
    # The old hour was written before orders had a region and a promise.
    before = old.drop(columns=["destination_region", "promised_at"])
    raw = {
        "orders": pd.concat(
            [
                _write(store, COMMERCE_ORDERS, OLD_HOUR, [before]),
                _write(store, COMMERCE_ORDERS, NEW_HOUR, [new.iloc[:25], new.iloc[25:]]),
            ],
            ignore_index=True,
        ),
        "scans": _write(store, COMMERCE_SHIPMENT_EVENTS, NEW_HOUR, [_scans(rng, orders)]),
    }
    exported = _exported(rng, orders)
    resent = exported[exported["shipment_id"] == RESENT_ID].assign(
        carrier="resent", delivered_at=pd.Timestamp("2026-04-11", tz="UTC")
    )
    raw["shipments"] = pd.concat(
        [
            _write(store, COMMERCE_SHIPMENTS, NEW_HOUR, [exported.iloc[:40], exported.iloc[40:]]),
            _write(store, COMMERCE_SHIPMENTS, RESENT_HOUR, [resent]),
        ],
        ignore_index=True,
    )

    result = run_dbt(["build", "--select", "tag:commerce"], minio_server)
    with duckdb_connect(minio_server) as con:
        tables = {
            name: con.execute(f"select * from lake.{schema}.{name}").df()
            for schema, name in (
                ("main", "fct_delivery_times_by_country"),
                ("main", "ml_delivery_time_features"),
                ("staging", "stg_commerce__shipments"),
                ("staging", "stg_commerce__orders"),
            )
        }
    return result, tables, raw


def _first_ingested(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    return frame.sort_values("ingested_at", kind="stable").drop_duplicates(key, keep="first")


def _expected_shipments(raw: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per shipment of both grains with its order time and promise, in pandas."""
    orders = _first_ingested(raw["orders"], "order_id").set_index("order_id")
    scans = _first_ingested(raw["scans"], "event_id").sort_values("event_ts", kind="stable")
    scanned = scans.groupby("shipment_id").agg(
        order_id=("order_id", "first"), carrier=("carrier", "first")
    )
    scanned["delivered_at"] = (
        scans[scans["event_type"] == "delivered"].groupby("shipment_id")["event_ts"].min()
    )
    scanned["had_exception"] = scanned.index.isin(
        scans.loc[scans["event_type"] == "exception", "shipment_id"]
    )
    order_of = orders.reindex(scanned["order_id"])
    for column in ("ordered_at", "destination_country", "promised_at"):
        scanned[column] = order_of[column].to_numpy()

    records = _first_ingested(raw["shipments"], "shipment_id").set_index("shipment_id")
    records = records[~records.index.isin(scanned.index)].copy()
    order_of = orders.reindex(records["order_id"])
    for column in ("ordered_at", "destination_country", "promised_at"):
        from_order = pd.Series(order_of[column].to_numpy(), index=records.index)
        records[column] = records[column].where(records[column].notna(), from_order)
    records["had_exception"] = False

    both = pd.concat([scanned, records])
    both["delivery_days"] = (both["delivered_at"] - both["ordered_at"]).dt.total_seconds() / 86400
    return both.rename_axis("shipment_id").reset_index()


def _in_window(shipments: pd.DataFrame) -> pd.DataFrame:
    """Deliveries with an order time in the trailing window ending at their country's latest."""
    window_end = shipments.groupby("destination_country")["delivered_at"].transform("max")
    window_start = window_end - pd.Timedelta(days=DELIVERY_WINDOW_DAYS)
    return shipments[
        shipments["delivery_days"].notna()
        & (shipments["delivered_at"] > window_start)
        & (shipments["delivered_at"] <= window_end)
    ].assign(window_end=window_end)


def _expected_delivery_times(shipments: pd.DataFrame) -> pd.DataFrame:
    """fct_delivery_times_by_country's definition, written independently in pandas."""
    delivered = _in_window(shipments)
    promised = delivered["promised_at"].notna()
    delivered["late"] = np.where(
        promised,
        delivered["delivered_at"] > delivered["promised_at"],
        delivered["delivery_days"] > LATE_AFTER_DAYS,
    )
    delivered["promised"] = promised

    def summarize(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
        groups = frame.groupby(keys)
        days = groups["delivery_days"]
        return pd.DataFrame(
            {
                "shipments_delivered": days.size(),
                "p10_delivery_days": days.quantile(0.1, interpolation="linear"),
                "p50_delivery_days": days.quantile(0.5, interpolation="linear"),
                "p90_delivery_days": days.quantile(0.9, interpolation="linear"),
                "exceptions": groups["had_exception"].sum(),
                "late_shipments": groups["late"].sum(),
                "deliveries_with_promise": groups["promised"].sum(),
            }
        ).reset_index()

    # groupby drops the null carrier: those deliveries count in the country row only.
    by_carrier = summarize(delivered, ["destination_country", "carrier"])
    by_country = summarize(delivered, ["destination_country"]).assign(carrier="all")
    expected = pd.concat([by_carrier, by_country], ignore_index=True)
    window_end = delivered.groupby("destination_country")["window_end"].first()
    return expected.assign(window_end=expected["destination_country"].map(window_end))


def test_the_models_build_and_pass_their_tests(lake) -> None:
    result, _, _ = lake
    statuses = {r.node.unique_id: str(r.status) for r in result.result}

    assert result.success
    assert "model.fieldhouse.stg_commerce__shipments" in statuses
    assert any(uid.startswith("unit_test.") for uid in statuses), "no unit tests ran"
    assert set(statuses.values()) <= {"success", "pass", "no-op"}, statuses


def test_delivery_times_match_pandas_on_both_grains(lake) -> None:
    _, tables, raw = lake
    expected = _expected_delivery_times(_expected_shipments(raw))
    mart = tables["fct_delivery_times_by_country"]
    merged = expected.merge(
        mart,
        on=["destination_country", "carrier"],
        how="outer",
        suffixes=("", "_mart"),
        indicator=True,
    )

    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"]
    assert (merged["window_end"] == merged["window_end_mart"]).all()
    for column in (
        "shipments_delivered",
        "exceptions",
        "late_shipments",
        "deliveries_with_promise",
    ):
        assert (merged[column] == merged[f"{column}_mart"]).all(), column
    for column in ("p10_delivery_days", "p50_delivery_days", "p90_delivery_days"):
        assert (merged[column] - merged[f"{column}_mart"]).abs().max() < TOLERANCE, column
    # Exported shipments reach countries the shop never ships to.
    assert {"NG", "ZA"} <= set(mart["destination_country"])
    assert mart["carrier"].notna().all()


def test_the_cases_under_test_are_in_the_window(lake) -> None:
    _, tables, raw = lake
    mart = tables["fct_delivery_times_by_country"]
    country_rows = mart[mart["carrier"] == "all"].set_index("destination_country")
    per_carrier = mart[mart["carrier"] != "all"].groupby("destination_country")

    # Deliveries without a carrier count in their country's row only.
    named = per_carrier["shipments_delivered"].sum().reindex(country_rows.index, fill_value=0)
    unnamed = country_rows["shipments_delivered"] - named
    assert unnamed.min() >= 0 and unnamed.max() > 0
    # Some deliveries are judged by their promise, some by the standard rule.
    with_promise = country_rows["deliveries_with_promise"].sum()
    assert 0 < with_promise < country_rows["shipments_delivered"].sum()
    # Against the promise, a quick delivery can be late and a slow one on time.
    judged = _in_window(_expected_shipments(raw)).dropna(subset=["promised_at"])
    late = judged["delivered_at"] > judged["promised_at"]
    assert (late & (judged["delivery_days"] <= LATE_AFTER_DAYS)).any()
    assert (~late & (judged["delivery_days"] > LATE_AFTER_DAYS)).any()


def test_each_shipment_is_described_once_by_its_finest_account(lake) -> None:
    _, tables, raw = lake
    features = tables["ml_delivery_time_features"].set_index("shipment_id")
    records = tables["stg_commerce__shipments"].set_index("shipment_id")

    assert features.index.is_unique
    # Scanned and exported: the scans' carrier and destination, not the record's.
    assert features.loc[OVERLAP_ID, "grain"] == "scans"
    assert features.loc[OVERLAP_ID, "carrier"] in SHOP_CARRIERS
    assert features.loc[OVERLAP_ID, "destination_country"] != "NG"
    # Exported twice: the copy ingested first.
    assert records.loc[RESENT_ID, "carrier"] != "resent"
    assert len(records) == raw["shipments"]["shipment_id"].nunique()
    # Records of shop orders take the order's time from the order.
    shop = features[(features["grain"] == "shipment") & features["customer_id"].notna()]
    assert len(shop) == 5
    assert shop["ordered_at"].notna().all()


def test_orders_written_before_the_new_columns_read_them_as_null(lake) -> None:
    _, tables, raw = lake
    staged = tables["stg_commerce__orders"].set_index("order_id")
    written = raw["orders"].set_index("order_id")
    before = written["ingested_at"] == pd.Timestamp(OLD_HOUR.end)
    promised = written.dropna(subset=["promised_at"])

    assert len(staged) == len(written) == 110
    assert staged.loc[written.index[before], ["promised_at", "destination_region"]].isna().all(None)
    assert len(promised) > 0
    assert (staged.loc[promised.index, "promised_at"] == promised["promised_at"]).all()
    assert set(staged["destination_region"].dropna()) == {"US-CA"}
