"""Order and scan event validation: each rule by a minimal example, and their order."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from fieldhouse.quality.commerce import (
    ORDER_SCHEMA,
    SHIPMENT_EVENT_SCHEMA,
    validate_orders,
    validate_shipment_events,
)
from fieldhouse.storage.keys import Interval

INTERVAL = Interval.parse("2026-11-18T15:00:00+00:00")
INGESTED_AT = datetime(2026, 11, 18, 16, 2, tzinfo=UTC)
ORDER = {
    "order_id": "ORD-1",
    "customer_id": "C00001",
    "ordered_at": "2026-11-18T15:05:00Z",
    "destination_country": "DE",
    "currency": "EUR",
    "amount": "59.90",
    "item_count": "2",
    "origin": "test",
}
EVENT = {
    "event_id": "SHP-1-0",
    "shipment_id": "SHP-1",
    "order_id": "ORD-1",
    "carrier": "globalship",
    "event_type": "customs",
    "event_ts": "2026-11-18T15:30:00+01:00",
    "location": "DE",
    "origin": "test",
}


def _wire(schema, rows):
    return pd.DataFrame(
        {
            column: pd.Series([row.get(column) for row in rows], dtype=object)
            for column in schema.wire_columns
        }
    )


def _orders(*rows: dict):
    result = validate_orders(_wire(ORDER_SCHEMA, rows), INTERVAL, ingested_at=INGESTED_AT)
    assert result.reconciles
    assert len(result.valid) + len(result.quarantined) == len(rows)
    return result


def _events(*rows: dict):
    wire = _wire(SHIPMENT_EVENT_SCHEMA, rows)
    result = validate_shipment_events(wire, INTERVAL, ingested_at=INGESTED_AT)
    assert result.reconciles
    assert len(result.valid) + len(result.quarantined) == len(rows)
    return result


def test_a_good_order_is_valid_and_typed():
    result = _orders(ORDER)
    assert result.quarantined.empty
    order = result.valid.iloc[0]
    assert order["amount"] == 59.9
    assert order["item_count"] == 2
    assert str(result.valid["item_count"].dtype) == "Int64"
    assert order["ordered_at"] == pd.Timestamp("2026-11-18T15:05:00Z")


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"order_id": None}, "missing_field:order_id"),
        ({"amount": ""}, "missing_field:amount"),
        ({"ordered_at": "2026-11-18 15:05:00"}, "bad_timestamp"),
        ({"amount": "59,90"}, "bad_value"),
        ({"item_count": "2.0"}, "bad_value"),
        ({"destination_country": "XX"}, "unknown_country"),
        ({"destination_country": "de"}, "unknown_country"),
        ({"currency": "ZZZ"}, "unknown_currency"),
        ({"amount": "0"}, "non_positive_amount"),
        ({"amount": "-5.00"}, "non_positive_amount"),
        ({"item_count": "0"}, "non_positive_item_count"),
        ({"currency": "USD"}, "currency_mismatch"),
        ({"ordered_at": "2026-11-18T16:06:00Z"}, "future_timestamp"),
    ],
)
def test_each_order_rule(changes, reason):
    result = _orders({**ORDER, **changes})
    assert result.valid.empty
    assert list(result.quarantined["reason"]) == [reason]
    assert result.reasons == {reason: 1}


def test_the_future_limit_is_inclusive():
    assert _orders({**ORDER, "ordered_at": "2026-11-18T16:05:00Z"}).quarantined.empty


def test_a_repeated_order_keeps_the_first_and_only_the_first_failing_rule_counts():
    rows = [
        {**ORDER, "order_id": "a", "destination_country": "XX", "amount": "-1"},
        {**ORDER, "order_id": "b", "amount": "-1", "item_count": "0"},
        {**ORDER, "order_id": "c", "item_count": "0", "currency": "USD"},
        {**ORDER, "order_id": "d", "currency": "USD", "ordered_at": "2026-11-19T00:00:00Z"},
        {**ORDER, "order_id": "e", "ordered_at": "2026-11-19T00:00:00Z"},
        {**ORDER, "order_id": "f"},
        {**ORDER, "order_id": "f", "amount": "12.00"},
    ]
    result = _orders(*rows)
    assert list(result.quarantined["reason"]) == [
        "unknown_country",
        "non_positive_amount",
        "non_positive_item_count",
        "currency_mismatch",
        "future_timestamp",
        "duplicate_order_id",
    ]
    assert list(result.valid["amount"]) == [59.9]


def test_a_good_event_is_valid_and_in_utc():
    result = _events(EVENT)
    assert result.quarantined.empty
    assert result.valid.iloc[0]["event_ts"] == pd.Timestamp("2026-11-18T14:30:00Z")


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"shipment_id": None}, "missing_field:shipment_id"),
        ({"location": ""}, "missing_field:location"),
        ({"event_ts": "2026-11-18T15:30:00"}, "bad_timestamp"),
        ({"carrier": "acme_freight"}, "unknown_carrier"),
        ({"event_type": "lost"}, "unknown_event_type"),
        ({"location": "Berlin"}, "unknown_location"),
        ({"event_ts": "2026-11-18T16:10:00Z"}, "future_timestamp"),
    ],
)
def test_each_event_rule(changes, reason):
    result = _events({**EVENT, **changes})
    assert result.valid.empty
    assert list(result.quarantined["reason"]) == [reason]


def test_a_repeated_scan_is_quarantined_after_the_first():
    result = _events(EVENT, {**EVENT, "location": "US"}, {**EVENT, "event_id": "SHP-1-1"})
    assert list(result.quarantined["reason"]) == ["duplicate_event_id"]
    assert list(result.valid["location"]) == ["DE", "DE"]


def test_every_reason_has_a_place():
    assert ORDER_SCHEMA.reasons()[-2:] == ("future_timestamp", "duplicate_order_id")
    assert "unknown_event_type" in SHIPMENT_EVENT_SCHEMA.reasons()
