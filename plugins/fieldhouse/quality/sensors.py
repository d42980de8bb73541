"""Validation of sensor readings: the sensor schema and the rules only sensors have.

A reading is ``event_id, device_id, ts, metric, value``. A quarantined reading gets
exactly one reason, the first rule it fails, in this order:

1. ``<parse_error>``          the record could not be parsed at all (e.g. ``malformed_json``)
2. ``missing_field:<column>`` event_id, device_id, ts, metric or value is empty
3. ``bad_timestamp``          ts is not ISO-8601 with an offset (``Z`` or ``+01:00``)
4. ``bad_value``              value is not a finite number
5. ``unknown_device``         device_id is not in the device registry
6. ``unknown_metric``         metric is not one the platform knows
7. ``metric_not_for_device_kind``  e.g. ``speed_kmh`` from an environmental sensor
8. ``out_of_range``           outside the physical range of the metric
9. ``future_timestamp``       later than the interval end plus a tolerance
10. ``duplicate_event_id``    an event_id already seen among rows passing 1-9

These are the de-noising rules of collection: readings that cannot be true (out of
physical range, from the future), cannot be attributed (unknown device or metric) or
were sent twice (gateway retries). Plausible-but-odd values (spikes within range,
stuck sensors) stay valid: finding them is the job of the anomaly models.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

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

KIND_METRICS: Mapping[str, tuple[str, ...]] = {
    "environmental": ("temperature_c", "humidity_pct"),
    "machine": ("vibration_mm_s", "power_w"),
    "gps_tracker": ("latitude", "longitude", "speed_kmh"),
}

METRIC_RANGES: Mapping[str, tuple[float, float]] = {
    "temperature_c": (-40.0, 85.0),
    "humidity_pct": (0.0, 100.0),
    "vibration_mm_s": (0.0, 100.0),
    "power_w": (0.0, 50_000.0),
    "latitude": (-90.0, 90.0),
    "longitude": (-180.0, 180.0),
    "speed_kmh": (0.0, 250.0),
}
"""Physically plausible range of each metric, bounds included."""

METRIC_KIND: Mapping[str, str] = {
    metric: kind for kind, metrics in KIND_METRICS.items() for metric in metrics
}
if len(METRIC_KIND) != sum(len(m) for m in KIND_METRICS.values()):
    # The kind check maps each metric to one kind; a shared metric would break it.
    raise RuntimeError("a metric is listed under two device kinds")

_LOW = {metric: bounds[0] for metric, bounds in METRIC_RANGES.items()}
_HIGH = {metric: bounds[1] for metric, bounds in METRIC_RANGES.items()}


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


def _metric_not_for_device_kind(batch: Batch) -> np.ndarray:
    return batch.lookup("metric", METRIC_KIND) != batch.lookup("device_id", _device_kinds(batch))


def _out_of_metric_range(batch: Batch) -> np.ndarray:
    value = batch["value"]
    return (value < batch.lookup_number("metric", _LOW)) | (
        value > batch.lookup_number("metric", _HIGH)
    )


SENSOR_SCHEMA = WireSchema(
    name="sensors.readings",
    fields=(
        Field("event_id"),
        Field("device_id", allowed=_registered_devices, unknown_reason="unknown_device"),
        Field("ts", Kind.TIMESTAMP, output="event_ts"),
        Field("metric", allowed=tuple(METRIC_KIND)),
        Field("value", Kind.DECIMAL),
    ),
    rules=(
        Rule("metric_not_for_device_kind", _metric_not_for_device_kind),
        Rule("out_of_range", _out_of_metric_range),
        not_after_interval_end("ts"),
    ),
    key="event_id",
    output_order=("event_id", "device_id", "metric", "value", "event_ts"),
)
"""A sensor reading on the wire; the context needs ``devices`` (the registry)."""

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
) -> ValidationResult:
    """Split a wire frame into typed valid readings and quarantined rows with a reason.

    ``devices`` is the device registry with columns ``device_id`` and ``device_kind``.
    ``interval`` is the logical interval being ingested; a reading stamped later than
    ``interval.end + future_tolerance`` cannot have been observed yet.
    Missing wire columns are treated as empty; extra columns are dropped.
    """
    return validate(
        wire,
        SENSOR_SCHEMA,
        interval,
        ingested_at=ingested_at,
        context={"devices": devices, "future_tolerance": future_tolerance},
    )
