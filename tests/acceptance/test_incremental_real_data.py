"""Incremental builds on real data: files landed piece by piece, out of order.

The daily stock bars and the NAB machine temperatures are cut by date into
pieces, landed one piece an hour (one piece later than the one after it, as a
vendor's backfill or a gateway's backlog arrives), and the lake is built
incrementally after each. The marts must equal one full refresh of the same
raw data, and the independent computations of test_real_datasets.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from fieldhouse import watermarks
from fieldhouse.config import StorageSettings
from fieldhouse.contracts.contract import load_contracts
from fieldhouse.ingest.feeds import ingest_dataset_hour
from fieldhouse.lake import build_lake, duckdb_connect
from fieldhouse.storage.keys import Interval, LandingArea
from fieldhouse.storage.objects import ObjectStore
from tests.acceptance.test_real_datasets import (
    FILES,
    RTOL,
    _expected_daily,
    _expected_hourly,
    _expected_reasons,
    _nab_readings,
    _stock_bars,
)
from tests.zones import empty_zones

pytestmark = [pytest.mark.integration, pytest.mark.acceptance]

# The cuts between pieces, and the order the pieces land in: the third piece
# before the second.
STOCK_CUTS = ("2016-01-01", "2017-01-01", "2017-06-01")
NAB_CUTS = ("2013-12-20", "2014-01-15", "2014-02-01")
ORDER = (0, 2, 1, 3)


def _pieces(path: Path, cuts: tuple[str, ...], day_of: Callable[[str], str]) -> list[bytes]:
    """The file's lines cut by date (the header on every piece), bytes as they are."""
    header, *lines = path.read_bytes().splitlines(keepends=True)
    bounds = [pd.Timestamp(c) for c in cuts]
    pieces: list[list[bytes]] = [[] for _ in range(len(cuts) + 1)]
    for line in lines:
        day = pd.Timestamp(day_of(line.decode()))
        pieces[sum(day >= b for b in bounds)].append(line)
    assert sum(len(p) for p in pieces) == len(lines) and all(pieces)
    return [header + b"".join(p) for p in pieces]


def _land_piecewise(
    store: ObjectStore,
    transform: StorageSettings,
    contract_name: str,
    pieces: list[bytes],
    domain: str,
    dataset_path: str,
) -> None:
    """Land each piece in an hour of its own, in ORDER, building after each."""
    contract = load_contracts()[contract_name]
    area = LandingArea(contract.landing)
    for step, index in enumerate(ORDER):
        store.put_bytes(area.incoming(f"piece-{index}.csv"), pieces[index])
        hour = Interval.parse(f"2024-01-09T{10 + step:02d}:00:00+00:00")
        ingest_dataset_hour(
            store, contract.dataset, hour, simulated=None, include_landing=True, claim_landing=True
        )
        build_lake(transform, ObjectStore(transform), [domain])
        with duckdb_connect(transform) as con:
            mark = {m["dataset"]: m for m in watermarks.watermarks(con)}[dataset_path]
        assert mark["last_build_kind"] == ("full" if step == 0 else "incremental"), step
        assert mark["partitions_in_last_build"] == (1 if step else mark["partitions_built"])


def _table(settings: StorageSettings, table: str, key: list[str]) -> pd.DataFrame:
    with duckdb_connect(settings) as con:
        frame = con.execute(f"select * from lake.{table}").df()
    return frame.sort_values(key).reset_index(drop=True)


def _assert_equal_to_full_refresh(
    transform: StorageSettings, domain: str, tables: dict[str, list[str]]
) -> dict[str, pd.DataFrame]:
    built = {t: _table(transform, t, key) for t, key in tables.items()}
    build_lake(transform, ObjectStore(transform), [domain], full_refresh=True)
    for table, key in tables.items():
        full = _table(transform, table, key)
        assert len(built[table]) == len(full) > 0, table
        pd.testing.assert_frame_equal(
            built[table][full.columns], full, check_exact=False, rtol=RTOL, obj=table
        )
    return built


def test_stock_bars_landed_piece_by_piece(
    datasets_dir: Path, lake_of_its_own, stack_config, minio_server
) -> None:
    store = empty_zones(minio_server)
    transform = stack_config.role_settings("transform")
    path = datasets_dir / FILES["daily_stock_bars"][0]
    pieces = _pieces(path, STOCK_CUTS, lambda line: line.split(",")[1])
    _land_piecewise(store, transform, "daily_stock_bars", pieces, "market", "market/price_bars")
    mart = _assert_equal_to_full_refresh(
        transform, "market", {"main.fct_market_daily": ["source", "instrument", "trading_day"]}
    )["main.fct_market_daily"]

    # And equal to pandas on the file (nothing of it is quarantined).
    expected = _expected_daily(_stock_bars(datasets_dir))
    mart["day"] = pd.to_datetime(mart["trading_day"])
    merged = expected.merge(mart, on=["instrument", "day"], how="outer", indicator=True)
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"].head()
    pd.testing.assert_series_equal(
        merged["close_y"], merged["close_x"], check_names=False, rtol=RTOL
    )
    returns = merged[merged["daily_return_x"].notna()]
    assert (returns["daily_return_y"] - returns["daily_return_x"]).abs().max() < 5e-13
    assert (returns["trading_days_spanned_y"] == returns["trading_days_spanned_x"]).all()
    assert (returns["spans_missing_bar_y"] == returns["spans_missing_bar_x"]).all()
    print(f"fct_market_daily built in {len(ORDER)} pieces: {len(merged):,} instrument-days agree")


def test_nab_temperatures_landed_piece_by_piece(
    datasets_dir: Path, lake_of_its_own, stack_config, minio_server
) -> None:
    store = empty_zones(minio_server)
    transform = stack_config.role_settings("transform")
    path = datasets_dir / FILES["nab_machine_temperature"][0]
    pieces = _pieces(path, NAB_CUTS, lambda line: line.split(",")[0])
    _land_piecewise(
        store, transform, "nab_machine_temperature", pieces, "sensors", "sensors/readings"
    )
    key = ["source", "device_id", "metric", "event_hour"]
    hourly = _assert_equal_to_full_refresh(
        transform,
        "sensors",
        {"main.fct_sensor_readings_hourly": key, "main.ml_sensor_anomaly_features": key},
    )["main.fct_sensor_readings_hourly"]

    # And equal to pandas on the accepted readings (the hour the series steps
    # back twice over lies inside one piece, so the same rows are quarantined).
    contract = load_contracts()["nab_machine_temperature"]
    readings = _nab_readings(datasets_dir)
    _, accepted = _expected_reasons(readings, [], ["ts"], ["value"], "event_id")
    readings["metric"] = contract.fields["metric"].constant
    expected = _expected_hourly(readings[accepted])
    hourly["event_hour"] = pd.to_datetime(hourly["event_hour"], utc=True)
    merged = expected.merge(hourly, on=["metric", "event_hour"], how="outer", indicator=True)
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"].head()
    assert (merged["count"] == merged["reading_count"]).all()
    for ours, theirs in (("mean", "value_mean"), ("max", "value_max"), ("p95", "value_p95")):
        pd.testing.assert_series_equal(merged[theirs], merged[ours], check_names=False, rtol=RTOL)
    print(f"fct_sensor_readings_hourly built in {len(ORDER)} pieces: {len(merged):,} hours agree")
