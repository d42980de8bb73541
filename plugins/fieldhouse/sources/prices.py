"""A simulated market feed of intraday price bars that stands in for a real one.

Five instruments (three equities, an index and a currency pair) trade on their
calendar only (see :data:`fieldhouse.quality.prices.CALENDARS`). Each session is a
random walk of log-returns whose volatility is set by the day's regime, ``calm``
or ``volatile``; sessions open where a slow drift of the price level puts them,
so the gap to the previous close is an ordinary overnight gap, and now and then
a larger opening gap on news. A bar is occasionally missing.

Like the fleet, the feed carries a small share of malformed records (a bad
number, high below low, a bar outside trading hours, an unknown instrument) and
of duplicates. Labels give each bar's regime and whether it opened with a news
gap, so volatility models can be scored against the truth.

Every random draw is seeded from ``(seed, instrument, session)``: a bar does not
depend on which other instruments are simulated with it, nor on the interval it
is requested through.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fieldhouse.quality.prices import PRICE_SCHEMA, in_trading_hours
from fieldhouse.sources.simulation import SimulatedBatch, iso_text, stable_hash
from fieldhouse.storage.keys import Interval

ORIGIN = "price_simulator"
DAY = 86_400
_YEAR_MINUTES = 252 * 390.0  # annualised volatility is quoted per equity trading year
LABEL_COLUMNS = ("event_id", "instrument", "bar_start", "regime", "opening_gap")
UNKNOWN_INSTRUMENT = "ZZZZ"
_MALFORMATIONS = 4  # see _wire_frame: bad number, high < low, outside hours, unknown


@dataclass(frozen=True)
class Instrument:
    instrument_id: str
    name: str
    asset_class: str  # equity, index, currency_pair
    currency: str
    calendar: str  # a key of fieldhouse.quality.prices.CALENDARS
    price: float  # level around which the price drifts
    volatility: float  # annualised, in a calm regime
    volume: int  # typical volume of a bar; 0 for an index
    decimals: int

    @property
    def has_volume(self) -> bool:
        """Whether its bars carry a traded volume (an index's do not)."""
        return self.volume > 0


# The registry attributes (name to calendar) are the catalog's, contracts/catalogs/market.yaml;
# the rest is how the simulator moves them.
INSTRUMENTS: tuple[Instrument, ...] = (
    Instrument("ACME", "Acme Industries", "equity", "USD", "equity", 182.0, 0.25, 42_000, 2),
    Instrument("GLBX", "Globex Logistics", "equity", "USD", "equity", 64.5, 0.35, 95_000, 2),
    Instrument("INIT", "Initech Software", "equity", "USD", "equity", 23.1, 0.45, 160_000, 2),
    Instrument("FH500", "Fieldhouse 500 Index", "index", "USD", "equity", 5120.0, 0.15, 0, 2),
    Instrument("EURUSD", "Euro / US dollar", "currency_pair", "USD", "fx", 1.085, 0.07, 3_500, 5),
)


@dataclass(frozen=True)
class PriceFaults:
    """How often each fault happens, per bar unless said otherwise."""

    volatile_day: float = 0.25  # per session
    volatile_multiplier: float = 2.5
    news_gap: float = 0.15  # per session: the open jumps
    missing_bar: float = 0.01
    duplicate: float = 0.005
    malformed: float = 0.003

    @classmethod
    def none(cls) -> PriceFaults:
        return cls(news_gap=0.0, missing_bar=0.0, duplicate=0.0, malformed=0.0)


DEFAULT_FAULTS = PriceFaults()


def instruments_frame(instruments: Sequence[Instrument]) -> pd.DataFrame:
    """The instrument registry (the reference table of the price source)."""
    columns = ("instrument_id", "name", "asset_class", "currency", "calendar", "has_volume")
    return pd.DataFrame(
        {c: pd.Series([getattr(i, c) for i in instruments], dtype=object) for c in columns}
    )


def simulate_bars(
    instruments: Sequence[Instrument],
    interval: Interval,
    seed: int,
    *,
    bar_minutes: int = 5,
    faults: PriceFaults = DEFAULT_FAULTS,
) -> SimulatedBatch:
    """The bars starting in ``interval``, as a wire frame, and labels of their regime."""
    if bar_minutes < 1 or DAY % (60 * bar_minutes):
        raise ValueError("bar_minutes must divide a day")
    start, end = int(interval.start.timestamp()), int(interval.end.timestamp())
    bars = []
    for instrument in instruments:
        # A session is a UTC day, shifted by two hours for FX so Sunday 22:00 opens one.
        shift = 2 * 3600 if instrument.calendar == "fx" else 0
        for session in range((start + shift) // DAY, (end - 1 + shift) // DAY + 1):
            day = _session(instrument, session, seed, bar_minutes, faults, shift)
            bars.append(day[(day["second"] >= start) & (day["second"] < end)])
    frame = pd.concat(bars, ignore_index=True) if bars else pd.DataFrame()
    if frame.empty:
        return SimulatedBatch(PRICE_SCHEMA.empty_wire_frame(), _empty_labels())
    frame = frame.sort_values(["second", "instrument"], kind="stable", ignore_index=True)
    return SimulatedBatch(_wire_frame(frame, bar_minutes), _labels(frame, bar_minutes))


@functools.lru_cache(maxsize=4096)
def _session(
    instrument: Instrument,
    session: int,
    seed: int,
    bar_minutes: int,
    faults: PriceFaults,
    shift: int,
) -> pd.DataFrame:
    """Every bar of one instrument's session, before rendering, with its faults drawn."""
    rng = np.random.default_rng(
        np.random.SeedSequence([seed, stable_hash(instrument.instrument_id), session])
    )
    step = 60 * bar_minutes
    seconds = np.arange(session * DAY - shift, (session + 1) * DAY - shift, step, dtype=np.int64)
    calendar = np.full(len(seconds), instrument.calendar, dtype=object)
    seconds = seconds[in_trading_hours(calendar, seconds.astype("datetime64[s]"))]
    n = len(seconds)

    volatile = rng.random() < faults.volatile_day
    news = rng.random() < faults.news_gap
    sigma = instrument.volatility * np.sqrt(bar_minutes / _YEAR_MINUTES)
    sigma *= faults.volatile_multiplier if volatile else 1.0
    returns = sigma * rng.standard_normal(n)
    if n and news:
        returns[0] += rng.choice([-1.0, 1.0]) * rng.uniform(8, 20) * sigma
    level = np.log(instrument.price) + _drift(instrument, session, seed)
    path = level + np.cumsum(returns)
    close = np.exp(path)
    open_ = np.exp(path - returns)  # each bar opens at the previous close
    wick = np.abs(rng.standard_normal((2, n))) * sigma * 0.6
    high = np.maximum(open_, close) * np.exp(wick[0])
    low = np.minimum(open_, close) * np.exp(-wick[1])
    # Busier at the open and the close than at midday (the intraday "U").
    position = np.linspace(-1.0, 1.0, n) if n else np.empty(0)
    activity = (0.6 + 0.8 * position**2) * (1.6 if volatile else 1.0)
    volume = np.round(instrument.volume * activity * rng.lognormal(0, 0.3, n)).astype(np.int64)

    u = rng.random((4, n))
    return pd.DataFrame(
        {
            "instrument": instrument.instrument_id,
            "decimals": instrument.decimals,
            "calendar": instrument.calendar,
            "second": seconds,
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": volume,
            "regime": "volatile" if volatile else "calm",
            "opening_gap": news & (np.arange(n) == 0),
            "missing": u[0] < faults.missing_bar,
            "duplicate": u[1] < faults.duplicate,
            "malformed": np.where(
                u[2] < faults.malformed, (u[3] * _MALFORMATIONS).astype(np.int64), -1
            ),
        }
    )


def _drift(instrument: Instrument, session: int, seed: int) -> float:
    """Log-level of a session's open: slow waves with seeded phases, no history needed."""
    rng = np.random.default_rng(
        np.random.SeedSequence([seed, stable_hash(instrument.instrument_id), 0])
    )
    periods = np.array([9.0, 31.0, 97.0])  # sessions
    phases = rng.uniform(0, 2 * np.pi, len(periods))
    amplitude = instrument.volatility * np.sqrt(periods / 252.0)
    return float(np.sum(amplitude * np.sin(2 * np.pi * session / periods + phases)))


# --- rendering -------------------------------------------------------------------------


def _event_ids(frame: pd.DataFrame, bar_minutes: int) -> np.ndarray:
    return (
        frame["instrument"].to_numpy(dtype=object)
        + f"-{bar_minutes}m-"
        + frame["second"].astype(str).to_numpy(dtype=object)
    )


def _price_text(values: np.ndarray, decimals: np.ndarray) -> np.ndarray:
    return np.array([f"{v:.{d}f}" for v, d in zip(values, decimals, strict=True)], dtype=object)


def _wire_frame(frame: pd.DataFrame, bar_minutes: int) -> pd.DataFrame:
    """Render the bars as text, drop missing ones, add duplicates and malformations."""
    frame = frame[~frame["missing"]]
    copies = np.flatnonzero(frame["duplicate"].to_numpy())
    rows = np.sort(np.concatenate([np.arange(len(frame)), copies]), kind="stable")
    frame = frame.iloc[rows].reset_index(drop=True)
    decimals = frame["decimals"].to_numpy()
    text = {name: _price_text(frame[name].to_numpy(), decimals) for name in ("open", "close")}
    high = _price_text(frame["high"].to_numpy(), decimals)
    low = _price_text(frame["low"].to_numpy(), decimals)
    seconds = frame["second"].to_numpy()
    instrument = frame["instrument"].to_numpy(dtype=object).copy()

    malformed = frame["malformed"].to_numpy()
    bad_number = malformed == 0
    text["close"][bad_number] = [v.replace(".", ",") for v in text["close"][bad_number]]
    high[malformed == 1], low[malformed == 1] = low[malformed == 1], high[malformed == 1]
    # Moved to three in the morning UTC of the same day: outside both calendars on Saturdays,
    # outside the equity one always.
    outside = malformed == 2
    seconds = seconds.copy()
    seconds[outside] = seconds[outside] // DAY * DAY + 3 * 3600
    seconds[outside & (frame["calendar"].to_numpy() == "fx")] += _saturday_offset(
        seconds[outside & (frame["calendar"].to_numpy() == "fx")]
    )
    instrument[malformed == 3] = UNKNOWN_INSTRUMENT

    n = len(frame)
    return pd.DataFrame(
        {
            "event_id": _event_ids(frame, bar_minutes),
            "instrument": instrument,
            "bar_start": iso_text(seconds),
            "open": text["open"],
            "high": high,
            "low": low,
            "close": text["close"],
            "volume": frame["volume"].astype(str).to_numpy(dtype=object),
            "origin": np.full(n, ORIGIN, dtype=object),
            "parse_error": np.full(n, None, dtype=object),
            "raw_record": np.full(n, None, dtype=object),
        }
    )[list(PRICE_SCHEMA.wire_columns)]


def _saturday_offset(seconds: np.ndarray) -> np.ndarray:
    """Seconds to add to move each midnight-based time to the Saturday of its week."""
    weekday = (seconds // DAY + 3) % 7  # Monday is 0
    return ((5 - weekday) % 7) * DAY


def _labels(frame: pd.DataFrame, bar_minutes: int) -> pd.DataFrame:
    kept = frame[~frame["missing"]].reset_index(drop=True)
    return pd.DataFrame(
        {
            "event_id": _event_ids(kept, bar_minutes),
            "instrument": kept["instrument"].to_numpy(dtype=object),
            "bar_start": pd.to_datetime(kept["second"], unit="s", utc=True).astype(
                "datetime64[us, UTC]"
            ),
            "regime": kept["regime"].to_numpy(dtype=object),
            "opening_gap": kept["opening_gap"].to_numpy(dtype=bool),
        }
    )


def _empty_labels() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "event_id": pd.Series([], dtype=object),
            "instrument": pd.Series([], dtype=object),
            "bar_start": pd.Series([], dtype="datetime64[us, UTC]"),
            "regime": pd.Series([], dtype=object),
            "opening_gap": pd.Series([], dtype=bool),
        }
    )
