"""Commerce ingestion: the shop's orders and the carriers' scans, validated, into raw/.

Two feeds per hour, each through :func:`fieldhouse.ingest.feeds.ingest_feed_hour`:

* ``orders`` placed in the hour (simulated, and files dropped in
  ``landing/commerce_orders/``);
* ``shipment_events``: the tracking scans *made* in the hour, of orders placed
  up to weeks before (simulated, and files dropped in ``landing/commerce_shipments/``).
  Delivery outcomes are late-arriving facts; the marts join them to their orders.

The simulator's labels (each delivered shipment's true delivery time) go to
``raw/commerce/delivery_labels/`` beside the scans that report the delivery.
"""

from __future__ import annotations

from dataclasses import dataclass

from fieldhouse.ingest.feeds import (
    Feed,
    SimulatedWire,
    Source,
    ingest_source,
    ingest_source_hour,
)
from fieldhouse.ingest.partitions import Manifest
from fieldhouse.quality.commerce import (
    ORDER_SCHEMA,
    SHIPMENT_EVENT_SCHEMA,
    validate_orders,
    validate_shipment_events,
)
from fieldhouse.storage.keys import (
    COMMERCE_DELIVERY_LABELS,
    COMMERCE_ORDERS,
    COMMERCE_ORDERS_LANDING,
    COMMERCE_SHIPMENT_EVENTS,
    COMMERCE_SHIPMENTS_LANDING,
    Interval,
)
from fieldhouse.storage.objects import ObjectStore

ORDERS = Feed(
    dataset=COMMERCE_ORDERS,
    schema=ORDER_SCHEMA,
    landing=COMMERCE_ORDERS_LANDING,
    validate=lambda wire, hour: validate_orders(wire, hour, ingested_at=hour.end),
)
SHIPMENT_EVENTS = Feed(
    dataset=COMMERCE_SHIPMENT_EVENTS,
    schema=SHIPMENT_EVENT_SCHEMA,
    landing=COMMERCE_SHIPMENTS_LANDING,
    validate=lambda wire, hour: validate_shipment_events(wire, hour, ingested_at=hour.end),
    labels=COMMERCE_DELIVERY_LABELS,
)
FEEDS = {"orders": ORDERS, "shipment_events": SHIPMENT_EVENTS}


@dataclass(frozen=True)
class CommerceRunOptions:
    """What a person triggering ingestion can choose (the DAG's Params)."""

    simulate: bool = True
    seed: int = 11
    include_landing: bool = True
    orders_per_hour: float = 30.0


def _simulate(feed_name: str, interval: Interval, options: CommerceRunOptions) -> SimulatedWire:
    from fieldhouse.sources import commerce

    simulate = {
        "orders": commerce.simulate_orders,
        "shipment_events": commerce.simulate_shipment_events,
    }[feed_name]
    batch = simulate(interval, options.seed, orders_per_hour=options.orders_per_hour)
    return SimulatedWire(batch.readings, batch.labels)


COMMERCE = Source(FEEDS, _simulate, CommerceRunOptions)


def ingest_commerce_hour(
    store: ObjectStore,
    feed_name: str,
    interval: Interval,
    options: CommerceRunOptions,
    *,
    claim_landing: bool = True,
) -> Manifest:
    """Ingest one hour of one commerce feed (``orders`` or ``shipment_events``)."""
    return ingest_source_hour(
        store, COMMERCE, feed_name, interval, options, claim_landing=claim_landing
    )


def ingest_commerce(
    store: ObjectStore, interval: Interval, options: CommerceRunOptions | None = None
) -> dict[str, list[Manifest]]:
    """Ingest every hour of ``interval`` for both feeds; landing files go to its last hour."""
    return ingest_source(store, COMMERCE, interval, options or CommerceRunOptions())
