"""Catalogs: files merge, contradictions and bad entries are refused, names resolve to ISO codes."""

from __future__ import annotations

import io
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fieldhouse.contracts.catalog import CatalogError, load_catalog
from fieldhouse.quality import validate_readings
from fieldhouse.sources.prices import INSTRUMENTS
from fieldhouse.storage.keys import Interval

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "contracts" / "catalogs"
SCMS = REPO.parent / "shared" / "datasets" / "scms_shipments" / "SCMS_Delivery_History_Dataset.csv"
HOUR = Interval.parse("2026-11-22T13:00:00+00:00")

SOIL = """
metrics:
  soil_moisture_pct: {unit: pct, low: 0, high: 100, description: Soil water content.}
device_kinds:
  soil_probe: {metrics: [soil_moisture_pct, temperature_c]}
"""


def _folder(tmp_path: Path, **files: str) -> Path:
    folder = tmp_path / "catalogs"
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / f"{name}.yaml").write_text(text, encoding="utf-8")
    return folder


def _shipped_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "catalogs"
    shutil.copytree(SHIPPED, folder)
    return folder


# --- the shipped catalog ---------------------------------------------------------------


def test_the_shipped_catalog_has_every_vocabulary() -> None:
    catalog = load_catalog(SHIPPED)
    assert catalog.device_kinds["environmental"].metrics == ("temperature_c", "humidity_pct")
    assert catalog.metrics["power_w"].unit == "W"
    assert (catalog.metrics["temperature_c"].low, catalog.metrics["temperature_c"].high) == (
        -40.0,
        85.0,
    )
    assert set(catalog.carriers) == {"swiftpost", "globalship", "parcelnet", "ecoparcel"}
    assert "customs" in catalog.shipment_event_types
    assert {"online", "atm"} <= set(catalog.channels)
    assert "fraud_card_present" in catalog.chargeback_reasons
    assert "gift_cards" in catalog.merchant_categories
    assert catalog.countries["DE"].currency == "EUR"
    assert catalog.countries["CH"].currency is None  # ISO knows it; no file adds a currency
    assert {"USD", "EUR", "CHF", "NGN"} <= catalog.currencies
    assert catalog.instruments["FH500"].has_volume is False
    assert catalog.instruments["ACME"].has_volume is True


def test_the_price_simulator_registers_what_the_catalog_says() -> None:
    listed = load_catalog(SHIPPED).instruments
    assert {i.instrument_id for i in INSTRUMENTS} == set(listed)
    for simulated in INSTRUMENTS:
        entry = listed[simulated.instrument_id]
        assert (
            simulated.name,
            simulated.asset_class,
            simulated.currency,
            simulated.calendar,
            simulated.has_volume,
        ) == (entry.name, entry.asset_class, entry.currency, entry.calendar, entry.has_volume)


def test_instruments_frame_is_a_registry() -> None:
    frame = load_catalog(SHIPPED).instruments_frame()
    assert list(frame.columns) == [
        "instrument_id",
        "name",
        "asset_class",
        "currency",
        "calendar",
        "has_volume",
    ]
    assert frame.set_index("instrument_id").loc["EURUSD", "calendar"] == "fx"
    assert frame["has_volume"].dtype == bool


def test_the_default_folder_follows_the_environment(tmp_path: Path, monkeypatch) -> None:
    _folder(tmp_path, only="carriers:\n  pigeon: {name: Pigeon post}\n")
    monkeypatch.setenv("FIELDHOUSE_CONTRACTS_DIR", str(tmp_path))
    assert set(load_catalog().carriers) == {"pigeon"}
    monkeypatch.delenv("FIELDHOUSE_CONTRACTS_DIR")
    assert "swiftpost" in load_catalog().carriers


# --- merging ---------------------------------------------------------------------------


def test_files_merge_and_identical_repeats_are_fine(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        a="carriers:\n  one: {name: One}\nchannels:\n  online: {}\n",
        b="carriers:\n  one: {name: One}\n  two: {name: Two}\n",
        c="# nothing yet\n",
    )
    catalog = load_catalog(folder)
    assert list(catalog.carriers) == ["one", "two"]
    assert catalog.carriers["two"].name == "Two"
    assert catalog.channels["online"].name == "online"


def test_a_code_declared_differently_in_two_files_names_both(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        a="metrics:\n  depth_m: {unit: m, low: 0, high: 10}\n",
        b="metrics:\n  depth_m: {unit: m, low: 0, high: 20}\n",
    )
    with pytest.raises(CatalogError, match=r"metrics\.depth_m .*/a\.yaml and .*/b\.yaml"):
        load_catalog(folder)


def test_a_metric_may_serve_several_kinds(tmp_path: Path) -> None:
    folder = _shipped_copy(tmp_path)
    (folder / "soil.yaml").write_text(SOIL, encoding="utf-8")
    pairs = load_catalog(folder).kind_metric_pairs()
    assert {("environmental", "temperature_c"), ("soil_probe", "temperature_c")} <= pairs
    assert ("soil_probe", "humidity_pct") not in pairs


def test_a_user_file_makes_a_new_metric_valid(tmp_path: Path) -> None:
    folder = _shipped_copy(tmp_path)
    devices = pd.DataFrame({"device_id": ["probe-1"], "device_kind": ["soil_probe"]})
    wire = pd.DataFrame(
        {
            "event_id": ["e1", "e2"],
            "device_id": ["probe-1", "probe-1"],
            "ts": ["2026-11-22T13:05:00Z"] * 2,
            "metric": ["soil_moisture_pct", "temperature_c"],
            "value": ["31.5", "12.0"],
            "origin": ["test"] * 2,
        }
    )

    def check():
        return validate_readings(
            wire,
            devices,
            HOUR,
            ingested_at=datetime(2026, 11, 22, 14, tzinfo=UTC),
            catalog=load_catalog(folder),
        )

    before = check()
    assert before.reasons == {"unknown_metric": 1, "unknown_device_kind": 1}
    (folder / "soil.yaml").write_text(SOIL, encoding="utf-8")
    after = check()
    assert after.quarantined.empty
    assert list(after.valid["value"]) == [31.5, 12.0]


def test_a_contract_adds_its_own_entries_under_the_same_rule() -> None:
    catalog = load_catalog(SHIPPED)
    extra = {
        "metrics": {"component_temperature": {"unit": "deg", "low": -50, "high": 200}},
        "device_kinds": {"industrial_machine": {"metrics": ["component_temperature"]}},
    }
    merged = catalog.merged(extra, source="nab.yaml")
    assert merged.metrics["component_temperature"].high == 200.0
    assert ("industrial_machine", "component_temperature") in merged.kind_metric_pairs()
    assert "component_temperature" not in catalog.metrics  # the original is unchanged
    assert catalog.merged({}) is catalog
    clash = {"metrics": {"power_w": {"unit": "kW", "low": 0, "high": 50}}}
    with pytest.raises(CatalogError, match=r"metrics\.power_w .*sensors\.yaml and nab\.yaml"):
        catalog.merged(clash, source="nab.yaml")


# --- bad entries -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("metric:\n  a: {}\n", r"unknown sections \['metric'\]"),
        ("metrics: [a, b]\n", r"metrics: map each code"),
        ("metrics:\n  a: {unit: m, low: 0, high: 1, colour: red}\n", r"metrics\.a: unknown attr"),
        ("metrics:\n  a: {unit: m, low: 0}\n", r"metrics\.a: missing attributes \['high'\]"),
        ("metrics:\n  a: {unit: m, low: 5, high: 1}\n", r"metrics\.a: low 5.0 is above high"),
        ("metrics:\n  a: {unit: m, low: zero, high: 1}\n", r"metrics\.a: low is a number"),
        ("device_kinds:\n  k: {metrics: [nowhere]}\n", r"device_kinds\.k: metrics \['nowhere'\]"),
        (
            "instruments:\n  X: {asset_class: equity, currency: USD, calendar: lunar}\n",
            r"instruments\.X: unknown calendar 'lunar'",
        ),
        (
            "instruments:\n  X: {asset_class: equity, currency: XYZ, calendar: daily}\n",
            r"instruments\.X: currency 'XYZ'",
        ),
        (
            "instruments:\n  X: {asset_class: fx, currency: USD, calendar: fx, has_volume: 2}\n",
            r"instruments\.X: has_volume is true or false",
        ),
        ("countries:\n  NO: {currency: NOK}\n", r"countries: a code read as False"),
        ("countries:\n  Germany: {currency: EUR}\n", r"countries\.Germany: a country code is"),
        ("countries:\n  QQ: {currency: USD}\n", r"countries\.QQ: a code outside ISO"),
        ("countries:\n  CD: {aliases: [Congo]}\n", r"countries\.CD: 'Congo' already names CG"),
        ("countries:\n  FR: {currency: FRF}\n", r"countries\.FR: currency 'FRF'"),
        ("units:\n  ft: {to: m, scale: 0}\n", r"units\.ft: scale 0"),
        ("units:\n  ft: {to: m, scale: 0.3048}\n  yd: {to: ft, scale: 3}\n", r"units\.yd: 'ft'"),
        ("units:\n  ft: {to: m, scale: x/y}\n", r"units\.ft: scale is a number or a fraction"),
        ("carriers:\n  a: {name: [A]}\n", r"carriers\.a: name is text"),
        ("metrics: {a: 1\n", r"not valid YAML"),
    ],
)
def test_bad_entries_are_refused_naming_file_and_entry(
    tmp_path: Path, text: str, message: str
) -> None:
    folder = _folder(tmp_path, mine=text)
    with pytest.raises(CatalogError, match=message) as error:
        load_catalog(folder)
    assert str(folder / "mine.yaml") in str(error.value)


def test_a_missing_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="no catalog folder"):
        load_catalog(tmp_path / "nowhere")


# --- units -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "unit", "to", "expected"),
    [
        ([212.0, 32.0, -40.0, 98.6], "degF", "degC", [100.0, 0.0, -40.0, 37.0]),
        ([0.0, 300.0], "K", "degC", [-273.15, 26.85]),
        ([1.0, 60.0], "mph", "kmh", [1.609344, 96.56064]),
        ([10.0, 0.5], "m_s", "kmh", [36.0, 1.8]),
        ([1.0, 10.0], "knots", "kmh", [1.852, 18.52]),
        ([2.5, 0.001], "kW", "W", [2500.0, 1.0]),
        ([1.0, 0.5], "in_s", "mm_s", [25.4, 12.7]),
        ([100.0, -40.0], "degC", "degF", [212.0, -40.0]),  # the other way
        ([36.0], "kmh", "m_s", [10.0]),
        ([21.5], "degC", "degC", [21.5]),
    ],
)
def test_unit_conversions_are_exact(values, unit, to, expected) -> None:
    converted = load_catalog(SHIPPED).convert(np.array(values), unit, to)
    assert converted.tolist() == expected


def test_conversions_pass_through_the_lake_unit_and_keep_nan() -> None:
    catalog = load_catalog(SHIPPED)
    knots = catalog.convert(np.array([1.0, np.nan]), "mph", "knots")
    assert knots[0] == pytest.approx(1.609344 / 1.852, rel=1e-15)
    assert np.isnan(knots[1])


def test_an_unknown_conversion_names_both_units() -> None:
    with pytest.raises(ValueError, match="from 'degF' to 'kmh'"):
        load_catalog(SHIPPED).convert(np.array([1.0]), "degF", "kmh")
    with pytest.raises(ValueError, match="from 'furlongs' to 'm'"):
        load_catalog(SHIPPED).convert(np.array([1.0]), "furlongs", "m")


# --- countries and regions -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("DE", "DE"),
        ("deu", "DE"),
        ("Germany", "DE"),
        ("Côte d'Ivoire", "CI"),
        ("Cote d'Ivoire", "CI"),
        ("COTE D\u2019IVOIRE", "CI"),  # a typographic apostrophe
        ("Vietnam", "VN"),
        ("Viet Nam", "VN"),
        ("Tanzania", "TZ"),
        ("United Republic of Tanzania", "TZ"),
        ("Congo, DRC", "CD"),
        ("Democratic Republic of the Congo", "CD"),
        ("Congo", "CG"),
        ("South Sudan", "SS"),
        ("Kyrgyzstan", "KG"),
        ("Lao", "LA"),
        ("Laos", "LA"),
        ("Swaziland", "SZ"),
        ("Eswatini", "SZ"),
        ("Republic of Korea", "KR"),
        ("  united   states of america ", "US"),
        ("U.S.A.", "US"),
        ("St. Lucia", "LC"),
        ("Kosovo", "XK"),
        ("Atlantis", None),
        ("", None),
        (None, None),
    ],
)
def test_country_names_resolve_to_alpha_2(text, code) -> None:
    assert load_catalog(SHIPPED).country_code(text) == code


@pytest.mark.parametrize(
    ("text", "country", "code"),
    [
        ("US-CA", None, "US-CA"),
        ("us-ca", None, "US-CA"),
        ("CA", "US", "US-CA"),
        ("California", "US", "US-CA"),
        ("california", "United States", "US-CA"),
        ("California", None, "US-CA"),
        ("Île-de-France", "FR", "FR-IDF"),
        ("ile de france", None, "FR-IDF"),
        ("CA", None, None),
        ("Atlantis", "US", None),
        ("California", "Atlantis", None),
        ("", "US", None),
    ],
)
def test_region_names_resolve_to_iso_3166_2(text, country, code) -> None:
    assert load_catalog(SHIPPED).region_code(text, country) == code


def test_regions_know_their_country() -> None:
    region = load_catalog(SHIPPED).regions["DE-BY"]
    assert (region.country, region.name) == ("DE", "Bayern")


def test_every_country_of_the_scms_shipments_resolves() -> None:
    if not SCMS.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{SCMS} is missing; CI must provide the real data sets")
        pytest.skip(f"{SCMS} is not here (the real data sets live next to the project)")
    # UTF-8 with a byte-order mark and old-Mac CR line endings.
    text = SCMS.read_bytes().decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n")
    names = sorted(pd.read_csv(io.StringIO(text), usecols=["Country"])["Country"].unique())
    assert len(names) == 43
    catalog = load_catalog(SHIPPED)
    resolved = {name: catalog.country_code(name) for name in names}
    assert [name for name, code in resolved.items() if code is None] == []
    assert resolved["Congo, DRC"] == "CD"
    assert resolved["Côte d'Ivoire"] == "CI"
    assert len(set(resolved.values())) == 43
