"""Acceptance: real public data sets through the one contract-driven ingestion path.

Each data set in ``../shared/datasets/`` (see its README) is dropped into the
session's MinIO as a user would drop it, landed for one hour by
``ingest_dataset_hour`` under its contract, and the lake is built once with real
dbt and DuckLake. Every figure is checked against an independent pandas read of
the original file: rows in, quarantine reasons, the registries and the marts.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from fieldhouse.config import StorageSettings
from fieldhouse.contracts.contract import Contract, load_contracts
from fieldhouse.ingest import registries
from fieldhouse.ingest.datasets import raw_dataset
from fieldhouse.ingest.feeds import ingest_dataset_hour
from fieldhouse.ingest.partitions import Manifest
from fieldhouse.storage.keys import Bucket, Interval, LandingArea
from fieldhouse.storage.objects import ObjectStore
from tests.integration.objects import read_all

pytestmark = [pytest.mark.integration, pytest.mark.acceptance]

DATASETS_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
# Contract -> its files under DATASETS_DIR, all landed in the same hour.
FILES: dict[str, tuple[str, ...]] = {
    "nab_machine_temperature": ("nab_machine/machine_temperature_system_failure.csv",),
    "office_occupancy": (
        "occupancy/datatest.txt",
        "occupancy/datatraining.txt",
        "occupancy/datatest2.txt",
    ),
    "daily_stock_bars": ("stocks_daily/dash-stock-ticker-demo.csv",),
    "scms_shipments": ("scms_shipments/SCMS_Delivery_History_Dataset.csv",),
}
# One hour per data set, so each manifest counts one data set; long after every
# timestamp in the files, so none is "from the future".
HOURS: dict[str, Interval] = {
    name: Interval.parse(f"2024-01-08T{10 + i:02d}:00:00+00:00") for i, name in enumerate(FILES)
}
# fct_delivery_times_by_country keeps deliveries within this many days of the
# latest one; SCMS deliveries span 2006-05-02 .. 2015-09-14 (3,422 days).
DELIVERY_WINDOW_DAYS = 4000
MARTS = ("fct_sensor_readings_hourly", "fct_market_daily", "fct_delivery_times_by_country")
RTOL = 1e-9
# The occupancy room is in Mons, Belgium: its files carry naive local times.
ZONE = "Europe/Brussels"


@dataclass(frozen=True)
class Landed:
    """One data set after its hour: the manifest and the rows on each side."""

    contract: Contract
    manifest: Manifest
    accepted: pd.DataFrame
    quarantined: pd.DataFrame


@dataclass(frozen=True)
class Lake:
    """Everything the acceptance tests read: the landings, the registries, the marts."""

    store: ObjectStore
    landed: dict[str, Landed]
    build: Any  # dbt's dbtRunnerResult
    marts: dict[str, pd.DataFrame]


# --- fixtures ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def datasets_dir() -> Path:
    """The shared data sets; CI must have them, a developer's machine may not."""
    if not DATASETS_DIR.is_dir():
        reason = f"the real data sets are not at {DATASETS_DIR}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return DATASETS_DIR


@pytest.fixture(scope="module")
def lake(datasets_dir: Path, minio_server: StorageSettings) -> Lake:
    """All four data sets landed hour by hour into an emptied MinIO, then one dbt build."""
    from fieldhouse.lake import duckdb_connect, run_dbt

    store = ObjectStore(minio_server)
    for bucket in set(Bucket) - {Bucket.LAKE}:
        for obj in store.list(bucket, ""):
            store.delete(obj.key)
    contracts = load_contracts()
    landed = {
        name: _land(store, datasets_dir, contracts[name], files, HOURS[name])
        for name, files in FILES.items()
    }
    # The shipment models also read orders and scans; no feed of them ran, so
    # their hour is written empty by the same path (DuckDB cannot read an empty glob).
    for dataset in ("commerce.orders", "commerce.shipment_events"):
        ingest_dataset_hour(store, dataset, HOURS["scms_shipments"])
    build = run_dbt(
        [
            "build",
            "--select",
            *(f"+{mart}" for mart in MARTS),
            "+dim_devices",
            # Tests of models outside the selection (the anomaly features) stay out.
            "--indirect-selection",
            "cautious",
            "--vars",
            json.dumps({"delivery_window_days": DELIVERY_WINDOW_DAYS}),
        ],
        minio_server,
        check=False,
    )
    with duckdb_connect(minio_server) as con:
        marts = {name: con.execute(f"select * from lake.main.{name}").df() for name in MARTS}
    return Lake(store, landed, build, marts)


def _land(
    store: ObjectStore, folder: Path, contract: Contract, files: Iterable[str], hour: Interval
) -> Landed:
    """Drop the files in the contract's landing folder and run the one path for ``hour``."""
    area = LandingArea(contract.landing)
    for relative in files:
        path = folder / relative
        store.put_bytes(area.incoming(path.name), path.read_bytes())
    manifest = ingest_dataset_hour(
        store, contract.dataset, hour, simulated=None, include_landing=True, claim_landing=True
    )
    dataset = raw_dataset(contract.dataset).dataset
    return Landed(
        contract,
        manifest,
        read_all(store, Bucket.RAW, dataset.prefix(hour)),
        read_all(store, Bucket.QUARANTINE, dataset.prefix(hour)),
    )


# --- independent reads of the files ------------------------------------------------------


def _nab_readings(folder: Path) -> pd.DataFrame:
    """The NAB file: naive timestamps taken as UTC, one temperature each."""
    frame = pd.read_csv(folder / FILES["nab_machine_temperature"][0], dtype=str)
    return pd.DataFrame(
        {
            "ts": pd.to_datetime(frame["timestamp"], format="%Y-%m-%d %H:%M:%S").dt.tz_localize(
                "UTC"
            ),
            "value": frame["value"].astype(float),
        }
    )


def _occupancy_readings(folder: Path, contract: Contract) -> pd.DataFrame:
    """The three occupancy files melted: one row per (file row, metric column)."""
    metric_of = {m.column: m.metric for m in contract.melt}
    frames = []
    for relative in FILES["office_occupancy"]:
        # The header names seven columns, the rows carry eight: the first is the row id.
        wide = pd.read_csv(folder / relative, dtype=str, index_col=0)
        local = pd.to_datetime(wide["date"], format="%Y-%m-%d %H:%M:%S")
        for column, metric in metric_of.items():
            frames.append(
                pd.DataFrame(
                    {
                        "local_ts": local.to_numpy(),
                        "metric": metric,
                        "value": wide[column].astype(float).to_numpy(),
                    }
                )
            )
    readings = pd.concat(frames, ignore_index=True)
    local = readings["local_ts"].dt
    # A time the autumn change repeats, or the spring change skips, names no instant.
    readings["ambiguous"] = local.tz_localize(ZONE, ambiguous="NaT", nonexistent="NaT").isna()
    readings["nonexistent"] = local.tz_localize(
        ZONE, ambiguous=np.ones(len(readings), dtype=bool), nonexistent="NaT"
    ).isna()
    readings["ts"] = local.tz_localize(ZONE, ambiguous="NaT", nonexistent="NaT")
    readings["ambiguous"] &= ~readings["nonexistent"]
    return readings


def _stock_bars(folder: Path) -> pd.DataFrame:
    """The daily bars of all five tickers, typed."""
    frame = pd.read_csv(folder / FILES["daily_stock_bars"][0], dtype=str)
    bars = frame[["Stock", "Date"]].rename(columns={"Stock": "instrument"})
    bars["day"] = pd.to_datetime(frame["Date"], format="%Y-%m-%d")
    for column in ("Open", "High", "Low", "Close", "Volume"):
        bars[column.lower()] = frame[column].astype(float)
    return bars


def _scms_shipments(folder: Path) -> pd.DataFrame:
    """The SCMS line items: a BOM, CR-only line ends, dates as ``m/d/yy`` and ``d-Mon-yy``."""
    frame = pd.read_csv(
        folder / FILES["scms_shipments"][0],
        dtype=str,
        encoding="utf-8-sig",
        lineterminator="\r",
        keep_default_na=False,  # "Namibia" resolves to NA, and "N/A" is a shipment mode
    )
    return pd.DataFrame(
        {
            "shipment_id": frame["ID"],
            "country": frame["Country"],
            # Text such as "N/A - From RDC" is no date: NaT.
            "ordered": pd.to_datetime(
                frame["PO Sent to Vendor Date"], format="%m/%d/%y", errors="coerce"
            ),
            "scheduled": pd.to_datetime(frame["Scheduled Delivery Date"], format="%d-%b-%y"),
            "delivered": pd.to_datetime(frame["Delivered to Client Date"], format="%d-%b-%y"),
        }
    )


def _line_count(path: Path) -> int:
    """Records in a text file, the header aside, whatever its line endings."""
    return len(path.read_bytes().splitlines()) - 1


# --- expected outcome --------------------------------------------------------------------


Check = tuple[str, Callable[[pd.DataFrame], pd.Series]]


def _expected_reasons(
    frame: pd.DataFrame, checks: Iterable[Check], key: list[str], values: list[str], name: str
) -> tuple[dict[str, int], pd.Series]:
    """Reason counts and the accepted-row mask, by the engine's documented precedence.

    A row takes the first check it fails; among rows passing all of them, a key
    repeated with different values quarantines every version (``conflicting_<name>``)
    and one repeated with the same values keeps its first copy (``duplicate_<name>``).
    """
    reason = pd.Series(None, index=frame.index, dtype=object)
    for label, check in checks:
        reason[reason.isna() & check(frame).fillna(False).astype(bool)] = label
    passing = frame[reason.isna()]
    # A fingerprint of the values, so that a missing value counts as a value.
    fingerprint = pd.util.hash_pandas_object(passing[values], index=False)
    versions = fingerprint.groupby([passing[k] for k in key], dropna=False).transform("nunique")
    conflicting = versions > 1
    reason[conflicting[conflicting].index] = f"conflicting_{name}"
    settled = passing[~conflicting]
    copies = settled.duplicated(key, keep="first")
    reason[copies[copies].index] = f"duplicate_{name}"
    return reason.value_counts().to_dict(), reason.isna()


def _print_headline(landed: Landed) -> None:
    """The data set's figures in the test log (``pytest -s``)."""
    manifest = landed.manifest
    print(
        f"\n{landed.contract.name} ({landed.contract.dataset}): rows in {manifest.rows_in:,}, "
        f"accepted {manifest.rows_written:,}, quarantined {manifest.rows_quarantined:,} "
        f"{manifest.reasons}"
    )


def _assert_landed(landed: Landed, rows_in: int, reasons: dict[str, int]) -> None:
    """The manifest reconciles, counts the file's rows and gives exactly these reasons."""
    manifest = landed.manifest
    assert manifest.files_rejected == {}
    assert manifest.rows_in == rows_in
    assert manifest.rows_in == manifest.rows_written + manifest.rows_quarantined
    examples = landed.quarantined.groupby("reason").head(3) if len(landed.quarantined) else ""
    assert manifest.reasons == reasons, examples
    assert len(landed.accepted) == manifest.rows_written
    quarantined = landed.quarantined.get("reason", pd.Series(dtype=object))
    assert quarantined.value_counts().to_dict() == reasons


def _assert_registered(
    store: ObjectStore, registry: registries.Registry, ids: set[str], contract: Contract, name: str
) -> None:
    """Every id was registered on first sight, by one of the contract's files, as it says."""
    entries = registries.load(store, registry)
    entries = entries[entries[registry.id_column].isin(ids)]
    missing = ids - set(entries[registry.id_column])
    assert not missing, f"not in the {name} registry after landing: {sorted(missing)}"
    writers = {f"landing:{Path(f).name}" for f in FILES[contract.name]}
    assert set(entries["registered_by"]) <= writers
    for column, value in contract.register[name].items():
        assert (entries[column] == value).all(), (column, entries[column].unique())


def _assert_close(actual: pd.Series, expected: pd.Series, *, atol: float = 0.0) -> None:
    np.testing.assert_allclose(
        actual.to_numpy(float), expected.to_numpy(float), rtol=RTOL, atol=atol
    )


# --- sensors -----------------------------------------------------------------------------


def _expected_hourly(readings: pd.DataFrame) -> pd.DataFrame:
    """fct_sensor_readings_hourly's definition in pandas: per metric and UTC event hour."""
    hours = readings.assign(event_hour=readings["ts"].dt.tz_convert("UTC").dt.floor("h"))
    grouped = hours.groupby(["metric", "event_hour"])["value"]
    return pd.DataFrame(
        {
            "count": grouped.size(),
            "mean": grouped.mean(),
            "min": grouped.min(),
            "max": grouped.max(),
            # quantile_cont interpolates linearly between the closest ranks.
            "p95": grouped.quantile(0.95, interpolation="linear"),
        }
    ).reset_index()


def _assert_hourly_mart(lake: Lake, device_id: str, readings: pd.DataFrame) -> int:
    """The device's hourly mart rows equal pandas on the accepted readings; returns the hours."""
    mart = lake.marts["fct_sensor_readings_hourly"]
    mart = mart[mart["device_id"] == device_id].copy()
    mart["event_hour"] = pd.to_datetime(mart["event_hour"], utc=True)
    expected = _expected_hourly(readings)
    merged = expected.merge(mart, on=["metric", "event_hour"], how="outer", indicator=True)
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"].head()
    assert (merged["count"] == merged["reading_count"]).all()
    for ours, theirs in (("mean", "value_mean"), ("min", "value_min"), ("max", "value_max")):
        _assert_close(merged[theirs], merged[ours])
    _assert_close(merged["value_p95"], merged["p95"])
    print(f"fct_sensor_readings_hourly {device_id}: {len(merged):,} metric-hours agree")
    return len(merged)


def test_nab_machine_temperature(lake: Lake, datasets_dir: Path) -> None:
    landed = lake.landed["nab_machine_temperature"]
    contract = landed.contract
    readings = _nab_readings(datasets_dir)
    reasons, accepted = _expected_reasons(readings, [], ["ts"], ["value"], "event_id")
    _print_headline(landed)

    device_id = contract.fields["device_id"].constant
    _assert_registered(lake.store, registries.DEVICES, {device_id}, contract, "devices")
    assert len(readings) == _line_count(datasets_dir / FILES[contract.name][0])
    _assert_landed(landed, len(readings), reasons)
    # The series steps back an hour once: those times come twice with other values.
    assert reasons.get("conflicting_event_id", 0) > 0
    conflicted = readings.loc[~accepted, "ts"]
    assert set(pd.to_datetime(landed.quarantined["ts"], utc=True)) == set(conflicted)
    readings["metric"] = contract.fields["metric"].constant
    _assert_hourly_mart(lake, device_id, readings[accepted])


def test_office_occupancy(lake: Lake, datasets_dir: Path) -> None:
    landed = lake.landed["office_occupancy"]
    contract = landed.contract
    readings = _occupancy_readings(datasets_dir, contract)
    reasons, accepted = _expected_reasons(
        readings,
        [
            ("ambiguous_local_time:ts", lambda f: f["ambiguous"]),
            ("nonexistent_local_time:ts", lambda f: f["nonexistent"]),
        ],
        ["metric", "ts"],
        ["value"],
        "event_id",
    )
    rows = sum(_line_count(datasets_dir / f) for f in FILES[contract.name])
    _print_headline(landed)

    device_id = contract.fields["device_id"].constant
    _assert_registered(lake.store, registries.DEVICES, {device_id}, contract, "devices")
    # A wide file: each row becomes one reading per metric column.
    assert len(readings) == rows * len(contract.melt)
    _assert_landed(landed, len(readings), reasons)
    hours = _assert_hourly_mart(lake, device_id, readings[accepted])
    assert hours > 0
    # Brussels is UTC+1 in February (summer time starts on 29 March 2015): the
    # first reading, at 14:19 local, falls in the 13:00 UTC hour.
    mart = lake.marts["fct_sensor_readings_hourly"]
    hours_of_room = mart.loc[mart["device_id"] == device_id, "event_hour"]
    first_hour = pd.to_datetime(hours_of_room, utc=True).min()
    first_local = readings["local_ts"].min()
    assert first_local == pd.Timestamp("2015-02-02 14:19:00")
    assert first_hour == pd.Timestamp("2015-02-02 13:00:00", tz="UTC")


# --- market ------------------------------------------------------------------------------


def _expected_daily(bars: pd.DataFrame) -> pd.DataFrame:
    """fct_market_daily's close and daily return: one bar a day, return on the previous row."""
    daily = bars.sort_values(["instrument", "day"]).reset_index(drop=True)
    previous = daily.groupby("instrument")["close"].shift(1)
    return daily.assign(daily_return=daily["close"] / previous - 1)


def test_daily_stock_bars(lake: Lake, datasets_dir: Path) -> None:
    landed = lake.landed["daily_stock_bars"]
    contract = landed.contract
    bars = _stock_bars(datasets_dir)
    prices = ["open", "high", "low", "close"]
    reasons, accepted = _expected_reasons(
        bars,
        [
            (
                "ohlc_inconsistent",
                lambda f: (f["high"] < f[["open", "close", "low"]].max(axis=1))
                | (f["low"] > f[["open", "close"]].min(axis=1)),
            ),
            ("non_positive_price", lambda f: (f[prices] <= 0).any(axis=1)),
            ("negative_volume", lambda f: f["volume"] < 0),
            ("outside_trading_hours", lambda f: f["day"].dt.weekday >= 5),
        ],
        ["instrument", "day"],
        [*prices, "volume"],
        "event_id",
    )

    _print_headline(landed)
    tickers = set(bars["instrument"])
    assert tickers == {"AAPL", "COKE", "GOOGL", "TSLA", "YHOO"}
    _assert_registered(lake.store, registries.INSTRUMENTS, tickers, contract, "instruments")
    assert len(bars) == _line_count(datasets_dir / FILES[contract.name][0])
    _assert_landed(landed, len(bars), reasons)

    expected = _expected_daily(bars[accepted])
    mart = lake.marts["fct_market_daily"].copy()
    mart["day"] = pd.to_datetime(mart["trading_day"])
    merged = expected.merge(
        mart, on=["instrument", "day"], how="outer", suffixes=("", "_mart"), indicator=True
    )
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"].head()
    assert set(mart["instrument"]) == tickers
    _assert_close(merged["close_mart"], merged["close"])
    first = merged["daily_return"].isna()
    assert (first == merged["daily_return_mart"].isna()).all()
    assert first.sum() == len(tickers)
    # The mart rounds returns to 12 decimals: half a unit of that is the absolute slack.
    _assert_close(
        merged.loc[~first, "daily_return_mart"], merged.loc[~first, "daily_return"], atol=5e-13
    )
    last_day = mart.groupby("instrument")["day"].max()
    assert last_day["YHOO"].date() == date(2017, 6, 16)  # its last day before the sale
    assert (mart.groupby("instrument").size() == bars[accepted].groupby("instrument").size()).all()
    yhoo_end = f"{last_day['YHOO']:%Y-%m-%d}"
    print(f"fct_market_daily: {len(merged):,} instrument-days agree, YHOO ends {yhoo_end}")


# --- commerce ----------------------------------------------------------------------------


def test_scms_shipments(lake: Lake, datasets_dir: Path) -> None:
    from fieldhouse.contracts.catalog import load_catalog

    landed = lake.landed["scms_shipments"]
    contract = landed.contract
    shipments = _scms_shipments(datasets_dir)
    # Country names become ISO codes in one place, the platform's catalog; pandas
    # maps them through it too, so the comparison is about the figures.
    shipments["country_code"] = shipments["country"].map(load_catalog().country_code)
    reasons, accepted = _expected_reasons(
        shipments,
        [
            ("unknown_country", lambda f: f["country_code"].isna()),
            ("delivered_before_ordered", lambda f: f["delivered"] < f["ordered"]),
        ],
        ["shipment_id"],
        ["country_code", "ordered", "scheduled", "delivered"],
        "shipment_id",
    )

    _print_headline(landed)
    assert len(shipments) == _line_count(datasets_dir / FILES[contract.name][0])
    _assert_landed(landed, len(shipments), reasons)
    assert shipments.loc[accepted, "country_code"].notna().all()
    assert shipments.loc[shipments["country"] == "Côte d'Ivoire", "country_code"].eq("CI").all()

    measured = shipments[accepted & shipments["ordered"].notna()].assign(
        delivery_days=lambda f: (f["delivered"] - f["ordered"]).dt.days.astype(float),
        late=lambda f: f["delivered"] > f["scheduled"],
    )
    days = measured.groupby("country_code")["delivery_days"]
    expected = pd.DataFrame(
        {
            "shipments_delivered": days.size(),
            "p10": days.quantile(0.1, interpolation="linear"),
            "p50": days.quantile(0.5, interpolation="linear"),
            "p90": days.quantile(0.9, interpolation="linear"),
            "late": measured.groupby("country_code")["late"].sum(),
        }
    ).reset_index()
    mart = lake.marts["fct_delivery_times_by_country"]
    countries = mart[mart["carrier"] == "all"]
    merged = expected.merge(
        countries,
        left_on="country_code",
        right_on="destination_country",
        how="outer",
        suffixes=("", "_mart"),
        indicator=True,
    )

    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"]
    # The window ends at the latest delivery and reaches back past the first one.
    window_end = pd.to_datetime(countries["window_end"], utc=True)
    window_start = pd.to_datetime(countries["window_start"], utc=True)
    assert (window_end == shipments.loc[accepted, "delivered"].max().tz_localize("UTC")).all()
    assert (window_start < measured["delivered"].min().tz_localize("UTC")).all()
    assert (merged["shipments_delivered"] == merged["shipments_delivered_mart"]).all()
    assert (merged["late"] == merged["late_shipments"]).all()
    # The mart rounds percentiles to 9 decimals.
    for p in ("p10", "p50", "p90"):
        _assert_close(merged[f"{p}_delivery_days"], merged[p], atol=5e-10)
    print(
        f"fct_delivery_times_by_country: {len(merged)} countries agree on "
        f"{int(merged['shipments_delivered'].sum()):,} measured deliveries, "
        f"{int(merged['late'].sum()):,} late"
    )


def test_the_lake_builds_and_its_tests_pass(lake: Lake) -> None:
    results = list(lake.build.result)
    failed = [
        f"{r.node.unique_id}: {r.status}: {r.message}"
        for r in results
        if str(r.status) not in {"success", "pass"}
    ]
    assert any(r.node.unique_id.startswith("test.") for r in results), "no data tests ran"
    assert not failed, "\n".join(failed)
    assert lake.build.success
