"""Normalising a parsed file by its contract: layout, sentinels, local times, units, identity."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from fieldhouse.contracts.catalog import load_catalog
from fieldhouse.contracts.contract import parse_contract
from fieldhouse.contracts.normalize import normalize
from fieldhouse.ingest.feeds import contract_reader
from fieldhouse.quality.core import validate
from fieldhouse.sources.landing import parse_landing_file
from fieldhouse.storage.keys import Interval

SENSORS = "sensors.readings"
HOUR = Interval(datetime(2026, 11, 22, 13, tzinfo=UTC), datetime(2026, 11, 22, 14, tzinfo=UTC))


def _schema(dataset: str):
    from fieldhouse.ingest.datasets import DATASETS

    return DATASETS[dataset].schema


def _contract(fields: dict, **extra):
    return parse_contract(
        {"name": "test_feed", "dataset": SENSORS, "landing": "test_feed", "fields": fields, **extra}
    )


def _normalize(contract, text: str, file_name: str = "room-7.csv", dataset: str = SENSORS):
    reader = contract_reader(contract)
    frame = parse_landing_file(file_name, text.encode(), reader.schema, reader.layout)
    catalog = load_catalog().merged(contract.catalog)
    return normalize(frame, contract, _schema(dataset), catalog, file_name=file_name)


WIDE = _contract(
    {
        "device_id": {"file_name": r"^(room-\d+)\.csv$"},
        "ts": {"column": "time", "format": "%d.%m.%Y %H:%M", "timezone": "Europe/Berlin"},
        "event_id": {"hash": ["device_id", "metric", "ts"]},
        "value": {"sentinels": {"values": ["-200"], "action": "quarantine"}},
    },
    layout="wide",
    melt={"Temp": {"metric": "temperature_c", "unit": "degF"}, "RH": "humidity_pct"},
    file={"delimiter": ";", "decimal": ","},
)


def test_a_wide_file_becomes_one_reading_per_metric_in_file_order() -> None:
    wire = _normalize(
        WIDE, "time;Temp;RH\n22.11.2026 14:00;212;40,5\n22.11.2026 14:01;32;41\n"
    ).wire
    assert list(wire["metric"]) == ["temperature_c", "humidity_pct"] * 2
    assert list(wire["device_id"]) == ["room-7"] * 4
    # Berlin is UTC+1 in November; °F converted to the catalog's °C; decimal comma read.
    assert list(wire["ts"][:2]) == ["2026-11-22T13:00:00.000000Z"] * 2
    assert [float(v) for v in wire["value"]] == [100.0, 40.5, 0.0, 41.0]
    assert wire["parse_error"].isna().all()


def test_identity_is_a_stable_hash_of_the_normalised_key() -> None:
    first = _normalize(WIDE, "time;Temp;RH\n22.11.2026 14:00;212;40,5\n").wire
    # The same reading in another file, other units' text and column order: the same id.
    again = _normalize(WIDE, "RH;time;Temp\n40,50;22.11.2026 14:00;212,0\n").wire
    assert first["event_id"].str.fullmatch(r"[0-9a-f]{20}").all()
    assert sorted(first["event_id"]) == sorted(again["event_id"])
    assert first["event_id"].nunique() == 2


def test_a_sentinel_is_quarantined_with_its_own_reason() -> None:
    wire = _normalize(WIDE, "time;Temp;RH\n22.11.2026 14:00;-200;40\n").wire
    assert list(wire["parse_error"]) == ["missing_value_sentinel:value", None]


def test_a_sentinel_declared_null_empties_an_optional_field() -> None:
    contract = parse_contract(
        {
            "name": "erp",
            "dataset": "commerce.shipments",
            "landing": "erp",
            "fields": {
                "shipment_id": "id",
                "destination_country": {"column": "country", "resolve": "country"},
                "delivered_at": {
                    "column": "delivered",
                    "format": "%d-%b-%y",
                    "date_only": True,
                    "sentinels": {"values": ["Date Not Captured"], "action": "null"},
                },
            },
        }
    )
    result = _normalize(
        contract,
        "id,country,delivered\n1,Côte d'Ivoire,2-Jun-06\n2,Congo DRC,Date Not Captured\n",
        dataset="commerce.shipments",
    )
    assert result.nulled == {"delivered_at": 1}
    assert list(result.wire["delivered_at"]) == ["2006-06-02T00:00:00.000000Z", None]
    assert result.wire["destination_country"][0] == "CI"


@pytest.mark.parametrize(
    ("local", "reason"),
    [
        ("25.10.2026 02:30", "ambiguous_local_time:ts"),  # clocks go back: 02:30 happens twice
        ("29.03.2026 02:30", "nonexistent_local_time:ts"),  # clocks go forward: skipped
    ],
)
def test_daylight_saving_gaps_and_repeats_are_quarantined(local: str, reason: str) -> None:
    wire = _normalize(WIDE, f"time;Temp;RH\n{local};50;40\n").wire
    assert set(wire["parse_error"]) == {reason}


def test_summer_time_is_handled_by_the_zone() -> None:
    wire = _normalize(WIDE, "time;Temp;RH\n01.07.2026 12:00;50;40\n").wire
    assert wire["ts"][0] == "2026-07-01T10:00:00.000000Z"  # CEST is UTC+2


def test_a_time_that_does_not_parse_is_left_for_validation_to_reject() -> None:
    result = _normalize(WIDE, "time;Temp;RH\nyesterday;50;40\n")
    checked = validate(
        result.wire,
        _schema(SENSORS),
        HOUR,
        ingested_at=HOUR.end,
        context={
            "devices": pd.DataFrame({"device_id": ["room-7"], "device_kind": ["environmental"]}),
            "catalog": load_catalog(),
        },
    )
    assert checked.reasons == {"bad_timestamp": 2}
    assert list(checked.quarantined["ts"]) == ["yesterday", "yesterday"]


def test_a_file_whose_name_does_not_carry_the_device_is_quarantined() -> None:
    wire = _normalize(WIDE, "time;Temp;RH\n22.11.2026 14:00;50;40\n", file_name="other.csv").wire
    assert set(wire["parse_error"]) == {"file_name_mismatch:device_id"}


def test_a_row_that_does_not_parse_stays_one_row() -> None:
    wire = _normalize(
        WIDE, "time;Temp;RH\n22.11.2026 14:00;50;40;extra\n22.11.2026 14:01;50;40\n"
    ).wire
    assert list(wire["parse_error"]) == ["malformed_csv", None, None]


def test_whole_numbers_written_as_floats_are_integers_and_fractions_are_not() -> None:
    contract = parse_contract(
        {
            "name": "bars",
            "dataset": "market.price_bars",
            "landing": "bars",
            "fields": {
                "instrument": {"constant": "ACME"},
                "bar_start": {"column": "Date", "date_only": True},
                "open": "o",
                "high": "h",
                "low": "l",
                "close": "c",
                "volume": "v",
                "event_id": {"hash": ["instrument", "bar_start"]},
            },
        }
    )
    wire = _normalize(
        contract,
        "Date,o,h,l,c,v\n2017-12-29,1,2,0.5,1.5,25643711.0\n2017-12-28,1,2,0.5,1.5,10.5\n",
        dataset="market.price_bars",
    ).wire
    assert list(wire["volume"]) == ["25643711", "10.5"]
    assert list(wire["bar_start"]) == ["2017-12-29T00:00:00.000000Z", "2017-12-28T00:00:00.000000Z"]


def test_thousands_separators_are_removed() -> None:
    contract = _contract(
        {"event_id": "id", "device_id": "d", "ts": "t", "metric": "m", "value": "v"},
        file={"delimiter": ";", "decimal": ",", "thousands": "."},
    )
    wire = _normalize(contract, "id;d;t;m;v\n1;x;2026-11-22T13:00:00Z;power_w;12.500,25\n").wire
    assert wire["value"][0] == "12500.25"
    assert np.isfinite(float(wire["value"][0]))
