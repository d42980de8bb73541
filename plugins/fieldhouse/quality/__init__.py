"""Validation of every source: what goes to raw, what goes to quarantine, and why.

:mod:`fieldhouse.quality.core` is the engine (wire schemas, rules, :func:`validate`);
each source's module declares its schema and the rules only it has. The sensor
names are re-exported here because the sensor path was the first to use them.
Vocabularies (metrics, kinds, countries, …) come from :mod:`fieldhouse.contracts.catalog`.
"""

from fieldhouse.quality.core import (
    PLATFORM_COLUMNS,
    Batch,
    Field,
    Kind,
    Rule,
    ValidationResult,
    WireSchema,
    not_after_interval_end,
    validate,
)
from fieldhouse.quality.sensors import (
    QUARANTINE_COLUMNS,
    REQUIRED_FIELDS,
    SENSOR_SCHEMA,
    VALID_COLUMNS,
    WIRE_COLUMNS,
    empty_wire_frame,
    validate_readings,
)

__all__ = [
    "PLATFORM_COLUMNS",
    "QUARANTINE_COLUMNS",
    "REQUIRED_FIELDS",
    "SENSOR_SCHEMA",
    "VALID_COLUMNS",
    "WIRE_COLUMNS",
    "Batch",
    "Field",
    "Kind",
    "Rule",
    "ValidationResult",
    "WireSchema",
    "empty_wire_frame",
    "not_after_interval_end",
    "validate",
    "validate_readings",
]


def __getattr__(name: str) -> object:
    # KIND_METRICS and METRIC_RANGES: catalog views, read only when asked for.
    if name in ("KIND_METRICS", "METRIC_RANGES"):
        from fieldhouse.quality import sensors

        return getattr(sensors, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
