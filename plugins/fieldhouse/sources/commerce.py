"""A simulated web shop: orders, their shipments and the carriers' tracking scans.

Orders arrive around the clock, busier in the evening (UTC), each shipped from the
warehouse in :data:`~fieldhouse.quality.commerce.ORIGIN_COUNTRY` to one of twelve
countries by one of four carriers. How long a shipment takes depends on

* the destination (a base transit time per country),
* the carrier (an express carrier is faster, an economy one slower),
* the season (November and December are peak months and slower), and
* customs, which every non-domestic shipment clears, adding a day or two.

A shipment is scanned ``picked_up``, ``in_transit``, ``customs`` (abroad only),
sometimes ``exception`` (a delay of a day), ``out_for_delivery`` and ``delivered``.

Scans are late-arriving facts: the scans of an order placed in hour H are made
hours to days later. Every draw about an order is seeded from ``(seed, hour it
was placed in)``, so :func:`simulate_shipment_events` of an interval replays the
orders of the :data:`LOOKBACK_DAYS` before it and keeps the scans made inside the
interval: each scan is emitted exactly once over consecutive intervals, whatever
their length.

Like the other simulators, both feeds carry a small share of malformed records and
of duplicates. Labels give each shipment's true delivery time.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fieldhouse.quality.commerce import (
    ORDER_SCHEMA,
    ORIGIN_COUNTRY,
    SHIPMENT_EVENT_SCHEMA,
)
from fieldhouse.sources.simulation import (
    SimulatedBatch,
    bounds,
    hour_after,
    iso_text,
    platform_columns,
    stable_hash,
    utc_series,
    with_duplicates,
)
from fieldhouse.storage.keys import Interval

ORIGIN = "commerce_simulator"
HOUR = 3_600
DAY = 86_400

BASE_TRANSIT_DAYS: dict[str, float] = {
    "US": 2.0,
    "CA": 3.5,
    "MX": 4.0,
    "BR": 6.5,
    "GB": 4.0,
    "DE": 4.0,
    "FR": 4.0,
    "NL": 3.5,
    "ES": 4.5,
    "IT": 4.5,
    "JP": 5.5,
    "AU": 6.5,
}
"""Typical days from order to delivery by a standard carrier, off season, before customs."""

CARRIER_FACTORS: dict[str, float] = {
    "swiftpost": 0.75,
    "globalship": 1.0,
    "parcelnet": 1.1,
    "ecoparcel": 1.3,
}
"""How much longer than standard each carrier takes."""

COUNTRIES: tuple[str, ...] = tuple(BASE_TRANSIT_DAYS)
CARRIERS: tuple[str, ...] = tuple(CARRIER_FACTORS)

SEASON_FACTORS: dict[int, float] = {11: 1.15, 12: 1.3}
"""Slow months (by month of the order); other months are 1.0."""

CUSTOMS_DAYS = (0.5, 2.0)  # uniform extra days abroad
EXCEPTION_DELAY_DAYS = 1.0
MAX_DELIVERY_DAYS = 18.0
LOOKBACK_DAYS = 19
"""Orders this many days before an interval may still be scanned in it."""

UNKNOWN_COUNTRY = "XX"
UNKNOWN_CARRIER = "acme_freight"
UNKNOWN_EVENT_TYPE = "teleported"
_ORDER_MALFORMATIONS = 4  # bad amount, negative amount, unknown country, bad timestamp
_EVENT_MALFORMATIONS = 3  # unknown event type, unknown carrier, bad timestamp
_EVENT_ORDER = ("picked_up", "in_transit", "customs", "exception", "out_for_delivery", "delivered")
_CARRIER_SHARE = (0.2, 0.35, 0.3, 0.15)
_COUNTRY_SHARE = np.array([40, 6, 4, 3, 8, 8, 5, 4, 4, 4, 6, 8], dtype=float)
_TYPICAL_AMOUNT = {"USD": 60.0, "CAD": 80.0, "MXN": 1100.0, "BRL": 300.0, "GBP": 48.0}
_TYPICAL_AMOUNT |= {"EUR": 55.0, "JPY": 9000.0, "AUD": 90.0}


@dataclass(frozen=True)
class CommerceFaults:
    """How often each fault happens, per record."""

    exception: float = 0.05  # per shipment: a delay scan, a day late
    duplicate: float = 0.005
    malformed: float = 0.005

    @classmethod
    def none(cls) -> CommerceFaults:
        return cls(duplicate=0.0, malformed=0.0)


DEFAULT_FAULTS = CommerceFaults()


def _currencies() -> dict[str, str]:
    """The currency an order to each destination is paid in: the catalog's (commerce.yaml)."""
    from fieldhouse.contracts.catalog import load_catalog

    countries = load_catalog().countries
    unpaid = [c for c in COUNTRIES if countries[c].currency is None]
    if unpaid:
        raise ValueError(f"the shop ships to {unpaid}, whose currency no catalog gives")
    return {c: countries[c].currency for c in COUNTRIES}


def delivery_days(
    country: str, carrier: str, month: int, *, customs_days: float | None = None
) -> float:
    """The expected days from order to delivery, without noise or exceptions.

    Customs, for a destination abroad, adds ``customs_days`` (default: the mean).
    """
    days = BASE_TRANSIT_DAYS[country] * CARRIER_FACTORS[carrier] * SEASON_FACTORS.get(month, 1.0)
    if country != ORIGIN_COUNTRY:
        days += sum(CUSTOMS_DAYS) / 2 if customs_days is None else customs_days
    return days


def simulate_orders(
    interval: Interval,
    seed: int,
    *,
    orders_per_hour: float = 30.0,
    faults: CommerceFaults = DEFAULT_FAULTS,
) -> SimulatedBatch:
    """The orders placed in ``interval`` and, as labels, their shipments' true delivery."""
    start, end = bounds(interval)
    hours = [_hour(h, seed, orders_per_hour, faults) for h in range(start // HOUR, hour_after(end))]
    orders = pd.concat([h.orders for h in hours], ignore_index=True)
    orders = orders[(orders["second"] >= start) & (orders["second"] < end)]
    orders = orders.sort_values(["second", "order_id"], kind="stable", ignore_index=True)
    return SimulatedBatch(_order_wire(orders), _shipment_labels(orders))


def simulate_shipment_events(
    interval: Interval,
    seed: int,
    *,
    orders_per_hour: float = 30.0,
    faults: CommerceFaults = DEFAULT_FAULTS,
) -> SimulatedBatch:
    """The scans made in ``interval``, of orders placed up to :data:`LOOKBACK_DAYS` before.

    Labels are the shipments delivered in ``interval``, with their true delivery time.
    """
    start, end = bounds(interval)
    first = (start - LOOKBACK_DAYS * DAY) // HOUR
    hours = [_hour(h, seed, orders_per_hour, faults) for h in range(first, hour_after(end))]
    # Each hour's frames are sorted by time, so taking the interval is a binary
    # search per hour instead of a filter over weeks of rows.
    events = _concat_slices([h.events for h in hours], "second", start, end)
    events = events.sort_values(["second", "event_id"], kind="stable", ignore_index=True)
    delivered = _concat_slices([h.by_delivery for h in hours], "delivered", start, end)
    delivered = delivered.sort_values(["delivered", "order_id"], kind="stable", ignore_index=True)
    return SimulatedBatch(_event_wire(events), _shipment_labels(delivered))


# --- one hour of orders ----------------------------------------------------------------


@dataclass(frozen=True)
class _Hour:
    orders: pd.DataFrame  # by order time
    events: pd.DataFrame  # by scan time
    by_delivery: pd.DataFrame  # the orders again, by delivery time


def _concat_slices(frames: list[pd.DataFrame], column: str, start: int, end: int):
    """The rows with ``start <= column < end`` of frames each sorted by ``column``."""
    parts = []
    for frame in frames:
        keys = frame[column].to_numpy()
        low, high = np.searchsorted(keys, [start, end], side="left")
        if high > low:
            parts.append(frame.iloc[low:high])
    if not parts:
        return frames[0].iloc[:0]
    return pd.concat(parts, ignore_index=True)


@functools.lru_cache(maxsize=8192)
def _hour(hour: int, seed: int, orders_per_hour: float, faults: CommerceFaults) -> _Hour:
    """Every order placed in one hour, and every scan its shipment will ever get."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, stable_hash("orders"), hour]))
    hour_of_day = hour % 24
    busy = 1.0 + 0.5 * np.sin(2 * np.pi * (hour_of_day - 12) / 24)  # peaks at 18:00 UTC
    n = int(rng.poisson(orders_per_hour * busy))
    second = hour * HOUR + np.sort(rng.integers(0, HOUR, n))
    country = np.array(COUNTRIES, dtype=object)[
        rng.choice(len(COUNTRIES), n, p=_COUNTRY_SHARE / _COUNTRY_SHARE.sum())
    ]
    carrier = np.array(CARRIERS, dtype=object)[rng.choice(len(CARRIERS), n, p=_CARRIER_SHARE)]
    currencies = _currencies()
    currency = np.array([currencies[c] for c in country], dtype=object)
    items = 1 + rng.poisson(1.2, n)
    typical = np.array([_TYPICAL_AMOUNT[c] for c in currency])
    amount = np.round(typical * items * rng.lognormal(-0.2, 0.5, n), 2)
    customer = rng.integers(1, 5_000, n)

    month = pd.DatetimeIndex(second.astype("datetime64[s]")).month.to_numpy()
    base = np.array([BASE_TRANSIT_DAYS[c] for c in country])
    carrier_factor = np.array([CARRIER_FACTORS[c] for c in carrier])
    season = np.array([SEASON_FACTORS.get(int(m), 1.0) for m in month])
    abroad = country != ORIGIN_COUNTRY
    customs = np.where(abroad, rng.uniform(*CUSTOMS_DAYS, n), 0.0)
    exception = rng.random(n) < faults.exception
    days = base * carrier_factor * season * rng.lognormal(0, 0.1, n) + customs
    days = np.clip(days + exception * EXCEPTION_DELAY_DAYS, 1.5, MAX_DELIVERY_DAYS)
    delivered = second + np.round(days * DAY).astype(np.int64)

    ids = np.array([f"{hour}-{i:04d}" for i in range(n)], dtype=object)
    u = rng.random((4, n))
    orders = pd.DataFrame(
        {
            "order_id": "ORD-" + ids,
            "shipment_id": "SHP-" + ids,
            "customer_id": np.array([f"C{c:05d}" for c in customer], dtype=object),
            "second": second,
            "destination_country": country,
            "currency": currency,
            "amount": amount,
            "item_count": items,
            "carrier": carrier,
            "customs": abroad,
            "exception": exception,
            "delivered": delivered,
            "delivery_days": (delivered - second) / DAY,
            "duplicate": u[0] < faults.duplicate,
            "malformed": np.where(
                u[1] < faults.malformed, (u[2] * _ORDER_MALFORMATIONS).astype(np.int64), -1
            ),
        }
    )
    events = _scans(orders, rng, faults).sort_values("second", kind="stable", ignore_index=True)
    by_delivery = orders.sort_values("delivered", kind="stable", ignore_index=True)
    return _Hour(orders, events, by_delivery)


def _scans(orders: pd.DataFrame, rng: np.random.Generator, faults: CommerceFaults):
    """The scans of each shipment, at times between pick-up and delivery."""
    n = len(orders)
    placed = orders["second"].to_numpy()
    delivered = orders["delivered"].to_numpy()
    picked = placed + rng.integers(2 * HOUR, 20 * HOUR, n)
    out = delivered - rng.integers(2 * HOUR, 9 * HOUR, n)
    span = out - picked
    # Between pick-up and the last mile, in this order: transit, customs, the delay.
    at = {
        "picked_up": picked,
        "in_transit": picked + (span * 0.2).astype(np.int64),
        "customs": picked + (span * 0.45).astype(np.int64),
        "exception": picked + (span * 0.7).astype(np.int64),
        "out_for_delivery": out,
        "delivered": delivered,
    }
    country = orders["destination_country"].to_numpy(dtype=object)
    origin = np.full(n, ORIGIN_COUNTRY, dtype=object)
    where = {"picked_up": origin, "in_transit": origin, "exception": country}
    keep_all = np.ones(n, dtype=bool)
    present = {"customs": orders["customs"].to_numpy(), "exception": orders["exception"].to_numpy()}
    parts = []
    for position, event_type in enumerate(_EVENT_ORDER):
        keep = present.get(event_type, keep_all)
        shipment = orders["shipment_id"].to_numpy(dtype=object)[keep]
        parts.append(
            pd.DataFrame(
                {
                    "event_id": shipment + f"-{position}",
                    "shipment_id": shipment,
                    "order_id": orders["order_id"].to_numpy(dtype=object)[keep],
                    "carrier": orders["carrier"].to_numpy(dtype=object)[keep],
                    "event_type": event_type,
                    "second": at[event_type][keep],
                    "location": where.get(event_type, country)[keep],
                }
            )
        )
    events = pd.concat(parts, ignore_index=True)
    u = rng.random((3, len(events)))
    events["duplicate"] = u[0] < faults.duplicate
    events["malformed"] = np.where(
        u[1] < faults.malformed, (u[2] * _EVENT_MALFORMATIONS).astype(np.int64), -1
    )
    return events


# --- rendering -------------------------------------------------------------------------


def _order_wire(orders: pd.DataFrame) -> pd.DataFrame:
    """Render orders as text, with duplicates and malformations."""
    if orders.empty:
        return ORDER_SCHEMA.empty_wire_frame()
    frame = with_duplicates(orders)
    malformed = frame["malformed"].to_numpy()
    amount = np.array([f"{a:.2f}" for a in frame["amount"]], dtype=object)
    amount[malformed == 0] = [a.replace(".", ",") for a in amount[malformed == 0]]
    amount[malformed == 1] = ["-" + a for a in amount[malformed == 1]]
    country = frame["destination_country"].to_numpy(dtype=object).copy()
    country[malformed == 2] = UNKNOWN_COUNTRY
    ordered_at = iso_text(frame["second"].to_numpy())
    ordered_at[malformed == 3] = [t[:-1].replace("T", " ") for t in ordered_at[malformed == 3]]
    return pd.DataFrame(
        {
            "order_id": frame["order_id"].to_numpy(dtype=object),
            "customer_id": frame["customer_id"].to_numpy(dtype=object),
            "ordered_at": ordered_at,
            "destination_country": country,
            "currency": frame["currency"].to_numpy(dtype=object),
            "amount": amount,
            "item_count": frame["item_count"].astype(str).to_numpy(dtype=object),
            # The shop sends neither the region of an address nor a promised date.
            "destination_region": np.full(len(frame), None, dtype=object),
            "promised_at": np.full(len(frame), None, dtype=object),
            **platform_columns(len(frame), ORIGIN),
        }
    )[list(ORDER_SCHEMA.wire_columns)]


def _event_wire(events: pd.DataFrame) -> pd.DataFrame:
    """Render scans as text, with duplicates and malformations."""
    if events.empty:
        return SHIPMENT_EVENT_SCHEMA.empty_wire_frame()
    frame = with_duplicates(events)
    malformed = frame["malformed"].to_numpy()
    event_type = frame["event_type"].to_numpy(dtype=object).copy()
    event_type[malformed == 0] = UNKNOWN_EVENT_TYPE
    carrier = frame["carrier"].to_numpy(dtype=object).copy()
    carrier[malformed == 1] = UNKNOWN_CARRIER
    event_ts = iso_text(frame["second"].to_numpy())
    event_ts[malformed == 2] = [t[:-1] for t in event_ts[malformed == 2]]  # no offset
    return pd.DataFrame(
        {
            "event_id": frame["event_id"].to_numpy(dtype=object),
            "shipment_id": frame["shipment_id"].to_numpy(dtype=object),
            "order_id": frame["order_id"].to_numpy(dtype=object),
            "carrier": carrier,
            "event_type": event_type,
            "event_ts": event_ts,
            "location": frame["location"].to_numpy(dtype=object),
            **platform_columns(len(frame), ORIGIN),
        }
    )[list(SHIPMENT_EVENT_SCHEMA.wire_columns)]


def _shipment_labels(orders: pd.DataFrame) -> pd.DataFrame:
    """Per shipment: where, by whom, and the true delivery time in days."""
    return pd.DataFrame(
        {
            "shipment_id": orders["shipment_id"].to_numpy(dtype=object),
            "order_id": orders["order_id"].to_numpy(dtype=object),
            "carrier": orders["carrier"].to_numpy(dtype=object),
            "destination_country": orders["destination_country"].to_numpy(dtype=object),
            "ordered_at": utc_series(orders["second"].to_numpy()),
            "delivered_at": utc_series(orders["delivered"].to_numpy()),
            "delivery_days": orders["delivery_days"].to_numpy(dtype=np.float64),
            "customs": orders["customs"].to_numpy(dtype=bool),
            "exception": orders["exception"].to_numpy(dtype=bool),
        }
    )
