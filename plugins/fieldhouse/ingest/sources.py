"""The four built-in sources: their simulators, run options and registries.

Each is a :class:`fieldhouse.ingest.feeds.Source`: the feeds it writes (by raw
dataset), how its simulator makes an hour of each, and what it registers first.
Their landing folders and file layouts are contracts like any other feed's
(``contracts/feeds/``); only the simulators live here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from fieldhouse.ingest.feeds import SimulatedWire, Source
from fieldhouse.storage.keys import Interval
from fieldhouse.storage.objects import ObjectStore

log = logging.getLogger(__name__)


def _wire(batch: Any) -> SimulatedWire:
    return SimulatedWire(batch.readings, batch.labels)


# --- sensors ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SensorRunOptions:
    """What a person triggering sensor ingestion can choose (the DAG's Params)."""

    simulate: bool = True
    fleet_size: int = 50
    seed: int = 7
    include_landing: bool = True
    # A calibration error (°C) the simulator adds to every environmental sensor:
    # a drill for the drift checks.
    calibration_shift_c: float = 0.0


def register_devices(store: ObjectStore, options: SensorRunOptions) -> dict[str, str]:
    """Register the simulated fleet and the device files users dropped; returns refused files."""
    from fieldhouse.contracts.catalog import load_catalog
    from fieldhouse.ingest import registries
    from fieldhouse.sources.fleet import build_fleet, devices_frame

    if options.simulate:
        fleet = devices_frame(build_fleet(options.fleet_size, options.seed))
        writer = f"simulator:fleet-n{options.fleet_size}-s{options.seed}"
        registries.register(store, registries.DEVICES, writer, fleet)
    return registries.register_device_files(store, set(load_catalog().device_kinds))


def _simulate_sensors(
    feed: str, interval: Interval, options: SensorRunOptions
) -> SimulatedWire | None:
    from fieldhouse.sources.fleet import build_fleet, simulate_interval

    if feed == "anomaly_windows":
        return None  # the simulator's truth is written with its readings, per reading

    shift = {"environmental": options.calibration_shift_c} if options.calibration_shift_c else None
    fleet = build_fleet(options.fleet_size, options.seed)
    return _wire(simulate_interval(fleet, interval, options.seed, calibration_shift=shift))


SENSORS = Source(
    "sensors",
    {"readings": "sensors.readings", "anomaly_windows": "sensors.anomaly_windows"},
    _simulate_sensors,
    SensorRunOptions,
    register=register_devices,
)


# --- market prices ---------------------------------------------------------------------


@dataclass(frozen=True)
class PriceRunOptions:
    """What a person triggering price ingestion can choose (the DAG's Params)."""

    simulate: bool = True
    seed: int = 7
    include_landing: bool = True
    bar_minutes: int = 5


def register_instruments(store: ObjectStore, options: PriceRunOptions | None = None) -> int:
    """Register the catalog's instruments, so the lake's registry lists them too."""
    from fieldhouse.contracts.catalog import load_catalog
    from fieldhouse.ingest import registries

    listed = load_catalog().instruments_frame()
    return registries.register(store, registries.INSTRUMENTS, "catalog:instruments", listed)


def _simulate_prices(feed: str, interval: Interval, options: PriceRunOptions) -> SimulatedWire:
    from fieldhouse.sources.prices import INSTRUMENTS, simulate_bars

    return _wire(
        simulate_bars(INSTRUMENTS, interval, options.seed, bar_minutes=options.bar_minutes)
    )


PRICES = Source(
    "market",
    {"price_bars": "market.price_bars"},
    _simulate_prices,
    PriceRunOptions,
    register=register_instruments,
)


# --- commerce --------------------------------------------------------------------------


@dataclass(frozen=True)
class CommerceRunOptions:
    """What a person triggering commerce ingestion can choose (the DAG's Params)."""

    simulate: bool = True
    seed: int = 11
    include_landing: bool = True
    orders_per_hour: float = 30.0


def _simulate_commerce(feed: str, interval: Interval, options: CommerceRunOptions) -> SimulatedWire:
    from fieldhouse.sources import commerce

    if feed == "shipments":
        # The shop simulator reports shipments as carriers' scans; ERP exports of
        # whole shipments come only from landing files.
        from fieldhouse.quality.commerce import SHIPMENT_SCHEMA

        empty = SHIPMENT_SCHEMA.empty_wire_frame()
        return SimulatedWire(empty, empty.iloc[:0, :0])
    simulate = {
        "orders": commerce.simulate_orders,
        "shipment_events": commerce.simulate_shipment_events,
    }[feed]
    return _wire(simulate(interval, options.seed, orders_per_hour=options.orders_per_hour))


COMMERCE = Source(
    "commerce",
    {
        "orders": "commerce.orders",
        "shipment_events": "commerce.shipment_events",
        "shipments": "commerce.shipments",
    },
    _simulate_commerce,
    CommerceRunOptions,
)


# --- finance ---------------------------------------------------------------------------

# The registry's columns: what an issuer knows of a customer at sign-up. The
# simulator's spending habits stay hidden, as they would be.
CUSTOMER_COLUMNS = ("customer_id", "home_country", "currency", "device_id")


@dataclass(frozen=True)
class FinanceRunOptions:
    """What a person triggering finance ingestion can choose (the DAG's Params)."""

    simulate: bool = True
    seed: int = 5
    include_landing: bool = True
    customers: int = 500


def register_customers(store: ObjectStore, options: FinanceRunOptions) -> int:
    """Register every customer the simulated issuer has."""
    from fieldhouse.ingest import registries
    from fieldhouse.sources.finance import customer_profiles

    if not options.simulate:
        return 0
    profiles = customer_profiles(options.seed, options.customers)[list(CUSTOMER_COLUMNS)]
    writer = f"simulator:issuer-n{options.customers}-s{options.seed}"
    return registries.register(store, registries.CUSTOMERS, writer, profiles)


def _simulate_finance(feed: str, interval: Interval, options: FinanceRunOptions) -> SimulatedWire:
    from fieldhouse.sources import finance

    simulate = {
        "transactions": finance.simulate_transactions,
        "chargebacks": finance.simulate_chargebacks,
    }[feed]
    return _wire(simulate(interval, options.seed, customers=options.customers))


FINANCE = Source(
    "finance",
    {"transactions": "finance.transactions", "chargebacks": "finance.chargebacks"},
    _simulate_finance,
    FinanceRunOptions,
    register=register_customers,
)

SOURCES = {s.name: s for s in (SENSORS, PRICES, COMMERCE, FINANCE)}
