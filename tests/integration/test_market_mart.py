"""fct_market_daily on ingested bars, checked against pandas on the same raw rows."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from fieldhouse.ingest.feeds import ingest_source
from fieldhouse.ingest.sources import PRICES, PriceRunOptions
from fieldhouse.storage.keys import MARKET_PRICE_BARS, Interval
from fieldhouse.storage.parquet import from_parquet_bytes
from tests.zones import empty_zones

pytestmark = pytest.mark.integration

# Thursday to the next Tuesday: four trading days around a weekend.
WINDOW = Interval(datetime(2026, 11, 19, 14, tzinfo=UTC), datetime(2026, 11, 24, 22, tzinfo=UTC))
OPTIONS = PriceRunOptions(seed=13, include_landing=False)
TOLERANCE = 1e-9


@pytest.fixture(scope="module")
def built_market(minio_server):
    """The window's bars ingested into a fresh MinIO, then the market models built."""
    from fieldhouse.lake import duckdb_connect, run_dbt

    store = empty_zones(minio_server)
    ingest_source(store, PRICES, WINDOW, OPTIONS)
    result = run_dbt(["build", "--select", "+fct_market_daily"], minio_server)
    with duckdb_connect(minio_server) as con:
        mart = con.execute("select * from lake.fct_market_daily").df()
    raw = pd.concat(
        from_parquet_bytes(store.get_bytes(MARKET_PRICE_BARS.raw(h))) for h in WINDOW.hours()
    )
    return result, mart, raw


def _expected_daily(raw: pd.DataFrame) -> pd.DataFrame:
    """The mart's definition, written independently in pandas."""
    bars = (
        raw.sort_values(["ingested_at", "event_id"])
        .drop_duplicates("event_id", keep="first")
        .assign(trading_day=lambda f: f["bar_start"].dt.tz_convert("UTC").dt.date)
        .sort_values(["instrument", "bar_start"])
    )
    daily = (
        bars.groupby(["instrument", "trading_day"])
        .agg(
            open=("open", "first"),
            high=("high", "max"),
            low=("low", "min"),
            close=("close", "last"),
            volume=("volume", "sum"),
            bar_count=("event_id", "count"),
        )
        .reset_index()
        .sort_values(["instrument", "trading_day"])
    )
    by_instrument = daily.groupby("instrument")["close"]
    daily["daily_return"] = daily["close"] / by_instrument.shift(1) - 1
    daily["log_return"] = np.log(daily["close"] / by_instrument.shift(1))
    daily["drawdown"] = daily["close"] / by_instrument.cummax() - 1
    return daily


def test_the_market_models_build_and_pass_their_tests(built_market) -> None:
    result, mart, _ = built_market
    assert result.success
    statuses = {r.node.unique_id: str(r.status) for r in result.result}
    assert any(uid.startswith("test.") for uid in statuses), "no data tests ran"
    assert set(statuses.values()) <= {"success", "pass"}, statuses
    assert not mart.empty


def test_daily_bars_and_returns_match_pandas_on_the_raw_rows(built_market) -> None:
    _, mart, raw = built_market
    expected = _expected_daily(raw)
    mart = mart.assign(trading_day=pd.to_datetime(mart["trading_day"]).dt.date)
    merged = expected.merge(
        mart, on=["instrument", "trading_day"], how="outer", suffixes=("", "_mart"), indicator=True
    )

    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"]
    assert (merged["bar_count"] == merged["bar_count_mart"]).all()
    assert (merged["volume"].astype("int64") == merged["volume_mart"]).all()
    for column in ("open", "high", "low", "close"):
        assert (merged[column] == merged[f"{column}_mart"]).all(), column
    for column in ("daily_return", "log_return", "drawdown"):
        ours, theirs = merged[column], merged[f"{column}_mart"]
        assert (ours.isna() == theirs.isna()).all(), column
        assert (ours - theirs).abs().max() < TOLERANCE, column
    # Four trading days of equities; the weekend is skipped, not a zero return.
    acme = merged[merged["instrument"] == "ACME"].sort_values("trading_day")
    assert len(acme) == 4
    assert acme["daily_return"].isna().sum() == 1
    # Too few days for the 20-day window: no volatility yet.
    assert merged["rolling_volatility"].isna().all()
