"""The Airflow Assets that wire ingestion, transformation and ML together."""

from __future__ import annotations

from airflow.sdk import Asset

from fieldhouse.storage.keys import (
    COMMERCE_ORDERS,
    COMMERCE_SHIPMENT_EVENTS,
    COMMERCE_SHIPMENTS,
    FINANCE_CHARGEBACKS,
    FINANCE_TRANSACTIONS,
    MARKET_PRICE_BARS,
    SENSOR_ANOMALY_WINDOWS,
    SENSOR_READINGS,
)


def _mart(name: str) -> Asset:
    return Asset(name=f"lake.{name}", uri=f"ducklake://lake/main/{name}", group="lake")


RAW_SENSOR_READINGS = Asset(name="raw.sensor_readings", uri=SENSOR_READINGS.uri(), group="raw")
RAW_SENSOR_ANOMALY_WINDOWS = Asset(
    name="raw.sensor_anomaly_windows", uri=SENSOR_ANOMALY_WINDOWS.uri(), group="raw"
)
RAW_PRICE_BARS = Asset(name="raw.price_bars", uri=MARKET_PRICE_BARS.uri(), group="raw")
RAW_ORDERS = Asset(name="raw.orders", uri=COMMERCE_ORDERS.uri(), group="raw")
RAW_SHIPMENT_EVENTS = Asset(
    name="raw.shipment_events", uri=COMMERCE_SHIPMENT_EVENTS.uri(), group="raw"
)
RAW_SHIPMENTS = Asset(name="raw.shipments", uri=COMMERCE_SHIPMENTS.uri(), group="raw")
RAW_TRANSACTIONS = Asset(name="raw.transactions", uri=FINANCE_TRANSACTIONS.uri(), group="raw")
RAW_CHARGEBACKS = Asset(name="raw.chargebacks", uri=FINANCE_CHARGEBACKS.uri(), group="raw")

FCT_SENSOR_READINGS_HOURLY = _mart("fct_sensor_readings_hourly")
DIM_DEVICES = _mart("dim_devices")
ML_SENSOR_ANOMALY_FEATURES = _mart("ml_sensor_anomaly_features")

SENSOR_MARTS = [FCT_SENSOR_READINGS_HOURLY, DIM_DEVICES, ML_SENSOR_ANOMALY_FEATURES]

FCT_MARKET_DAILY = _mart("fct_market_daily")

MARKET_MARTS = [FCT_MARKET_DAILY]

FCT_DELIVERY_TIMES_BY_COUNTRY = _mart("fct_delivery_times_by_country")
ML_DELIVERY_TIME_FEATURES = _mart("ml_delivery_time_features")

COMMERCE_MARTS = [FCT_DELIVERY_TIMES_BY_COUNTRY, ML_DELIVERY_TIME_FEATURES]

DIM_CUSTOMERS = _mart("dim_customers")
FCT_TRANSACTIONS = _mart("fct_transactions")
ML_TRANSACTION_RISK_FEATURES = _mart("ml_transaction_risk_features")

FINANCE_MARTS = [DIM_CUSTOMERS, FCT_TRANSACTIONS, ML_TRANSACTION_RISK_FEATURES]

# Any of these updating starts a transform run.
RAW_ASSETS = [
    RAW_SENSOR_READINGS,
    RAW_SENSOR_ANOMALY_WINDOWS,
    RAW_PRICE_BARS,
    RAW_ORDERS,
    RAW_SHIPMENT_EVENTS,
    RAW_SHIPMENTS,
    RAW_TRANSACTIONS,
    RAW_CHARGEBACKS,
]
ALL_MARTS = [*SENSOR_MARTS, *MARKET_MARTS, *COMMERCE_MARTS, *FINANCE_MARTS]
