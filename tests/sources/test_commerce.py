"""The commerce simulator: deterministic, late scans exactly once, delivery times as designed."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from fieldhouse.quality.commerce import (
    EVENT_TYPES,
    ORDER_SCHEMA,
    ORIGIN_COUNTRY,
    SHIPMENT_EVENT_SCHEMA,
    validate_orders,
    validate_shipment_events,
)
from fieldhouse.sources.commerce import (
    LOOKBACK_DAYS,
    MAX_DELIVERY_DAYS,
    CommerceFaults,
    delivery_days,
    simulate_orders,
    simulate_shipment_events,
)
from fieldhouse.storage.keys import Interval

SEED = 11
DAY = Interval.parse("2026-10-06T00:00:00+00:00", "2026-10-07T00:00:00+00:00")
CLEAN = CommerceFaults.none()
STEADY = CommerceFaults(exception=0.0, duplicate=0.0, malformed=0.0)


def _validate_orders(batch, interval=DAY):
    result = validate_orders(batch.readings, interval, ingested_at=interval.end)
    assert result.reconciles
    return result


def _validate_events(batch, interval=DAY):
    result = validate_shipment_events(batch.readings, interval, ingested_at=interval.end)
    assert result.reconciles
    return result


def test_a_clean_day_is_entirely_valid():
    orders = simulate_orders(DAY, SEED, faults=CLEAN)
    events = simulate_shipment_events(DAY, SEED, faults=CLEAN)
    assert list(orders.readings.columns) == list(ORDER_SCHEMA.wire_columns)
    assert list(events.readings.columns) == list(SHIPMENT_EVENT_SCHEMA.wire_columns)
    assert len(orders.readings) > 300
    assert _validate_orders(orders).quarantined.empty
    assert _validate_events(events).quarantined.empty
    assert len(orders.labels) == len(orders.readings)
    assert set(events.readings["event_type"]) == set(EVENT_TYPES)


def test_same_inputs_same_records_and_an_hour_is_a_slice_of_the_day():
    day = simulate_orders(DAY, SEED)
    pd.testing.assert_frame_equal(day.readings, simulate_orders(DAY, SEED).readings)
    assert not day.readings["amount"].equals(simulate_orders(DAY, SEED + 1).readings["amount"])
    hour = Interval.parse("2026-10-06T13:00:00+00:00")
    alone = simulate_orders(hour, SEED).readings
    within = day.readings[day.readings["order_id"].isin(alone["order_id"])]
    pd.testing.assert_frame_equal(alone, within.reset_index(drop=True))
    events = simulate_shipment_events(hour, SEED)
    pd.testing.assert_frame_equal(events.readings, simulate_shipment_events(hour, SEED).readings)


def test_consecutive_hours_emit_each_scan_exactly_once():
    day = simulate_shipment_events(DAY, SEED, faults=CLEAN)
    hours = [simulate_shipment_events(h, SEED, faults=CLEAN) for h in DAY.hours()]
    readings = pd.concat([h.readings for h in hours], ignore_index=True)
    pd.testing.assert_frame_equal(readings, day.readings)
    assert readings["event_id"].is_unique
    labels = pd.concat([h.labels for h in hours], ignore_index=True)
    pd.testing.assert_frame_equal(labels, day.labels)
    for hour, batch in zip(DAY.hours(), hours, strict=True):
        at = pd.to_datetime(batch.readings["event_ts"], utc=True)
        assert ((at >= hour.start) & (at < hour.end)).all()


def test_every_shipment_is_scanned_in_order_over_the_days_after_its_order():
    orders = simulate_orders(DAY, SEED, faults=CLEAN).labels
    later = Interval(DAY.start, DAY.start + timedelta(days=LOOKBACK_DAYS))
    events = simulate_shipment_events(later, SEED, faults=CLEAN).readings
    events = events[events["order_id"].isin(orders["order_id"])]
    assert events["event_id"].is_unique
    per_shipment = events.groupby("shipment_id")["event_type"].agg(list)
    assert set(per_shipment.index) == set(orders["shipment_id"])
    assert (per_shipment.str[0] == "picked_up").all()
    assert (per_shipment.str[-1] == "delivered").all()
    truth = orders.set_index("shipment_id")
    customs = per_shipment.map(lambda types: "customs" in types)
    assert (customs == truth.loc[customs.index, "customs"]).all()
    assert (truth["customs"] == (truth["destination_country"] != ORIGIN_COUNTRY)).all()
    delivered = events[events["event_type"] == "delivered"].set_index("shipment_id")
    at = pd.to_datetime(delivered["event_ts"], utc=True)
    days = (at - truth.loc[at.index, "ordered_at"]).dt.total_seconds() / 86_400
    np.testing.assert_allclose(days, truth.loc[at.index, "delivery_days"], atol=1e-6)
    assert truth["delivery_days"].between(1.5, MAX_DELIVERY_DAYS).all()


def test_delivery_labels_arrive_with_the_delivered_scan():
    hour = Interval.parse("2026-10-10T17:00:00+00:00")
    batch = simulate_shipment_events(hour, SEED, faults=CLEAN)
    delivered = batch.readings[batch.readings["event_type"] == "delivered"]
    assert sorted(batch.labels["shipment_id"]) == sorted(delivered["shipment_id"])


@pytest.fixture(scope="module")
def october_week():
    week = Interval.parse("2026-10-05T00:00:00+00:00", "2026-10-12T00:00:00+00:00")
    return simulate_orders(week, SEED, orders_per_hour=120, faults=STEADY).labels


def test_delivery_time_follows_country_carrier_and_customs(october_week):
    labels = october_week
    means = labels.groupby(["destination_country", "carrier"])["delivery_days"].mean()
    for (country, carrier), mean in means.items():
        assert mean == pytest.approx(delivery_days(country, carrier, 10), rel=0.1)
    by_carrier = labels.groupby("carrier")["delivery_days"].mean()
    assert by_carrier["swiftpost"] < by_carrier["globalship"] < by_carrier["parcelnet"]
    assert by_carrier["parcelnet"] < by_carrier["ecoparcel"]
    by_country = labels.groupby("destination_country")["delivery_days"].mean()
    assert by_country.idxmin() == ORIGIN_COUNTRY
    assert by_country["AU"] > by_country["DE"] > by_country["US"]


def test_peak_season_is_slower(october_week):
    december = Interval.parse("2026-12-07T00:00:00+00:00", "2026-12-14T00:00:00+00:00")
    peak = simulate_orders(december, SEED, orders_per_hour=120, faults=STEADY).labels
    for carrier in ("swiftpost", "ecoparcel"):
        before = october_week[october_week["carrier"] == carrier]["delivery_days"].mean()
        during = peak[peak["carrier"] == carrier]["delivery_days"].mean()
        assert during > 1.15 * before
    assert delivery_days("DE", "globalship", 12) > delivery_days("DE", "globalship", 10)


def test_faults_are_rare_and_each_has_its_reason():
    week = Interval.parse("2026-10-05T00:00:00+00:00", "2026-10-12T00:00:00+00:00")
    orders = simulate_orders(week, SEED, faults=CommerceFaults(duplicate=0.01, malformed=0.02))
    result = _validate_orders(orders, week)
    assert set(result.reasons) == {
        "bad_timestamp",
        "bad_value",
        "unknown_country",
        "non_positive_amount",
        "duplicate_order_id",
    }
    assert len(result.quarantined) < 0.06 * len(orders.readings)
    assert result.valid["order_id"].is_unique
    seen = set(result.valid["order_id"]) | set(result.quarantined["order_id"])
    assert seen == set(orders.labels["order_id"])
    events = simulate_shipment_events(DAY, SEED, faults=CommerceFaults(malformed=0.03))
    assert set(_validate_events(events).reasons) == {
        "bad_timestamp",
        "unknown_carrier",
        "unknown_event_type",
        "duplicate_event_id",
    }
