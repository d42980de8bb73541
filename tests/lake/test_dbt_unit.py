"""The dbt project's unit tests, and the raw locations its sources read.

dbt unit tests replace every input of a model with fixture rows, so they read no
data; they still need a warehouse connection (DuckDB with the lake attached),
because dbt creates a temporary table to learn the model's column types.
"""

from __future__ import annotations

import pytest

from fieldhouse.config import StorageSettings
from fieldhouse.storage.keys import (
    COMMERCE_DELIVERY_LABELS,
    COMMERCE_ORDERS,
    COMMERCE_SHIPMENT_EVENTS,
    COMMERCE_SHIPMENTS,
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
from tests.lake.dbt_sources import quoted_uri, source_locations, source_tables


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


def test_sources_read_where_ingestion_writes() -> None:
    locations = source_locations("sensors")

    assert quoted_uri(locations["readings"]) == SENSOR_READINGS.glob()
    assert quoted_uri(locations["anomaly_labels"]) == SENSOR_ANOMALY_LABELS.glob()
    assert quoted_uri(locations["devices"]) == SENSOR_DEVICES.glob()
    assert quoted_uri(locations["ingest_manifests"]) == SENSOR_READINGS.manifest_glob()


def test_market_sources_read_where_ingestion_writes() -> None:
    locations = source_locations("market")

    assert quoted_uri(locations["price_bars"]) == MARKET_PRICE_BARS.glob()
    assert quoted_uri(locations["instruments"]) == MARKET_INSTRUMENTS.glob()


def test_commerce_sources_read_where_ingestion_writes() -> None:
    locations = source_locations("commerce")

    assert quoted_uri(locations["orders"]) == COMMERCE_ORDERS.glob()
    assert quoted_uri(locations["shipment_events"]) == COMMERCE_SHIPMENT_EVENTS.glob()
    assert quoted_uri(locations["shipments"]) == COMMERCE_SHIPMENTS.glob()
    assert quoted_uri(locations["delivery_labels"]) == COMMERCE_DELIVERY_LABELS.glob()


def test_finance_sources_read_where_ingestion_writes() -> None:
    locations = source_locations("finance")

    assert quoted_uri(locations["transactions"]) == FINANCE_TRANSACTIONS.glob()
    assert quoted_uri(locations["chargebacks"]) == FINANCE_CHARGEBACKS.glob()
    assert quoted_uri(locations["transaction_labels"]) == FINANCE_TRANSACTION_LABELS.glob()
    assert quoted_uri(locations["customers"]) == FINANCE_CUSTOMERS.glob()


def test_freshness_queries_read_the_sources_own_objects() -> None:
    queried = [t for t in source_tables() if t.loaded_at_query]

    assert queried, "no source measures freshness by a query"
    for table in queried:
        assert quoted_uri(table.loaded_at_query) == table.uri, table.name
