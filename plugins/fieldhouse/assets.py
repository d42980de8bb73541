"""The Airflow Assets that wire ingestion, transformation and ML together."""

from __future__ import annotations

from airflow.sdk import Asset

from fieldhouse.storage.keys import MARKET_PRICE_BARS, SENSOR_READINGS


def _mart(name: str) -> Asset:
    return Asset(name=f"lake.{name}", uri=f"ducklake://lake/main/{name}", group="lake")


RAW_SENSOR_READINGS = Asset(name="raw.sensor_readings", uri=SENSOR_READINGS.uri(), group="raw")
RAW_PRICE_BARS = Asset(name="raw.price_bars", uri=MARKET_PRICE_BARS.uri(), group="raw")

FCT_SENSOR_READINGS_HOURLY = _mart("fct_sensor_readings_hourly")
DIM_DEVICES = _mart("dim_devices")
ML_SENSOR_ANOMALY_FEATURES = _mart("ml_sensor_anomaly_features")

SENSOR_MARTS = [FCT_SENSOR_READINGS_HOURLY, DIM_DEVICES, ML_SENSOR_ANOMALY_FEATURES]

FCT_MARKET_DAILY = _mart("fct_market_daily")

MARKET_MARTS = [FCT_MARKET_DAILY]
