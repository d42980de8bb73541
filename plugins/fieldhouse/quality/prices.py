"""Validation of price bars: the bar schema, trading calendars and the rules only prices have.

A bar is ``event_id, instrument, bar_start, open, high, low, close, volume``. After
the engine's checks on the fields (missing, ``bad_timestamp``, ``bad_value``,
``unknown_instrument``, ``ancient_timestamp`` for a bar before 1970), a bar is
quarantined, first failing rule only, for:

1. ``missing_field:volume``  no volume from an instrument that has one (an index has none)
2. ``ohlc_inconsistent``     high below open, close or low, or low above open or close
3. ``non_positive_price``    a price of zero or less
4. ``negative_volume``       volume below zero (an index may report 0)
5. ``outside_trading_hours`` bar_start outside its instrument's trading calendar
6. ``future_timestamp``      later than the interval end plus a tolerance
7. ``conflicting_event_id``  a bar sent again with other values: every version
8. ``duplicate_event_id``    a bar sent again with the same values: the copies

The context needs ``instruments``: a frame with ``instrument_id``, ``calendar`` and,
optionally, ``has_volume`` (missing or empty: the instrument has a volume).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from fieldhouse.quality.core import (
    Batch,
    Field,
    Kind,
    Rule,
    ValidationResult,
    WireSchema,
    not_after_interval_end,
    validate,
)
from fieldhouse.storage.keys import Interval

_DAY_MINUTES = 1440
_WEEK_MINUTES = 7 * _DAY_MINUTES
_SUNDAY, _FRIDAY = 6, 4  # Monday is 0

CALENDARS: Mapping[str, str] = {
    "equity": "Monday to Friday, 14:30 to 21:00 UTC",
    "fx": "Sunday 22:00 to Friday 22:00 UTC, continuously",
    "daily": "one date-only bar a day, Monday to Friday, stamped 00:00 UTC",
}
"""Trading calendars; a bar must start inside its instrument's session."""


def in_trading_hours(calendar: np.ndarray, moment: np.ndarray) -> np.ndarray:
    """Whether each naive-UTC ``datetime64`` falls in the session of its calendar name.

    Unknown calendars and NaT are never in session.
    """
    minutes = moment.astype("datetime64[m]").astype(np.int64)
    # 1970-01-01 was a Thursday: shifting by three days makes Monday day 0 of a week.
    week_minute = (minutes + 3 * _DAY_MINUTES) % _WEEK_MINUTES
    weekday = week_minute // _DAY_MINUTES
    day_minute = week_minute % _DAY_MINUTES
    equity = (weekday < 5) & (day_minute >= 14 * 60 + 30) & (day_minute < 21 * 60)
    fx_open = _SUNDAY * _DAY_MINUTES + 22 * 60
    fx_close = _FRIDAY * _DAY_MINUTES + 22 * 60
    fx = (week_minute >= fx_open) | (week_minute < fx_close)
    daily = (weekday < 5) & (moment == moment.astype("datetime64[D]"))
    known = ~np.isnat(moment)
    return known & (
        (np.equal(calendar, "equity") & equity)
        | (np.equal(calendar, "fx") & fx)
        | (np.equal(calendar, "daily") & daily)
    )


def _registered_instruments(context: Mapping[str, object]) -> pd.Series:
    return context["instruments"]["instrument_id"]


def _calendars(batch: Batch) -> Mapping[str, str]:
    def build() -> dict[str, str]:
        frame = batch.context["instruments"].drop_duplicates("instrument_id")
        return frame.set_index("instrument_id")["calendar"].dropna().to_dict()

    return batch.memo("calendars", build)


def _without_volume(batch: Batch) -> set[str]:
    """Instruments whose registry entry says they report no volume (an index)."""

    def build() -> set[str]:
        frame = batch.context["instruments"]
        if "has_volume" not in frame.columns:
            return set()
        frame = frame.drop_duplicates("instrument_id")
        flags = frame["has_volume"].map(_is_false).to_numpy(dtype=bool)
        return set(frame.loc[flags, "instrument_id"])

    return batch.memo("without_volume", build)


def _is_false(flag: object) -> bool:
    # Registries written from files may hold the flag as text.
    if isinstance(flag, str):
        return flag.strip().lower() in ("false", "0", "no")
    return flag is not None and not pd.isna(flag) and not bool(flag)


def _missing_volume(batch: Batch) -> np.ndarray:
    missing = np.equal(batch.text("volume"), None) | np.equal(batch.text("volume"), "")
    return missing & ~batch.isin("instrument", _without_volume(batch))


def _ohlc_inconsistent(batch: Batch) -> np.ndarray:
    o, h, low, c = batch["open"], batch["high"], batch["low"], batch["close"]
    return (h < np.maximum(np.maximum(o, c), low)) | (low > np.minimum(o, c))


def _non_positive_price(batch: Batch) -> np.ndarray:
    prices = np.column_stack([batch[name] for name in ("open", "high", "low", "close")])
    return (prices <= 0).any(axis=1)


def _negative_volume(batch: Batch) -> np.ndarray:
    return batch["volume"] < 0


def _outside_trading_hours(batch: Batch) -> np.ndarray:
    calendar = batch.lookup("instrument", _calendars(batch))
    started = batch["bar_start"]
    return ~np.isnat(started) & ~in_trading_hours(calendar, started)


PRICE_SCHEMA = WireSchema(
    name="prices.bars",
    fields=(
        Field("event_id"),
        Field("instrument", allowed=_registered_instruments, unknown_reason="unknown_instrument"),
        Field("bar_start", Kind.TIMESTAMP),
        Field("open", Kind.DECIMAL),
        Field("high", Kind.DECIMAL),
        Field("low", Kind.DECIMAL),
        Field("close", Kind.DECIMAL),
        Field("volume", Kind.INTEGER, required=False),
    ),
    rules=(
        Rule("missing_field:volume", _missing_volume),
        Rule("ohlc_inconsistent", _ohlc_inconsistent),
        Rule("non_positive_price", _non_positive_price),
        Rule("negative_volume", _negative_volume),
        Rule("outside_trading_hours", _outside_trading_hours),
        not_after_interval_end("bar_start"),
    ),
    key="event_id",
)
"""An OHLCV bar on the wire; the context needs ``instruments``."""


def validate_bars(
    wire: pd.DataFrame,
    instruments: pd.DataFrame,
    interval: Interval,
    *,
    future_tolerance: timedelta = timedelta(minutes=5),
    ingested_at: datetime,
) -> ValidationResult:
    """Split a wire frame of bars into typed valid bars and quarantined rows with a reason."""
    return validate(
        wire,
        PRICE_SCHEMA,
        interval,
        ingested_at=ingested_at,
        context={"instruments": instruments, "future_tolerance": future_tolerance},
    )
