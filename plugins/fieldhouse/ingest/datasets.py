"""The lake's raw datasets: what lands in each, how it is validated, what it needs to know.

Contracts name one of these as the home of their rows (``dataset: sensors.readings``);
a dataset's hour is one partition, written from every feed that lands in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fieldhouse.storage import keys
from fieldhouse.storage.objects import ObjectStore

if TYPE_CHECKING:
    from fieldhouse.contracts.catalog import Catalog
    from fieldhouse.quality.core import WireSchema


@dataclass(frozen=True)
class RawDataset:
    """One raw dataset: its partitions, wire schema and validation context."""

    name: str  # "<source>.<entity>", as contracts name it
    dataset: keys.Dataset
    schema_path: str  # "module:ATTRIBUTE" of its WireSchema, imported when used
    labels: keys.Dataset | None = None  # where a simulator's truth for it goes
    registry: str | None = None  # the registry validation looks ids up in

    @property
    def schema(self) -> WireSchema:
        import importlib

        module, attribute = self.schema_path.split(":")
        return getattr(importlib.import_module(module), attribute)

    def context(self, store: ObjectStore, catalog: Catalog) -> dict[str, Any]:
        """What this dataset's rules need beyond the rows."""
        context: dict[str, Any] = {"catalog": catalog}
        if self.registry == "devices":
            from fieldhouse.ingest import registries

            context["devices"] = registries.load(store, registries.DEVICES)
        elif self.registry == "instruments":
            context["instruments"] = _instruments(store, catalog)
        return context


def _instruments(store: ObjectStore, catalog: Catalog):
    """The catalog's instruments and those feeds registered on first sight."""
    import pandas as pd

    from fieldhouse.ingest import registries

    listed = catalog.instruments_frame()
    registered = registries.load(store, registries.INSTRUMENTS)[
        list(registries.INSTRUMENTS.columns)
    ]
    frames = [f for f in (registered, listed) if len(f)]
    if not frames:
        return listed
    # The catalog wins over a registration of the same id.
    return pd.concat(frames, ignore_index=True).drop_duplicates("instrument_id", keep="last")


_Q = "fieldhouse.quality"
DATASETS: dict[str, RawDataset] = {
    d.name: d
    for d in (
        RawDataset(
            "sensors.readings",
            keys.SENSOR_READINGS,
            f"{_Q}.sensors:SENSOR_SCHEMA",
            labels=keys.SENSOR_ANOMALY_LABELS,
            registry="devices",
        ),
        RawDataset(
            "sensors.anomaly_windows",
            keys.SENSOR_ANOMALY_WINDOWS,
            f"{_Q}.sensors:ANOMALY_WINDOW_SCHEMA",
        ),
        RawDataset(
            "market.price_bars",
            keys.MARKET_PRICE_BARS,
            f"{_Q}.prices:PRICE_SCHEMA",
            labels=keys.MARKET_PRICE_LABELS,
            registry="instruments",
        ),
        RawDataset("commerce.orders", keys.COMMERCE_ORDERS, f"{_Q}.commerce:ORDER_SCHEMA"),
        RawDataset(
            "commerce.shipment_events",
            keys.COMMERCE_SHIPMENT_EVENTS,
            f"{_Q}.commerce:SHIPMENT_EVENT_SCHEMA",
            labels=keys.COMMERCE_DELIVERY_LABELS,
        ),
        RawDataset("commerce.shipments", keys.COMMERCE_SHIPMENTS, f"{_Q}.commerce:SHIPMENT_SCHEMA"),
        RawDataset(
            "finance.transactions",
            keys.FINANCE_TRANSACTIONS,
            f"{_Q}.finance:TRANSACTION_SCHEMA",
            labels=keys.FINANCE_TRANSACTION_LABELS,
        ),
        RawDataset(
            "finance.chargebacks", keys.FINANCE_CHARGEBACKS, f"{_Q}.finance:CHARGEBACK_SCHEMA"
        ),
    )
}


def raw_dataset(name: str) -> RawDataset:
    """The dataset a contract names, or a clear error listing the choices."""
    try:
        return DATASETS[name]
    except KeyError:
        raise KeyError(
            f"no raw dataset {name!r}; contracts can land in {sorted(DATASETS)}"
        ) from None
