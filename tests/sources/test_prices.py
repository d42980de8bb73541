"""The price simulator: deterministic, inside the calendar, faulty only where it says so."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest

from fieldhouse.quality.prices import PRICE_SCHEMA, in_trading_hours, validate_bars
from fieldhouse.sources.prices import (
    INSTRUMENTS,
    PriceFaults,
    instruments_frame,
    simulate_bars,
)
from fieldhouse.storage.keys import Interval

SEED = 5
WEEK = Interval.parse("2026-11-16T00:00:00+00:00", "2026-11-23T00:00:00+00:00")
REGISTRY = instruments_frame(INSTRUMENTS)


@pytest.fixture(scope="module")
def clean_week():
    return simulate_bars(INSTRUMENTS, WEEK, SEED, faults=PriceFaults.none())


def _validate(batch, interval=WEEK):
    result = validate_bars(batch.readings, REGISTRY, interval, ingested_at=interval.end)
    assert result.reconciles
    return result


def test_the_registry_has_the_promised_mix():
    assert Counter(i.asset_class for i in INSTRUMENTS) == {
        "equity": 3,
        "index": 1,
        "currency_pair": 1,
    }
    assert set(REGISTRY["calendar"]) == {"equity", "fx"}
    assert REGISTRY["instrument_id"].is_unique


def test_a_clean_week_is_entirely_valid(clean_week):
    assert list(clean_week.readings.columns) == list(PRICE_SCHEMA.wire_columns)
    result = _validate(clean_week)
    assert result.quarantined.empty
    counts = result.valid["instrument"].value_counts()
    assert counts["ACME"] == 5 * 78  # 14:30-21:00 in 5-minute bars, five days
    assert counts["EURUSD"] == 5 * 288  # Sunday 22:00 to Friday 22:00


def test_bars_are_inside_the_calendar_and_consistent(clean_week):
    valid = _validate(clean_week).valid
    calendar = valid["instrument"].map(
        dict(zip(REGISTRY["instrument_id"], REGISTRY["calendar"], strict=True))
    )
    at = valid["bar_start"].dt.tz_convert(None).to_numpy(dtype="datetime64[us]")
    assert in_trading_hours(calendar.to_numpy(dtype=object), at).all()
    assert (valid["high"] >= valid[["open", "close", "low"]].max(axis=1)).all()
    assert (valid["low"] <= valid[["open", "close"]].min(axis=1)).all()
    assert (valid.loc[valid["instrument"] == "FH500", "volume"] == 0).all()
    assert (valid.loc[valid["instrument"] == "ACME", "volume"] > 0).all()


def test_same_inputs_same_bars_and_an_hour_is_a_slice_of_the_week(clean_week):
    again = simulate_bars(INSTRUMENTS, WEEK, SEED, faults=PriceFaults.none())
    pd.testing.assert_frame_equal(clean_week.readings, again.readings)
    hour = Interval.parse("2026-11-18T15:00:00+00:00")
    alone = simulate_bars(INSTRUMENTS[:1], hour, SEED, faults=PriceFaults.none()).readings
    within = clean_week.readings[
        (clean_week.readings["instrument"] == "ACME")
        & clean_week.readings["bar_start"].between("2026-11-18T15:00:00Z", "2026-11-18T15:55:00Z")
    ]
    assert len(alone) == 12
    pd.testing.assert_frame_equal(alone, within.reset_index(drop=True))
    other = simulate_bars(INSTRUMENTS, WEEK, SEED + 1, faults=PriceFaults.none())
    assert not other.readings["close"].equals(clean_week.readings["close"])


def test_each_session_has_one_regime_and_both_occur(clean_week):
    labels = clean_week.labels
    # An FX session runs from 22:00 UTC to 22:00 UTC; equity ones end before 22:00.
    session = (labels["bar_start"] + pd.Timedelta(hours=2)).dt.floor("D")
    assert (labels.groupby([labels["instrument"], session])["regime"].nunique() == 1).all()
    assert set(labels["regime"]) <= {"calm", "volatile"}
    long_run = simulate_bars(
        INSTRUMENTS, Interval.parse("2026-09-01T00:00:00+00:00", "2026-11-01T00:00:00+00:00"), 1
    )
    assert set(long_run.labels["regime"]) == {"calm", "volatile"}
    assert long_run.labels["opening_gap"].any()


def test_volatile_sessions_move_more():
    run = simulate_bars(
        INSTRUMENTS[:1],
        Interval.parse("2026-06-01T00:00:00+00:00", "2026-11-01T00:00:00+00:00"),
        SEED,
        faults=PriceFaults(news_gap=0.0, missing_bar=0.0, duplicate=0.0, malformed=0.0),
    )
    bars = run.readings.astype({"open": float, "close": float})
    move = np.abs(np.log(bars["close"] / bars["open"]))
    regime = run.labels.set_index("event_id").loc[bars["event_id"], "regime"].to_numpy()
    assert move[regime == "volatile"].mean() > 1.8 * move[regime == "calm"].mean()


def test_missing_bars_leave_gaps():
    faults = PriceFaults(missing_bar=0.05, duplicate=0.0, malformed=0.0)
    bars = simulate_bars(INSTRUMENTS[:1], WEEK, SEED, faults=faults).readings
    assert 300 < len(bars) < 5 * 78
    assert len(bars) == len(simulate_bars(INSTRUMENTS[:1], WEEK, SEED, faults=faults).labels)


def test_a_faulty_week_reconciles_with_the_expected_reasons():
    faults = PriceFaults(malformed=0.03, duplicate=0.03)
    batch = simulate_bars(INSTRUMENTS, WEEK, SEED, faults=faults)
    result = _validate(batch)
    assert result.rows_in == len(batch.readings)
    assert set(result.reasons) == {
        "bad_value",
        "ohlc_inconsistent",
        "outside_trading_hours",
        "unknown_instrument",
        "duplicate_event_id",
    }
    assert result.valid["event_id"].is_unique
    assert set(result.valid["event_id"]) <= set(batch.labels["event_id"])


def test_an_interval_without_trading_is_empty():
    saturday = Interval.parse("2026-11-21T12:00:00+00:00")
    batch = simulate_bars(INSTRUMENTS, saturday, SEED)
    assert batch.readings.empty and batch.labels.empty
    assert list(batch.readings.columns) == list(PRICE_SCHEMA.wire_columns)
    assert str(batch.labels["bar_start"].dtype) == "datetime64[us, UTC]"
