"""Validation of every source: what goes to raw, what goes to quarantine, and why.

:mod:`fieldhouse.quality.core` is the engine (wire schemas, rules, :func:`validate`);
each source's module declares its schema and the rules only it has. The sensor
names are re-exported here because the sensor path was the first to use them.
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
    KIND_METRICS,
    METRIC_KIND,
    METRIC_RANGES,
    QUARANTINE_COLUMNS,
    REQUIRED_FIELDS,
    SENSOR_SCHEMA,
    VALID_COLUMNS,
    WIRE_COLUMNS,
    empty_wire_frame,
    validate_readings,
)

__all__ = [
    "KIND_METRICS",
    "METRIC_KIND",
    "METRIC_RANGES",
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
