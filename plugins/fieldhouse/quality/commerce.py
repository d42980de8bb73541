"""Validation of commerce records: orders, the scan events of their shipments, and shipments.

An order is ``order_id, customer_id, ordered_at, destination_country, currency,
amount, item_count``, then optionally ``destination_region`` and ``promised_at``.
After the engine's checks on the fields (missing, ``bad_timestamp``, ``bad_value``,
``unknown_country``, ``unknown_currency``, ``ancient_timestamp``), an order is
quarantined, first failing rule only, for:

1. ``unknown_region``           not an ISO 3166-2 region of the destination country
2. ``non_positive_amount``      an amount of zero or less
3. ``non_positive_item_count``  fewer than one item
4. ``currency_mismatch``        not the currency of the destination country, where
                                the catalog knows that country's currency
5. ``future_timestamp``         ordered later than the interval end plus a tolerance,
                                or promised after 2262
6. ``conflicting_order_id`` / ``duplicate_order_id``  an order sent again

A scan event is ``event_id, shipment_id, order_id, carrier, event_type, event_ts,
location``. After the field checks (``unknown_carrier``, ``unknown_event_type``,
``unknown_location``, ``ancient_timestamp``), an event is quarantined for
``future_timestamp`` and then a repeated ``event_id``. Scan events arrive late by
design: an interval holds the scans made in it, of orders placed days before.

A shipment is one row of a shipping export (an ERP's, a logistics provider's):
``shipment_id`` and ``destination_country`` are required; ``order_id``,
``destination_region``, ``carrier``, ``shipment_mode``, ``ordered_at``,
``promised_at`` and ``delivered_at`` are sent when known. It is quarantined for
``ancient_timestamp`` (any of its times), ``unknown_region``,
``delivered_before_ordered``, ``future_timestamp`` (a delivery after the interval,
or any time after 2262, such as an ERP's ``9999-12-31`` "open") and a repeated
``shipment_id``.

Every time before 1970 is ``ancient_timestamp``
(:data:`fieldhouse.quality.core.EARLIEST_TIMESTAMP`). Countries (ISO 3166-1),
regions (ISO 3166-2), currencies (ISO 4217), carriers and event types come from the
catalog (``context["catalog"]``, by default the files').
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from fieldhouse.quality.core import (
    Batch,
    Field,
    Kind,
    Rule,
    ValidationResult,
    WireSchema,
    catalog_of,
    from_catalog,
    not_after_interval_end,
    validate,
)
from fieldhouse.storage.keys import Interval

if TYPE_CHECKING:
    from fieldhouse.contracts.catalog import Catalog

ORIGIN_COUNTRY = "US"
"""Where every order ships from; other destinations clear customs."""


def _non_positive_amount(batch: Batch) -> np.ndarray:
    return batch["amount"] <= 0


def _non_positive_item_count(batch: Batch) -> np.ndarray:
    return batch["item_count"] < 1


def _currency_mismatch(batch: Batch) -> np.ndarray:
    def build() -> dict[str, str]:
        countries = batch.catalog.countries.values()
        return {c.code: c.currency for c in countries if c.currency is not None}

    expected = batch.lookup("destination_country", batch.memo("currency_of_country", build))
    paid = batch.text("currency")
    return np.not_equal(expected, None) & np.not_equal(paid, None) & (expected != paid)


def _region_outside_country(batch: Batch) -> np.ndarray:
    """A region that is not ISO 3166-2, or is one of another country than the destination."""
    region = batch.text("destination_region")
    present = np.not_equal(region, None) & np.not_equal(region, "")
    if not present.any():
        return present  # most feeds send no region: leave ISO 3166-2 unread
    regions = batch.catalog.regions
    country_of = {code: regions[code].country for code in set(region[present]) if code in regions}
    return present & (
        batch.lookup("destination_region", country_of) != batch.text("destination_country")
    )


def _delivered_before_ordered(batch: Batch) -> np.ndarray:
    # NaT compares false, so a shipment missing either date passes.
    return batch["delivered_at"] < batch["ordered_at"]


ORDER_SCHEMA = WireSchema(
    name="commerce.orders",
    fields=(
        Field("order_id"),
        Field("customer_id"),
        Field("ordered_at", Kind.TIMESTAMP),
        Field(
            "destination_country",
            allowed=from_catalog("countries"),
            unknown_reason="unknown_country",
        ),
        Field("currency", allowed=from_catalog("currencies")),
        Field("amount", Kind.DECIMAL),
        Field("item_count", Kind.INTEGER),
        Field("destination_region", required=False),
        Field("promised_at", Kind.TIMESTAMP, required=False),
    ),
    rules=(
        Rule("unknown_region", _region_outside_country),
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
        Field("carrier", allowed=from_catalog("carriers")),
        Field("event_type", allowed=from_catalog("shipment_event_types")),
        Field("event_ts", Kind.TIMESTAMP),
        Field("location", allowed=from_catalog("countries")),
    ),
    rules=(not_after_interval_end("event_ts"),),
    key="event_id",
)
"""A carrier's tracking scan of a shipment on the wire."""

SHIPMENT_SCHEMA = WireSchema(
    name="commerce.shipments",
    fields=(
        Field("shipment_id"),
        Field("order_id", required=False),
        Field(
            "destination_country",
            allowed=from_catalog("countries"),
            unknown_reason="unknown_country",
        ),
        Field("destination_region", required=False),
        Field(
            "carrier",
            required=False,
            allowed=from_catalog("carriers"),
            unknown_reason="unknown_carrier",
        ),
        Field("shipment_mode", required=False),
        Field("ordered_at", Kind.TIMESTAMP, required=False),
        Field("promised_at", Kind.TIMESTAMP, required=False),
        Field("delivered_at", Kind.TIMESTAMP, required=False),
    ),
    rules=(
        Rule("unknown_region", _region_outside_country),
        Rule("delivered_before_ordered", _delivered_before_ordered),
        not_after_interval_end("delivered_at"),
    ),
    key="shipment_id",
)
"""A shipment as a shipping export lists it: where it went, when it was promised and came."""


def validate_orders(
    wire: pd.DataFrame,
    interval: Interval,
    *,
    future_tolerance: timedelta = timedelta(minutes=5),
    ingested_at: datetime,
    catalog: Catalog | None = None,
) -> ValidationResult:
    """Split a wire frame of orders into typed valid orders and quarantined rows."""
    return validate(
        wire,
        ORDER_SCHEMA,
        interval,
        ingested_at=ingested_at,
        context={"future_tolerance": future_tolerance, "catalog": catalog},
    )


def validate_shipment_events(
    wire: pd.DataFrame,
    interval: Interval,
    *,
    future_tolerance: timedelta = timedelta(minutes=5),
    ingested_at: datetime,
    catalog: Catalog | None = None,
) -> ValidationResult:
    """Split a wire frame of scan events into typed valid events and quarantined rows."""
    return validate(
        wire,
        SHIPMENT_EVENT_SCHEMA,
        interval,
        ingested_at=ingested_at,
        context={"future_tolerance": future_tolerance, "catalog": catalog},
    )


def validate_shipments(
    wire: pd.DataFrame,
    interval: Interval,
    *,
    future_tolerance: timedelta = timedelta(minutes=5),
    ingested_at: datetime,
    catalog: Catalog | None = None,
) -> ValidationResult:
    """Split a wire frame of shipments into typed valid shipments and quarantined rows."""
    return validate(
        wire,
        SHIPMENT_SCHEMA,
        interval,
        ingested_at=ingested_at,
        context={"future_tolerance": future_tolerance, "catalog": catalog},
    )


def __getattr__(name: str) -> Any:
    # EVENT_TYPES was a constant; it is now a view of the catalog files.
    if name == "EVENT_TYPES":
        return tuple(catalog_of({}).shipment_event_types)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
