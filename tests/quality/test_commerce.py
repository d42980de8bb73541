"""Order and scan event validation: each rule by a minimal example, and their order."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from fieldhouse.contracts.catalog import load_catalog
from fieldhouse.quality.commerce import (
    ORDER_SCHEMA,
    SHIPMENT_EVENT_SCHEMA,
    SHIPMENT_SCHEMA,
    validate_orders,
    validate_shipment_events,
    validate_shipments,
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


def _run(validator, schema, rows, **options):
    result = validator(_wire(schema, rows), INTERVAL, ingested_at=INGESTED_AT, **options)
    assert result.reconciles
    assert len(result.valid) + len(result.quarantined) == len(rows)
    return result


def _orders(*rows: dict):
    return _run(validate_orders, ORDER_SCHEMA, rows)


def _events(*rows: dict, **options):
    return _run(validate_shipment_events, SHIPMENT_EVENT_SCHEMA, rows, **options)


def _shipments(*rows: dict):
    return _run(validate_shipments, SHIPMENT_SCHEMA, rows)


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
        ({"ordered_at": "9999-01-01T00:00:00Z"}, "future_timestamp"),
        ({"ordered_at": "1900-01-01T00:00:00Z"}, "ancient_timestamp"),
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
        {**ORDER, "order_id": "f"},
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
        ({"event_ts": "9999-01-01T00:00:00Z"}, "future_timestamp"),
        ({"event_ts": "1969-12-31T23:59:59Z"}, "ancient_timestamp"),
    ],
)
def test_each_event_rule(changes, reason):
    result = _events({**EVENT, **changes})
    assert result.valid.empty
    assert list(result.quarantined["reason"]) == [reason]


def test_a_repeated_scan_is_quarantined_after_the_first():
    result = _events(EVENT, EVENT, {**EVENT, "event_id": "SHP-1-1"})
    assert list(result.quarantined["reason"]) == ["duplicate_event_id"]
    assert list(result.valid["location"]) == ["DE", "DE"]


def test_every_reason_has_a_place():
    assert ORDER_SCHEMA.reasons()[-3:] == (
        "future_timestamp",
        "conflicting_order_id",
        "duplicate_order_id",
    )
    assert "unknown_event_type" in SHIPMENT_EVENT_SCHEMA.reasons()


# --- catalog vocabularies, regions and promised dates on orders ------------------------


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"destination_country": "CH", "currency": "CHF"}, None),  # ISO; no currency to check
        ({"destination_country": "CH", "currency": "USD"}, None),
        ({"destination_country": "US", "currency": "USD", "destination_region": "US-CA"}, None),
        ({"destination_region": "DE-BY"}, None),
        ({"destination_region": ""}, None),
        ({"destination_region": "US-CA"}, "unknown_region"),  # not in Germany
        ({"destination_region": "Bavaria"}, "unknown_region"),  # names are resolved before
        ({"destination_region": "DE-BY", "amount": "0"}, "non_positive_amount"),
        ({"promised_at": "2026-11-25T00:00:00Z"}, None),
        ({"promised_at": "next week"}, "bad_timestamp"),
        ({"promised_at": "9999-12-31T00:00:00Z"}, "future_timestamp"),  # an ERP's "open"
        ({"promised_at": "1900-01-01T00:00:00Z"}, "ancient_timestamp"),
        ({"currency": "CHF"}, "currency_mismatch"),
    ],
)
def test_orders_check_regions_and_currencies_from_the_catalog(changes, reason):
    result = _orders({**ORDER, **changes})
    assert list(result.quarantined["reason"]) == ([reason] if reason else [])


def test_new_order_fields_are_optional_and_come_last():
    assert ORDER_SCHEMA.field_names[-2:] == ("destination_region", "promised_at")
    result = _orders({**ORDER, "destination_region": "DE-BE", "promised_at": "2026-11-20T12:00Z"})
    order = result.valid.iloc[0]
    assert order["destination_region"] == "DE-BE"
    assert order["promised_at"] == pd.Timestamp("2026-11-20T12:00:00Z")


def test_a_carrier_added_to_the_catalog_is_accepted():
    scan = {**EVENT, "carrier": "nordfrakt"}
    assert list(_events(scan).quarantined["reason"]) == ["unknown_carrier"]
    catalog = load_catalog().merged({"carriers": {"nordfrakt": {"name": "Nordfrakt"}}})
    assert _events(scan, catalog=catalog).quarantined.empty


# --- shipments -------------------------------------------------------------------------

SHIPMENT = {
    "shipment_id": "82793",
    "order_id": "SCMS-81",
    "destination_country": "CI",
    "shipment_mode": "Air",
    "ordered_at": "2026-11-01T00:00:00Z",
    "promised_at": "2026-11-10T00:00:00Z",
    "delivered_at": "2026-11-12T00:00:00Z",
    "origin": "test",
}


def test_shipment_fields_in_order():
    assert SHIPMENT_SCHEMA.name == "commerce.shipments"
    assert SHIPMENT_SCHEMA.key == "shipment_id"
    assert SHIPMENT_SCHEMA.field_names == (
        "shipment_id",
        "order_id",
        "destination_country",
        "destination_region",
        "carrier",
        "shipment_mode",
        "ordered_at",
        "promised_at",
        "delivered_at",
    )


def test_a_shipment_with_only_its_id_and_country_is_valid():
    minimal = {"shipment_id": "1", "destination_country": "VN", "origin": "test"}
    result = _shipments(SHIPMENT, minimal)
    assert result.quarantined.empty
    assert list(result.valid["delivered_at"].isna()) == [False, True]
    assert result.valid.iloc[0]["promised_at"] == pd.Timestamp("2026-11-10T00:00:00Z")


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"shipment_id": ""}, "missing_field:shipment_id"),
        ({"destination_country": None}, "missing_field:destination_country"),
        ({"delivered_at": "12-Nov-26"}, "bad_timestamp"),
        ({"destination_country": "Ivory Coast"}, "unknown_country"),
        ({"carrier": "acme_freight"}, "unknown_carrier"),
        ({"destination_region": "FR-IDF"}, "unknown_region"),
        ({"delivered_at": "2026-10-31T23:59:59Z"}, "delivered_before_ordered"),
        ({"delivered_at": "2026-11-18T16:05:01Z"}, "future_timestamp"),
        ({"delivered_at": "9999-01-01T00:00:00Z"}, "future_timestamp"),
        ({"promised_at": "9999-12-31T00:00:00Z"}, "future_timestamp"),
        ({"ordered_at": "1900-01-01T00:00:00Z"}, "ancient_timestamp"),
    ],
)
def test_each_shipment_rule(changes, reason):
    result = _shipments({**SHIPMENT, **changes})
    assert result.valid.empty
    assert list(result.quarantined["reason"]) == [reason]


def test_a_shipment_missing_a_date_is_not_judged_on_it():
    rows = [
        {**SHIPMENT, "shipment_id": "a", "ordered_at": None},
        {**SHIPMENT, "shipment_id": "b", "delivered_at": None},
        {**SHIPMENT, "shipment_id": "c", "carrier": "swiftpost", "destination_region": "CI-AB"},
    ]
    assert _shipments(*rows).quarantined.empty


def test_a_shipment_sent_twice_keeps_one():
    result = _shipments(SHIPMENT, SHIPMENT, {**SHIPMENT, "shipment_id": "x"})
    assert list(result.quarantined["reason"]) == ["duplicate_shipment_id"]
    assert len(result.valid) == 2
