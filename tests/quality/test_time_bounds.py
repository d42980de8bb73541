"""Times too far ahead or behind, in every shipped schema: the probe's 1900 and 9999."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from fieldhouse.quality.commerce import ORDER_SCHEMA, SHIPMENT_EVENT_SCHEMA, SHIPMENT_SCHEMA
from fieldhouse.quality.core import Kind, WireSchema
from fieldhouse.quality.finance import CHARGEBACK_SCHEMA, TRANSACTION_SCHEMA
from fieldhouse.quality.prices import PRICE_SCHEMA
from fieldhouse.quality.sensors import (
    ANOMALY_WINDOW_SCHEMA,
    SENSOR_SCHEMA,
    WIRE_COLUMNS,
    validate_readings,
)
from fieldhouse.storage.keys import Interval

SCHEMAS = (
    SENSOR_SCHEMA,
    ANOMALY_WINDOW_SCHEMA,
    PRICE_SCHEMA,
    ORDER_SCHEMA,
    SHIPMENT_EVENT_SCHEMA,
    SHIPMENT_SCHEMA,
    TRANSACTION_SCHEMA,
    CHARGEBACK_SCHEMA,
)
INTERVAL = Interval.parse("2026-11-22T13:00:00+00:00")
DEVICES = pd.DataFrame({"device_id": ["env-0001"], "device_kind": ["environmental"]})
READING = {
    "event_id": "e-1",
    "device_id": "env-0001",
    "ts": "2026-11-22T13:05:00Z",
    "metric": "temperature_c",
    "value": "21.5",
    "origin": "test",
}


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda schema: schema.name)
def test_every_schema_with_times_can_say_ancient_and_future(schema: WireSchema):
    assert any(field.kind is Kind.TIMESTAMP for field in schema.fields)
    reasons = schema.reasons()
    assert reasons.index("bad_timestamp") < reasons.index("ancient_timestamp")
    assert "future_timestamp" in reasons


@pytest.mark.parametrize(
    ("ts", "reason"),
    [
        ("1900-01-01T00:00:00Z", "ancient_timestamp"),
        ("9999-01-01T00:00:00Z", "future_timestamp"),
        ("1970-01-01T00:00:00Z", None),
    ],
)
def test_a_reading_from_1900_or_9999_is_quarantined_for_its_time(ts, reason):
    row = {**READING, "ts": ts}
    wire = pd.DataFrame(
        {column: pd.Series([row.get(column)], dtype=object) for column in WIRE_COLUMNS}
    )
    result = validate_readings(
        wire, DEVICES, INTERVAL, ingested_at=datetime(2026, 11, 22, 14, 2, tzinfo=UTC)
    )
    assert result.reconciles
    assert list(result.quarantined["reason"]) == ([reason] if reason else [])
    if reason:
        assert result.quarantined.iloc[0]["ts"] == ts  # kept as it came
