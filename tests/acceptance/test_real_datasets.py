"""Acceptance: real public data sets through the one contract-driven ingestion path.

Each data set in ``../shared/datasets/`` (see its README) is dropped into the
session's MinIO as a user would drop it, landed for one hour by
``ingest_dataset_hour`` under its contract, and the lake is built once with real
dbt and DuckLake. Every figure is checked against an independent pandas read of
the original file: rows in, quarantine reasons, the registries and the marts.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from fieldhouse.config import StorageSettings
from fieldhouse.contracts.contract import SIMULATOR_SOURCE, Contract, load_contracts
from fieldhouse.ingest import registries
from fieldhouse.ingest.datasets import raw_dataset
from fieldhouse.ingest.feeds import ingest_dataset_hour
from fieldhouse.ingest.partitions import Manifest
from fieldhouse.storage.keys import Bucket, Interval, LandingArea
from fieldhouse.storage.objects import ObjectStore
from tests.integration.objects import read_all
from tests.zones import empty_zones

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
def lake(datasets_dir: Path, minio_server: StorageSettings) -> Lake:
    """All four data sets landed hour by hour into an emptied MinIO, then one dbt build."""
    from fieldhouse.lake import duckdb_connect, run_dbt

    store = empty_zones(minio_server)
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

# One simulated hour of prices (a Monday session: equities and EURUSD trade) landed
# beside the stocks, to show the user's series do not change and stay apart.
SIMULATED_PRICE_HOUR = Interval.parse("2024-01-08T15:00:00+00:00")


@pytest.fixture(scope="module")
def market_with_simulated_prices(lake: Lake, minio_server: StorageSettings) -> pd.DataFrame:
    """fct_market_daily rebuilt after a simulated hour of prices joined the stocks."""
    from fieldhouse.ingest.feeds import ingest_source
    from fieldhouse.ingest.sources import PRICES, PriceRunOptions
    from fieldhouse.lake import duckdb_connect, run_dbt

    ingest_source(lake.store, PRICES, SIMULATED_PRICE_HOUR, PriceRunOptions(include_landing=False))
    run_dbt(["build", "--select", "+fct_market_daily"], minio_server)
    with duckdb_connect(minio_server) as con:
        return con.execute("select * from lake.main.fct_market_daily").df()


def _expected_daily(bars: pd.DataFrame) -> pd.DataFrame:
    """fct_market_daily's close, return and gaps: one bar a day, return on the previous row.

    The gaps follow the mart's rule, from the tickers' dates alone: a day is a
    trading day when any ticker has a bar that day; where no other ticker is
    listed (between its first and last bar), a weekday is one.
    """
    daily = bars.sort_values(["instrument", "day"]).reset_index(drop=True)
    by_ticker = daily.groupby("instrument")
    previous_day = by_ticker["day"].shift(1)
    daily = daily.assign(
        previous_day=previous_day,
        daily_return=daily["close"] / by_ticker["close"].shift(1) - 1,
        calendar_days_spanned=(daily["day"] - previous_day).dt.days,
    )
    is_trading_day = _trading_days(daily)
    daily["trading_days_spanned"] = [
        np.nan
        if pd.isna(before)
        else sum(is_trading_day(ticker, d) for d in pd.date_range(before, day)[1:])
        for ticker, before, day in zip(
            daily["instrument"], daily["previous_day"], daily["day"], strict=True
        )
    ]
    daily["spans_missing_bar"] = daily["trading_days_spanned"] > 1
    return daily


def _trading_days(daily: pd.DataFrame) -> Callable[[str, pd.Timestamp], bool]:
    """Whether a day is a trading day for a ticker, from the dates the tickers traded."""
    traded = set(daily["day"])
    listed = daily.groupby("instrument")["day"].agg(["min", "max"])

    def is_trading_day(ticker: str, day: pd.Timestamp) -> bool:
        if day in traded:
            return True
        others = listed.drop(index=ticker)
        alone = not ((others["min"] <= day) & (day <= others["max"])).any()
        return alone and day.weekday() < 5

    return is_trading_day


def _user_series(mart: pd.DataFrame, source: str) -> pd.DataFrame:
    """The mart's rows of one source, in a stable order."""
    rows = mart[mart["source"] == source]
    return rows.sort_values(["instrument", "trading_day"]).reset_index(drop=True)


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
    assert set(mart["source"]) == {contract.source}
    mart["day"] = pd.to_datetime(mart["trading_day"])
    merged = expected.merge(
        mart, on=["instrument", "day"], how="outer", suffixes=("", "_mart"), indicator=True
    )
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"].head()
    assert set(mart["instrument"]) == tickers
    assert (mart["calendar"] == contract.register["instruments"]["calendar"]).all()
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

    returns = merged[~first]
    for column in ("calendar_days_spanned", "trading_days_spanned"):
        assert (returns[f"{column}_mart"] == returns[column]).all(), column
    assert (
        merged.loc[first, ["trading_days_spanned_mart", "spans_missing_bar_mart"]]
        .isna()
        .all(axis=None)
    )
    assert (returns["spans_missing_bar_mart"] == returns["spans_missing_bar"]).all()
    flagged = returns.loc[returns["spans_missing_bar_mart"].astype(bool), ["instrument", "day"]]
    # AAPL has no bar for Monday 2017-08-07 while the other tickers do.
    aapl = flagged[flagged["instrument"] == "AAPL"]
    assert pd.Timestamp("2017-08-08") in set(aapl["day"]), flagged
    # Weekdays no ticker traded are market holidays: a return across one is no gap.
    holidays = set(pd.bdate_range(mart["day"].min(), mart["day"].max())) - set(mart["day"])
    assert pd.Timestamp("2017-07-04") in holidays
    across_holiday = [
        any(before < h < day for h in holidays)
        for before, day in zip(returns["previous_day"], returns["day"], strict=True)
    ]
    assert sum(across_holiday) > len(holidays)
    assert not returns.loc[across_holiday, "spans_missing_bar_mart"].any()
    # Nothing of the file was quarantined, so no return spans a quarantined bar.
    assert len(landed.quarantined) == 0
    assert not returns["spans_quarantined_bar"].astype(bool).any()
    print(
        f"fct_market_daily: {len(flagged)} returns span a missing bar: {flagged.to_dict('records')}"
    )


def test_simulated_prices_leave_the_stock_series_alone(
    lake: Lake, market_with_simulated_prices: pd.DataFrame
) -> None:
    source = lake.landed["daily_stock_bars"].contract.source
    before = lake.marts["fct_market_daily"]
    after = market_with_simulated_prices

    assert set(after["source"]) == {source, SIMULATOR_SOURCE}
    pd.testing.assert_frame_equal(_user_series(after, source), _user_series(before, source))
    simulated = _user_series(after, SIMULATOR_SOURCE)
    assert set(simulated["instrument"]).isdisjoint(set(before["instrument"]))
    assert {"ACME", "EURUSD"} <= set(simulated["instrument"])
    # One hour, one day: every simulated series starts and ends there, with no return.
    assert (pd.to_datetime(simulated["trading_day"]) == pd.Timestamp("2024-01-08")).all()
    assert simulated["previous_close"].isna().all()
    assert simulated["spans_missing_bar"].isna().all()
    assert not after.duplicated(["source", "instrument", "trading_day"]).any()


# --- commerce ----------------------------------------------------------------------------

# Other commerce sources beside the SCMS history (2006-2015) in the same lake: the
# shop simulator's hours of today, and an ERP export that delivered to two of the
# SCMS countries yesterday. Then one build as of a date inside the history.
SIMULATED_COMMERCE_HOURS = 2
ERP_SHIPMENTS = (
    "shipment_id,order_id,destination_country,carrier,ordered_at,delivered_at\n"
    "ERP-1,PO-1,NG,,{ordered},{delivered}\n"
    "ERP-2,PO-2,ZA,,{ordered},{delivered}\n"
)
AS_OF = "2013-06-30"  # the end of that day: rows from 2013-07-01 00:00 UTC on are left out
AS_OF_WINDOW_DAYS = 365


@dataclass(frozen=True)
class CommerceBuilds:
    """The delivery marts rebuilt with other commerce sources in the lake, and as of AS_OF."""

    delivery_times: pd.DataFrame
    features: pd.DataFrame
    delivery_times_as_of: pd.DataFrame
    features_as_of: pd.DataFrame
    latest_simulated_scan: pd.Timestamp


@pytest.fixture(scope="module")
def commerce_beside_others(lake: Lake, minio_server: StorageSettings) -> CommerceBuilds:
    """Simulated hours of today and an ERP file of yesterday join SCMS; two commerce builds."""
    from fieldhouse.ingest.feeds import ingest_source
    from fieldhouse.ingest.sources import COMMERCE, CommerceRunOptions
    from fieldhouse.lake import build_domains, duckdb_connect

    now = pd.Timestamp.now(tz="UTC").floor("h").to_pydatetime()
    simulated = Interval(now - timedelta(hours=SIMULATED_COMMERCE_HOURS), now)
    options = CommerceRunOptions(include_landing=False, orders_per_hour=20.0)
    ingest_source(lake.store, COMMERCE, simulated, options)
    erp = load_contracts()["erp_shipments"]
    yesterday = now - timedelta(days=1)
    text = ERP_SHIPMENTS.format(
        ordered=(yesterday - timedelta(days=6)).isoformat(), delivered=yesterday.isoformat()
    )
    lake.store.put_bytes(LandingArea(erp.landing).incoming("erp.csv"), text.encode())
    erp_hour = Interval(simulated.start - timedelta(hours=1), simulated.start)
    manifest = ingest_dataset_hour(lake.store, erp.dataset, erp_hour, contracts=[erp])
    assert manifest.rows_written == 2, manifest.reasons

    def read(*names: str) -> list[pd.DataFrame]:
        with duckdb_connect(minio_server) as con:
            return [con.execute(f"select * from lake.main.{name}").df() for name in names]

    build_domains(minio_server, ["commerce"], vars={"delivery_window_days": DELIVERY_WINDOW_DAYS})
    delivery_times, features = read("fct_delivery_times_by_country", "ml_delivery_time_features")
    with duckdb_connect(minio_server) as con:
        [latest_scan] = con.execute(
            "select max(last_scan_at) from lake.intermediate.int_shipments_summarized "
            "where source = 'simulator'"
        ).fetchone()
    as_of = {"as_of": AS_OF, "delivery_window_days": AS_OF_WINDOW_DAYS}
    build_domains(minio_server, ["commerce"], vars=as_of)
    delivery_times_as_of, features_as_of = read(
        "fct_delivery_times_by_country", "ml_delivery_time_features"
    )
    return CommerceBuilds(
        delivery_times, features, delivery_times_as_of, features_as_of, pd.Timestamp(latest_scan)
    )


def _scms_checked(folder: Path) -> tuple[pd.DataFrame, dict[str, int], pd.Series]:
    """The SCMS line items with their ISO country, the expected reasons and accepted mask."""
    from fieldhouse.contracts.catalog import load_catalog

    shipments = _scms_shipments(folder)
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
    return shipments, reasons, accepted


def _expected_delivery_times(
    accepted: pd.DataFrame, window_end: pd.Series, window_days: int
) -> pd.DataFrame:
    """The country rows of fct_delivery_times_by_country in pandas.

    ``window_end`` maps each country to the end of its window; the deliveries
    with an order date in (end - window_days, end] are measured.
    """
    end = accepted["country_code"].map(window_end)
    in_window = (accepted["delivered"] > end - pd.Timedelta(days=window_days)) & (
        accepted["delivered"] <= end
    )
    measured = accepted[in_window & accepted["ordered"].notna()].assign(
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
    )
    expected["window_end"] = expected.index.map(window_end)
    return expected.reset_index()


def _assert_delivery_times(mart: pd.DataFrame, expected: pd.DataFrame) -> pd.DataFrame:
    """The mart's SCMS country rows equal pandas' figures; returns them merged."""
    countries = mart[(mart["source"] == "scms_shipments") & (mart["carrier"] == "all")]
    merged = expected.merge(
        countries,
        left_on="country_code",
        right_on="destination_country",
        how="outer",
        suffixes=("", "_mart"),
        indicator=True,
    )
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"]
    window_end = pd.to_datetime(merged["window_end_mart"], utc=True)
    assert (window_end == merged["window_end"].dt.tz_localize("UTC")).all()
    assert (merged["shipments_delivered"] == merged["shipments_delivered_mart"]).all()
    assert (merged["late"] == merged["late_shipments"]).all()
    # The mart rounds percentiles to 9 decimals.
    for p in ("p10", "p50", "p90"):
        _assert_close(merged[f"{p}_delivery_days"], merged[p], atol=5e-10)
    return merged


def _scms_rows(mart: pd.DataFrame) -> pd.DataFrame:
    keys = ["destination_country", "carrier"]
    scms = mart[mart["source"] == "scms_shipments"]
    return scms.sort_values(keys, ignore_index=True)


def test_scms_shipments(lake: Lake, datasets_dir: Path) -> None:
    landed = lake.landed["scms_shipments"]
    contract = landed.contract
    shipments, reasons, accepted = _scms_checked(datasets_dir)

    _print_headline(landed)
    assert contract.source == "scms_shipments"
    assert len(shipments) == _line_count(datasets_dir / FILES[contract.name][0])
    _assert_landed(landed, len(shipments), reasons)
    assert shipments.loc[accepted, "country_code"].notna().all()
    assert shipments.loc[shipments["country"] == "Côte d'Ivoire", "country_code"].eq("CI").all()

    kept = shipments[accepted]
    # Each country's window ends at its own latest delivery and reaches back past
    # its first one: every measured delivery counts.
    latest = kept.groupby("country_code")["delivered"].max()
    expected = _expected_delivery_times(kept, latest, DELIVERY_WINDOW_DAYS)
    mart = lake.marts["fct_delivery_times_by_country"]
    merged = _assert_delivery_times(mart, expected)

    assert set(mart["source"]) == {"scms_shipments"}
    # Shipped to 43 countries; those with an order date on record are measured.
    assert kept["country_code"].nunique() == 43
    assert set(merged["country_code"]) == set(kept.dropna(subset=["ordered"])["country_code"])
    assert merged["shipments_delivered"].sum() == kept["ordered"].notna().sum()
    # Countries whose deliveries stopped early keep their own window.
    assert merged["window_end"].nunique() > 1
    print(
        f"fct_delivery_times_by_country: {len(merged)} countries agree on "
        f"{int(merged['shipments_delivered'].sum()):,} measured deliveries, "
        f"{int(merged['late'].sum()):,} late"
    )


def test_scms_figures_hold_beside_other_commerce_sources(
    lake: Lake, commerce_beside_others: CommerceBuilds, datasets_dir: Path
) -> None:
    mart = commerce_beside_others.delivery_times
    shipments, _, accepted = _scms_checked(datasets_dir)
    kept = shipments[accepted]
    latest = kept.groupby("country_code")["delivered"].max()

    # The simulator scanned today: the latest row in the lake is hours old. (Its
    # hours hold few shipments whose order is in the lake too, so few reach the mart.)
    recent = pd.Timestamp.now(tz="UTC") - pd.Timedelta(days=1)
    assert commerce_beside_others.latest_simulated_scan > recent
    assert {"scms_shipments", "erp_shipments"} <= set(mart["source"])
    assert set(mart["source"]) <= {"scms_shipments", "erp_shipments", "simulator"}
    assert not mart.duplicated(["source", "destination_country", "carrier"]).any()
    # The SCMS rows are those of the lake without the others, and pandas' figures.
    pd.testing.assert_frame_equal(
        _scms_rows(mart), _scms_rows(lake.marts["fct_delivery_times_by_country"])
    )
    _assert_delivery_times(mart, _expected_delivery_times(kept, latest, DELIVERY_WINDOW_DAYS))
    # Nigeria and South Africa have two series: SCMS's ends in its own history,
    # the ERP's yesterday, with its one delivery only.
    both = mart[mart["destination_country"].isin(["NG", "ZA"]) & (mart["carrier"] == "all")]
    erp = both[both["source"] == "erp_shipments"]
    assert sorted(erp["destination_country"]) == ["NG", "ZA"]
    assert (erp["shipments_delivered"] == 1).all()
    assert (erp["p50_delivery_days"] == 6.0).all()
    scms_end = pd.to_datetime(both.loc[both["source"] == "scms_shipments", "window_end"], utc=True)
    assert (scms_end < pd.Timestamp("2016-01-01", tz="UTC")).all() and len(scms_end) == 2


def _assert_labels(features: pd.DataFrame, orders: pd.DataFrame, news: pd.Timestamp) -> pd.Series:
    """SCMS's label_complete is ``ordered <= news - horizon`` for exactly ``orders``."""
    horizon = pd.Timedelta(days=19)  # dbt_project.yml: delivery_label_horizon_days
    scms = features[features["source"] == "scms_shipments"].set_index("shipment_id")
    expected = (orders.set_index("shipment_id")["ordered"] <= news - horizon).sort_index()
    actual = scms["label_complete"].sort_index()
    assert list(actual.index) == list(expected.index)
    assert (actual == expected).all()
    return actual


def test_scms_labels_mature_against_its_own_news_or_as_of(
    commerce_beside_others: CommerceBuilds, datasets_dir: Path
) -> None:
    shipments, _, accepted = _scms_checked(datasets_dir)
    kept = shipments[accepted]
    ordered = kept.dropna(subset=["ordered"])
    # The latest the SCMS export tells is its latest delivery (or order): the
    # simulator's scans of today and the ERP's deliveries say nothing of it.
    news = max(kept["delivered"].max(), ordered["ordered"].max())
    _assert_labels(commerce_beside_others.features, ordered, news)

    # As of a date, orders from as_of on are left out, and the last 19 days'
    # outcomes before it are not known yet.
    end = pd.Timestamp(AS_OF) + pd.Timedelta(days=1)
    before = ordered[ordered["ordered"] < end]
    labels = _assert_labels(commerce_beside_others.features_as_of, before, end)
    assert 0 < (~labels).sum() < len(labels)


def test_scms_figures_as_of_a_date(
    commerce_beside_others: CommerceBuilds, datasets_dir: Path
) -> None:
    mart = commerce_beside_others.delivery_times_as_of
    shipments, _, accepted = _scms_checked(datasets_dir)
    # as_of is the end of its day; the window is the AS_OF_WINDOW_DAYS before it.
    end = pd.Timestamp(AS_OF) + pd.Timedelta(days=1)
    kept = shipments[accepted]
    # Deliveries from as_of on had not happened yet.
    before = kept[kept["delivered"] < end]
    window_end = pd.Series(end, index=kept["country_code"].unique())
    expected = _expected_delivery_times(before, window_end, AS_OF_WINDOW_DAYS)
    merged = _assert_delivery_times(mart, expected)

    # Every other source's deliveries came after as_of.
    assert set(mart["source"]) == {"scms_shipments"}
    assert (pd.to_datetime(mart["window_end"], utc=True) == end.tz_localize("UTC")).all()
    assert len(merged) >= 10
    print(
        f"fct_delivery_times_by_country as of {AS_OF}: {len(merged)} countries agree on "
        f"{int(merged['shipments_delivered'].sum()):,} deliveries of the "
        f"{AS_OF_WINDOW_DAYS} days before"
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
