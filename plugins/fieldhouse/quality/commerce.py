"""Validation of commerce records: orders and the scan events of their shipments.

An order is ``order_id, customer_id, ordered_at, destination_country, currency,
amount, item_count``. After the engine's checks on the fields (missing,
``bad_timestamp``, ``bad_value``, ``unknown_country``, ``unknown_currency``), an
order is quarantined, first failing rule only, for:

1. ``non_positive_amount``      an amount of zero or less
2. ``non_positive_item_count``  fewer than one item
3. ``currency_mismatch``        not the currency of the destination country
4. ``future_timestamp``         later than the interval end plus a tolerance
5. ``duplicate_order_id``       an order already seen among rows passing every rule above

A scan event is ``event_id, shipment_id, order_id, carrier, event_type, event_ts,
location``. After the field checks (``unknown_carrier``, ``unknown_event_type``,
``unknown_location``), an event is quarantined for ``future_timestamp`` and then
``duplicate_event_id``. Scan events arrive late by design: an interval holds the
scans made in it, of orders placed days before.
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

ORIGIN_COUNTRY = "US"
"""Where every order ships from; other destinations clear customs."""

CURRENCIES: Mapping[str, str] = {
    "US": "USD",
    "CA": "CAD",
    "MX": "MXN",
    "BR": "BRL",
    "GB": "GBP",
    "DE": "EUR",
    "FR": "EUR",
    "NL": "EUR",
    "ES": "EUR",
    "IT": "EUR",
    "JP": "JPY",
    "AU": "AUD",
}
"""Destination countries (ISO 3166-1 alpha-2) and the currency an order there is paid in."""

COUNTRIES: tuple[str, ...] = tuple(CURRENCIES)
CARRIERS: tuple[str, ...] = ("swiftpost", "globalship", "parcelnet", "ecoparcel")
EVENT_TYPES: tuple[str, ...] = (
    "picked_up",
    "in_transit",
    "customs",
    "out_for_delivery",
    "delivered",
    "exception",
)


def _non_positive_amount(batch: Batch) -> np.ndarray:
    return batch["amount"] <= 0


def _non_positive_item_count(batch: Batch) -> np.ndarray:
    return batch["item_count"] < 1


def _currency_mismatch(batch: Batch) -> np.ndarray:
    expected = batch.lookup("destination_country", CURRENCIES)
    paid = batch.text("currency")
    return np.not_equal(expected, None) & np.not_equal(paid, None) & (expected != paid)


ORDER_SCHEMA = WireSchema(
    name="commerce.orders",
    fields=(
        Field("order_id"),
        Field("customer_id"),
        Field("ordered_at", Kind.TIMESTAMP),
        Field("destination_country", allowed=COUNTRIES, unknown_reason="unknown_country"),
        Field("currency", allowed=tuple(sorted(set(CURRENCIES.values())))),
        Field("amount", Kind.DECIMAL),
        Field("item_count", Kind.INTEGER),
    ),
    rules=(
        Rule("non_positive_amount", _non_positive_amount),
        Rule("non_positive_item_count", _non_positive_item_count),
        Rule("currency_mismatch", _currency_mismatch),
        not_after_interval_end("ordered_at"),
    ),
    key="order_id",
)
"""An order on the wire."""

SHIPMENT_EVENT_SCHEMA = WireSchema(
    name="commerce.shipment_events",
    fields=(
        Field("event_id"),
        Field("shipment_id"),
        Field("order_id"),
        Field("carrier", allowed=CARRIERS),
        Field("event_type", allowed=EVENT_TYPES),
        Field("event_ts", Kind.TIMESTAMP),
        Field("location", allowed=COUNTRIES),
    ),
    rules=(not_after_interval_end("event_ts"),),
    key="event_id",
)
"""A carrier's tracking scan of a shipment on the wire."""


def validate_orders(
    wire: pd.DataFrame,
    interval: Interval,
    *,
    future_tolerance: timedelta = timedelta(minutes=5),
    ingested_at: datetime,
) -> ValidationResult:
    """Split a wire frame of orders into typed valid orders and quarantined rows."""
    return validate(
        wire,
        ORDER_SCHEMA,
        interval,
        ingested_at=ingested_at,
        context={"future_tolerance": future_tolerance},
    )


def validate_shipment_events(
    wire: pd.DataFrame,
    interval: Interval,
    *,
    future_tolerance: timedelta = timedelta(minutes=5),
    ingested_at: datetime,
) -> ValidationResult:
    """Split a wire frame of scan events into typed valid events and quarantined rows."""
    return validate(
        wire,
        SHIPMENT_EVENT_SCHEMA,
        interval,
        ingested_at=ingested_at,
        context={"future_tolerance": future_tolerance},
    )
