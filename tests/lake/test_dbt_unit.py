"""The dbt project's unit tests, and the raw locations its sources read.

dbt unit tests replace every input of a model with fixture rows, so they read no
data; they still need a warehouse connection (DuckDB with the lake attached),
because dbt creates a temporary table to learn the model's column types.
"""

from __future__ import annotations

import re

import pytest
import yaml

from fieldhouse.config import StorageSettings, dbt_project_dir
from fieldhouse.storage.keys import (
    COMMERCE_DELIVERY_LABELS,
    COMMERCE_ORDERS,
    COMMERCE_SHIPMENT_EVENTS,
    FINANCE_CHARGEBACKS,
    FINANCE_CUSTOMERS,
    FINANCE_TRANSACTION_LABELS,
    FINANCE_TRANSACTIONS,
    MARKET_INSTRUMENTS,
    MARKET_PRICE_BARS,
    SENSOR_ANOMALY_LABELS,
    SENSOR_DEVICES,
    SENSOR_READINGS,
)

SOURCES_YAML = "models/staging/sensors/_sensors__sources.yml"
MARKET_SOURCES_YAML = "models/staging/market/_market__sources.yml"
COMMERCE_SOURCES_YAML = "models/staging/commerce/_commerce__sources.yml"
FINANCE_SOURCES_YAML = "models/staging/finance/_finance__sources.yml"


@pytest.mark.integration
def test_dbt_unit_tests_pass(minio_server: StorageSettings) -> None:
    from fieldhouse.lake import run_dbt

    result = run_dbt(["test", "--select", "test_type:unit"], minio_server, check=False)

    statuses = {r.node.name: str(r.status) for r in result.result.results}
    assert result.success, f"dbt unit tests failed: {statuses}"
    # One per piece of logic: dedup, spike, stuck, either flag, hourly
    # aggregation, features and labels, reconciliation.
    assert len(statuses) >= 7, f"expected at least 7 unit tests, dbt ran {sorted(statuses)}"
    assert set(statuses.values()) == {"pass"}, statuses


def _source_locations(path: str = SOURCES_YAML, name: str = "sensors") -> dict[str, str]:
    document = yaml.safe_load((dbt_project_dir() / path).read_text())
    (source,) = [s for s in document["sources"] if s["name"] == name]
    return {t["name"]: t["config"]["meta"]["external_location"] for t in source["tables"]}


def _quoted_uri(location: str) -> str:
    match = re.search(r"'(s3://[^']+)'", location)
    assert match, f"no s3:// URI in external_location {location!r}"
    return match.group(1)


def test_sources_read_where_ingestion_writes() -> None:
    locations = _source_locations()

    assert _quoted_uri(locations["readings"]) == SENSOR_READINGS.glob()
    assert _quoted_uri(locations["anomaly_labels"]) == SENSOR_ANOMALY_LABELS.glob()
    assert _quoted_uri(locations["devices"]) == SENSOR_DEVICES.key.uri
    assert _quoted_uri(locations["ingest_manifests"]) == SENSOR_READINGS.manifest_glob()


def test_market_sources_read_where_ingestion_writes() -> None:
    locations = _source_locations(MARKET_SOURCES_YAML, "market")

    assert _quoted_uri(locations["price_bars"]) == MARKET_PRICE_BARS.glob()
    assert _quoted_uri(locations["instruments"]) == MARKET_INSTRUMENTS.key.uri


def test_commerce_sources_read_where_ingestion_writes() -> None:
    locations = _source_locations(COMMERCE_SOURCES_YAML, "commerce")

    assert _quoted_uri(locations["orders"]) == COMMERCE_ORDERS.glob()
    assert _quoted_uri(locations["shipment_events"]) == COMMERCE_SHIPMENT_EVENTS.glob()
    assert _quoted_uri(locations["delivery_labels"]) == COMMERCE_DELIVERY_LABELS.glob()


def test_finance_sources_read_where_ingestion_writes() -> None:
    locations = _source_locations(FINANCE_SOURCES_YAML, "finance")

    assert _quoted_uri(locations["transactions"]) == FINANCE_TRANSACTIONS.glob()
    assert _quoted_uri(locations["chargebacks"]) == FINANCE_CHARGEBACKS.glob()
    assert _quoted_uri(locations["transaction_labels"]) == FINANCE_TRANSACTION_LABELS.glob()
    assert _quoted_uri(locations["customers"]) == FINANCE_CUSTOMERS.key.uri
