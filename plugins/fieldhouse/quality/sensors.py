"""Validation of sensor readings: the sensor schema and the rules only sensors have.

A reading is ``event_id, device_id, ts, metric, value``. A quarantined reading gets
exactly one reason, the first rule it fails, in this order:

1. ``<parse_error>``          the record could not be parsed at all (e.g. ``malformed_json``)
2. ``missing_field:<column>`` event_id, device_id, ts, metric or value is empty
3. ``bad_timestamp``          ts is not ISO-8601 with an offset (``Z`` or ``+01:00``)
4. ``bad_value``              value is not a finite number
5. ``unknown_device``         device_id is not in the device registry
6. ``unknown_metric``         metric is not one a catalog file defines
7. ``ancient_timestamp``      ts before 1970-01-01T00:00Z (``core.EARLIEST_TIMESTAMP``)
8. ``unknown_device_kind``    the registry gives the device a kind no catalog file defines
9. ``metric_not_for_device_kind``  e.g. ``speed_kmh`` from an environmental sensor
10. ``out_of_range``          outside the physical range of the metric
11. ``future_timestamp``      later than the interval end plus a tolerance (``9999-…``
                              included: a well-formed time is never ``bad_timestamp``)
12. ``conflicting_event_id``  an event_id sent again with other values: every version
13. ``duplicate_event_id``    an event_id sent again with the same values: the copies

Metrics, their ranges and the device kinds that report them come from the catalog
(``contracts/catalogs/``, :mod:`fieldhouse.contracts.catalog`).

These are the de-noising rules of collection: readings that cannot be true (out of
physical range, from the future, before 1970), cannot be attributed (unknown device
or metric) or were sent twice (gateway retries). Plausible-but-odd values (spikes within range,
stuck sensors) stay valid: finding them is the job of the anomaly models.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from types import MappingProxyType
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


def _device_kinds(batch: Batch) -> Mapping[str, str]:
    """device_id -> device_kind from the registry in the context; the first entry wins."""

    def build() -> dict[str, str]:
        devices = batch.context["devices"]
        registry = devices.drop_duplicates("device_id").set_index("device_id")["device_kind"]
        return registry.dropna().to_dict()

    return batch.memo("device_kinds", build)


def _registered_devices(context: Mapping[str, Any]) -> Any:
    devices = context["devices"]
    registry = devices.drop_duplicates("device_id")
    return registry.loc[registry["device_kind"].notna(), "device_id"]


def _unknown_device_kind(batch: Batch) -> np.ndarray:
    # A registry may name a kind no catalog file defines yet: its readings wait in
    # quarantine until one does, rather than failing the whole batch.
    kind = batch.lookup("device_id", _device_kinds(batch))
    return np.not_equal(kind, None) & ~pd.Index(kind, dtype=object).isin(
        list(batch.catalog.device_kinds)
    )


def _metric_not_for_device_kind(batch: Batch) -> np.ndarray:
    """Whether each row's (device kind, metric) pair is not one the catalog lists."""
    pairs = batch.catalog.kind_metric_pairs()
    kind_codes, kinds = pd.factorize(batch.lookup("device_id", _device_kinds(batch)))
    metric_codes, metrics = batch.factorize("metric")
    # One cell per distinct (kind, metric); the last row and column stand for "none".
    served = np.zeros((len(kinds) + 1, len(metrics) + 1), dtype=bool)
    for i, kind in enumerate(kinds):
        served[i, :-1] = [(kind, metric) in pairs for metric in metrics]
    return ~served[kind_codes, metric_codes]


def _out_of_metric_range(batch: Batch) -> np.ndarray:
    def bounds() -> tuple[dict[str, float], dict[str, float]]:
        metrics = batch.catalog.metrics.values()
        return {m.code: m.low for m in metrics}, {m.code: m.high for m in metrics}

    low, high = batch.memo("metric_bounds", bounds)
    value = batch["value"]
    return (value < batch.lookup_number("metric", low)) | (
        value > batch.lookup_number("metric", high)
    )


SENSOR_SCHEMA = WireSchema(
    name="sensors.readings",
    fields=(
        Field("event_id"),
        Field("device_id", allowed=_registered_devices, unknown_reason="unknown_device"),
        Field("ts", Kind.TIMESTAMP, output="event_ts"),
        Field("metric", allowed=from_catalog("metrics")),
        Field("value", Kind.DECIMAL),
    ),
    rules=(
        Rule("unknown_device_kind", _unknown_device_kind),
        Rule("metric_not_for_device_kind", _metric_not_for_device_kind),
        Rule("out_of_range", _out_of_metric_range),
        not_after_interval_end("ts"),
    ),
    key="event_id",
    output_order=("event_id", "device_id", "metric", "value", "event_ts"),
)
"""A sensor reading on the wire; the context needs ``devices`` (the registry) and may
carry the ``catalog`` (default: :func:`fieldhouse.contracts.catalog.load_catalog`)."""


def _ends_before_start(batch: Batch) -> np.ndarray:
    # NaT compares false: a window without an end is caught as a missing field first.
    return batch["ends_at"] < batch["starts_at"]


ANOMALY_WINDOW_SCHEMA = WireSchema(
    name="sensors.anomaly_windows",
    fields=(
        Field("window_id"),
        Field("device_id"),
        Field("metric", required=False, allowed=from_catalog("metrics")),
        Field("starts_at", Kind.TIMESTAMP, output="window_start"),
        Field("ends_at", Kind.TIMESTAMP, output="window_end"),
        Field("label", required=False),
    ),
    rules=(
        Rule("ends_before_start", _ends_before_start),
        not_after_interval_end("starts_at"),
    ),
    key="window_id",
)
"""A labelled anomaly of one device (and one metric, or all of its metrics when
``metric`` is empty), from ``starts_at`` to ``ends_at`` inclusive. A label on a single
reading is a window that starts and ends at its time. A device with any window is
taken as labelled throughout: its hours outside every window count as normal.
Either time before 1970 is ``ancient_timestamp``; ``ends_at`` past 2262 is
``future_timestamp``, as ``starts_at`` is past the interval end."""

WIRE_COLUMNS: tuple[str, ...] = SENSOR_SCHEMA.wire_columns
"""Columns of a sensor wire frame, all text: five data fields, then three set by the platform."""
REQUIRED_FIELDS: tuple[str, ...] = SENSOR_SCHEMA.field_names
VALID_COLUMNS: tuple[str, ...] = SENSOR_SCHEMA.valid_columns
QUARANTINE_COLUMNS: tuple[str, ...] = SENSOR_SCHEMA.quarantine_columns


def empty_wire_frame() -> pd.DataFrame:
    """A sensor wire frame with no rows."""
    return SENSOR_SCHEMA.empty_wire_frame()


def validate_readings(
    wire: pd.DataFrame,
    devices: pd.DataFrame,
    interval: Interval,
    *,
    future_tolerance: timedelta = timedelta(minutes=5),
    ingested_at: datetime,
    catalog: Catalog | None = None,
) -> ValidationResult:
    """Split a wire frame into typed valid readings and quarantined rows with a reason.

    ``devices`` is the device registry with columns ``device_id`` and ``device_kind``.
    ``interval`` is the logical interval being ingested; a reading stamped later than
    ``interval.end + future_tolerance`` cannot have been observed yet. ``catalog``
    defaults to the catalog files'. Missing wire columns are treated as empty; extra
    columns are dropped.
    """
    context = {"devices": devices, "future_tolerance": future_tolerance, "catalog": catalog}
    return validate(wire, SENSOR_SCHEMA, interval, ingested_at=ingested_at, context=context)


def __getattr__(name: str) -> Any:
    # The vocabulary was once these constants; they are now views of the catalog
    # files, read when asked for, so a file added since is seen.
    if name == "KIND_METRICS":
        kinds = catalog_of({}).device_kinds.values()
        return MappingProxyType({kind.code: kind.metrics for kind in kinds})
    if name == "METRIC_RANGES":
        metrics = catalog_of({}).metrics.values()
        return MappingProxyType({metric.code: (metric.low, metric.high) for metric in metrics})
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
