"""Transaction and chargeback validation: each rule by a minimal example, and their order."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from fieldhouse.contracts.catalog import load_catalog
from fieldhouse.quality.finance import (
    CHARGEBACK_SCHEMA,
    TRANSACTION_SCHEMA,
    validate_chargebacks,
    validate_transactions,
)
from fieldhouse.storage.keys import Interval

INTERVAL = Interval.parse("2026-11-18T15:00:00+00:00")
INGESTED_AT = datetime(2026, 11, 18, 16, 2, tzinfo=UTC)
TRANSACTION = {
    "transaction_id": "TX-1",
    "customer_id": "CUST-00001",
    "ts": "2026-11-18T15:05:00Z",
    "amount": "23.40",
    "currency": "USD",
    "merchant_category": "grocery",
    "channel": "card_present",
    "country": "US",
    "device_id": "DEV-1",
    "origin": "test",
}
CHARGEBACK = {
    "chargeback_id": "CB-TX-1",
    "transaction_id": "TX-1",
    "customer_id": "CUST-00001",
    "reported_at": "2026-11-18T15:40:00Z",
    "amount": "23.40",
    "currency": "USD",
    "reason_code": "fraud_card_not_present",
    "origin": "test",
}


def _wire(schema, rows):
    return pd.DataFrame(
        {
            column: pd.Series([row.get(column) for row in rows], dtype=object)
            for column in schema.wire_columns
        }
    )


def _transactions(*rows: dict):
    wire = _wire(TRANSACTION_SCHEMA, rows)
    result = validate_transactions(wire, INTERVAL, ingested_at=INGESTED_AT)
    assert result.reconciles
    assert len(result.valid) + len(result.quarantined) == len(rows)
    return result


def _chargebacks(*rows: dict):
    wire = _wire(CHARGEBACK_SCHEMA, rows)
    result = validate_chargebacks(wire, INTERVAL, ingested_at=INGESTED_AT)
    assert result.reconciles
    assert len(result.valid) + len(result.quarantined) == len(rows)
    return result


def test_a_good_transaction_is_valid_and_typed():
    result = _transactions(TRANSACTION)
    assert result.quarantined.empty
    row = result.valid.iloc[0]
    assert row["amount"] == 23.4
    assert row["ts"] == pd.Timestamp("2026-11-18T15:05:00Z")
    assert list(result.valid.columns[:-2]) == list(TRANSACTION_SCHEMA.field_names)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"transaction_id": ""}, "missing_field:transaction_id"),
        ({"device_id": None}, "missing_field:device_id"),
        ({"ts": "18/11/2026 15:05"}, "bad_timestamp"),
        ({"amount": "23,40"}, "bad_value"),
        ({"amount": "NaN"}, "bad_value"),
        ({"currency": "XYZ"}, "unknown_currency"),
        ({"merchant_category": "casino"}, "unknown_merchant_category"),
        ({"channel": "carrier_pigeon"}, "unknown_channel"),
        ({"country": "XX"}, "unknown_country"),
        ({"amount": "0.00"}, "non_positive_amount"),
        ({"amount": "-23.40"}, "non_positive_amount"),
        ({"ts": "2026-11-18T18:00:00+01:00"}, "future_timestamp"),
        ({"ts": "9999-01-01T00:00:00Z"}, "future_timestamp"),
        ({"ts": "1900-01-01T00:00:00Z"}, "ancient_timestamp"),
    ],
)
def test_each_transaction_rule(changes, reason):
    result = _transactions({**TRANSACTION, **changes})
    assert result.valid.empty
    assert list(result.quarantined["reason"]) == [reason]
    assert result.reasons == {reason: 1}


def test_a_repeated_transaction_keeps_the_first_and_only_the_first_failing_rule_counts():
    rows = [
        {**TRANSACTION, "transaction_id": "a", "channel": "fax", "amount": "0"},
        {**TRANSACTION, "transaction_id": "b", "amount": "0", "ts": "2026-11-19T00:00:00Z"},
        {**TRANSACTION, "transaction_id": "c", "ts": "2026-11-19T00:00:00Z"},
        {**TRANSACTION, "transaction_id": "d"},
        {**TRANSACTION, "transaction_id": "d"},
        {**TRANSACTION, "transaction_id": "e", "amount": "0"},
    ]
    result = _transactions(*rows)
    assert list(result.quarantined["reason"]) == [
        "unknown_channel",
        "non_positive_amount",
        "future_timestamp",
        "duplicate_transaction_id",
        "non_positive_amount",
    ]
    assert result.reasons == {
        "unknown_channel": 1,
        "non_positive_amount": 2,
        "future_timestamp": 1,
        "duplicate_transaction_id": 1,
    }
    assert list(result.valid["amount"]) == [23.4]


def test_a_good_chargeback_is_valid():
    assert _chargebacks(CHARGEBACK).quarantined.empty


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"transaction_id": None}, "missing_field:transaction_id"),
        ({"reported_at": "2026-11-18 15:40"}, "bad_timestamp"),
        ({"amount": "23,40"}, "bad_value"),
        ({"currency": "usd"}, "unknown_currency"),
        ({"reason_code": "changed_mind"}, "unknown_reason_code"),
        ({"amount": "0"}, "non_positive_amount"),
        ({"reported_at": "2026-11-18T16:05:01Z"}, "future_timestamp"),
        ({"reported_at": "9999-01-01T00:00:00Z"}, "future_timestamp"),
        ({"reported_at": "1900-01-01T00:00:00Z"}, "ancient_timestamp"),
    ],
)
def test_each_chargeback_rule(changes, reason):
    result = _chargebacks({**CHARGEBACK, **changes})
    assert result.valid.empty
    assert list(result.quarantined["reason"]) == [reason]


def test_a_repeated_chargeback_is_quarantined_after_the_first():
    result = _chargebacks(CHARGEBACK, CHARGEBACK)
    assert list(result.quarantined["reason"]) == ["duplicate_chargeback_id"]
    assert len(result.valid) == 1


def test_countries_and_currencies_are_iso_and_the_rest_the_catalog_s():
    swiss = {**TRANSACTION, "country": "CH", "currency": "CHF"}
    assert _transactions(swiss).quarantined.empty
    mobile = {**TRANSACTION, "channel": "mobile_wallet"}
    assert list(_transactions(mobile).quarantined["reason"]) == ["unknown_channel"]
    catalog = load_catalog().merged({"channels": {"mobile_wallet": {}}})
    wire = _wire(TRANSACTION_SCHEMA, [mobile])
    result = validate_transactions(wire, INTERVAL, ingested_at=INGESTED_AT, catalog=catalog)
    assert result.quarantined.empty
