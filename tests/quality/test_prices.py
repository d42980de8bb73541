"""Price bar validation: each rule, its order, and the trading calendars."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from fieldhouse.quality.prices import PRICE_SCHEMA, in_trading_hours, validate_bars
from fieldhouse.storage.keys import Interval

INTERVAL = Interval.parse("2026-11-18T15:00:00+00:00")  # a Wednesday
INGESTED_AT = datetime(2026, 11, 18, 16, 2, tzinfo=UTC)
INSTRUMENTS = pd.DataFrame({"instrument_id": ["ACME", "EURUSD"], "calendar": ["equity", "fx"]})
GOOD = {
    "event_id": "ACME-5m-1",
    "instrument": "ACME",
    "bar_start": "2026-11-18T15:05:00Z",
    "open": "180.10",
    "high": "180.50",
    "low": "179.90",
    "close": "180.30",
    "volume": "42000",
    "origin": "test",
}


def _row(**changes) -> dict:
    return {**GOOD, **changes}


def _validate(*rows: dict, registry: pd.DataFrame = INSTRUMENTS):
    wire = pd.DataFrame(
        {
            column: pd.Series([row.get(column) for row in rows], dtype=object)
            for column in PRICE_SCHEMA.wire_columns
        }
    )
    result = validate_bars(wire, registry, INTERVAL, ingested_at=INGESTED_AT)
    assert result.reconciles
    return result


def test_a_good_bar_is_valid_and_typed():
    result = _validate(GOOD)
    assert result.quarantined.empty
    bar = result.valid.iloc[0]
    assert (bar["open"], bar["high"], bar["low"], bar["close"]) == (180.1, 180.5, 179.9, 180.3)
    assert bar["volume"] == 42000
    assert str(result.valid["volume"].dtype) == "Int64"
    assert bar["bar_start"] == pd.Timestamp("2026-11-18T15:05:00Z")


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"close": "180,30"}, "bad_value"),
        ({"volume": "4.2e4"}, "bad_value"),
        ({"instrument": "ZZZZ"}, "unknown_instrument"),
        ({"high": "179.00", "low": "181.00"}, "ohlc_inconsistent"),
        ({"high": "180.20"}, "ohlc_inconsistent"),  # below the close
        ({"low": "180.20"}, "ohlc_inconsistent"),  # above the open
        ({"open": "0", "low": "0"}, "non_positive_price"),
        ({"open": "-1", "high": "-0.5", "low": "-2", "close": "-1"}, "non_positive_price"),
        ({"volume": "-1"}, "negative_volume"),
        ({"bar_start": "2026-11-18T03:00:00Z"}, "outside_trading_hours"),
        ({"bar_start": "2026-11-21T15:00:00Z"}, "outside_trading_hours"),  # Saturday
        ({"bar_start": "2026-11-18T21:00:00Z"}, "outside_trading_hours"),  # the close
        ({"bar_start": "2026-11-18T20:55:00Z"}, "future_timestamp"),
        ({"bar_start": "9999-01-04T15:05:00Z"}, "future_timestamp"),  # a Monday
        ({"bar_start": "1900-01-02T15:05:00Z"}, "ancient_timestamp"),  # a Tuesday
    ],
)
def test_each_rule_quarantines_with_its_reason(changes, reason):
    result = _validate(_row(**changes))
    assert list(result.quarantined["reason"]) == [reason]


def test_rules_apply_in_order():
    rows = [
        _row(event_id="a", instrument="ZZZZ", high="1", open="-1"),
        _row(event_id="b", high="1", open="-1", volume="-5"),
        _row(event_id="c", open="-1", low="-2", volume="-5"),
        _row(event_id="d", volume="-5", bar_start="2026-11-18T03:00:00Z"),
        _row(event_id="e", bar_start="2026-11-19T03:00:00Z"),
        _row(event_id="f"),
        _row(event_id="f"),
    ]
    assert list(_validate(*rows).quarantined["reason"]) == [
        "unknown_instrument",
        "ohlc_inconsistent",
        "non_positive_price",
        "negative_volume",
        "outside_trading_hours",
        "duplicate_event_id",
    ]


def test_an_index_may_report_zero_volume():
    assert _validate(_row(volume="0")).quarantined.empty


@pytest.mark.parametrize(
    ("moment", "equity", "fx"),
    [
        ("2026-11-18T14:29:59", False, True),
        ("2026-11-18T14:30:00", True, True),
        ("2026-11-18T20:59:59", True, True),
        ("2026-11-18T21:00:00", False, True),
        ("2026-11-20T21:59:59", False, True),  # Friday
        ("2026-11-20T22:00:00", False, False),
        ("2026-11-21T12:00:00", False, False),  # Saturday
        ("2026-11-22T21:59:59", False, False),  # Sunday
        ("2026-11-22T22:00:00", False, True),
        ("2026-11-23T00:00:00", False, True),  # Monday
    ],
)
def test_trading_calendars(moment, equity, fx):
    at = np.array([moment, moment, moment], dtype="datetime64[us]")
    calendars = np.array(["equity", "fx", None], dtype=object)
    assert list(in_trading_hours(calendars, at)) == [equity, fx, False]


def test_nat_is_never_in_session():
    at = np.array(["NaT"], dtype="datetime64[us]")
    assert not in_trading_hours(np.array(["fx"], dtype=object), at).any()


@pytest.mark.parametrize(
    ("moment", "daily"),
    [
        ("2026-11-16T00:00:00", True),  # Monday
        ("2026-11-20T00:00:00", True),  # Friday
        ("2026-11-21T00:00:00", False),  # Saturday
        ("2026-11-22T00:00:00", False),  # Sunday
        ("2026-11-18T00:00:01", False),  # a daily bar is stamped at midnight
        ("2026-11-18T15:00:00", False),
    ],
)
def test_the_daily_calendar_is_midnight_on_weekdays(moment, daily):
    at = np.array([moment], dtype="datetime64[us]")
    assert list(in_trading_hours(np.array(["daily"], dtype=object), at)) == [daily]


def _registry(**has_volume) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "instrument_id": ["ACME", "FH500"],
            "calendar": ["equity", "equity"],
            "has_volume": [has_volume.get("ACME", True), has_volume.get("FH500", False)],
        }
    )


def test_an_instrument_without_volume_may_leave_it_out():
    rows = [
        _row(event_id="a", instrument="FH500", volume=None),
        _row(event_id="b", instrument="FH500", volume=""),
        _row(event_id="c", instrument="ACME", volume=None),
        _row(event_id="d", instrument="FH500", volume="0"),
    ]
    result = _validate(*rows, registry=_registry())
    assert list(result.valid["event_id"]) == ["a", "b", "d"]
    assert result.valid["volume"].isna().tolist() == [True, True, False]
    assert list(result.quarantined["reason"]) == ["missing_field:volume"]
    assert list(result.quarantined["event_id"]) == ["c"]


def test_volume_is_required_unless_the_registry_says_otherwise():
    silent = _row(volume=None)
    assert list(_validate(silent).quarantined["reason"]) == ["missing_field:volume"]
    as_text = _registry(ACME="false")  # a registry read from a file holds text
    assert _validate(silent, registry=as_text).quarantined.empty
    unknown = _registry(ACME=None)
    missing = _validate(silent, registry=unknown)
    assert list(missing.quarantined["reason"]) == ["missing_field:volume"]


def test_a_daily_bar_is_valid_on_its_calendar():
    registry = pd.DataFrame({"instrument_id": ["AAPL"], "calendar": ["daily"]})
    bar = _row(instrument="AAPL", bar_start="2026-11-18T00:00:00Z")
    assert _validate(bar, registry=registry).quarantined.empty
    late = _row(instrument="AAPL", bar_start="2026-11-18T15:00:00Z")
    outside = _validate(late, registry=registry)
    assert list(outside.quarantined["reason"]) == ["outside_trading_hours"]
