"""Proposing a contract from a sample: delimiters, headers, types, formats, sentinels, datasets."""

from __future__ import annotations

import gzip
import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from fieldhouse.contracts.contract import Contract, parse_contract
from fieldhouse.contracts.infer import infer_contract, profile_columns, read_sample


def _proposal(path: Path, **kwargs) -> tuple[str, dict]:
    text = infer_contract(path, **kwargs)
    return text, yaml.safe_load(text)


def _filled(text: str) -> Contract:
    """The proposal as a person would finish it: every TODO replaced, then checked."""
    return parse_contract(yaml.safe_load(re.sub(r"\bTODO\b", "filled", text)))


def _write(tmp_path: Path, name: str, text: str, newline: str = "\n") -> Path:
    path = tmp_path / name
    path.write_bytes(text.replace("\n", newline).encode("utf-8"))
    return path


# --- files and headers ---------------------------------------------------------------


def test_semicolons_decimal_commas_bom_and_crlf_are_declared(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "room-7.csv",
        "\ufefftime;Temperature;Humidity\n"
        "22.11.2026 14:00;21,5;40,5\n22.11.2026 14:01;21,75;41\n22.11.2026 14:02;22;41,25\n",
        newline="\r\n",
    )
    text, doc = _proposal(path)
    assert doc["file"] == {"delimiter": ";", "decimal": ","}
    assert doc["layout"] == "wide"
    assert set(doc["melt"]) == {"Temperature", "Humidity"}
    assert doc["fields"]["ts"]["format"] == "%d.%m.%Y %H:%M"
    assert "byte-order mark" in doc["description"] and "CRLF" in doc["description"]
    contract = _filled(text)
    assert contract.file.decimal == ","
    assert {m.column for m in contract.melt} == {"Temperature", "Humidity"}


def test_tabs_and_old_mac_line_endings_are_read(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "readings.tsv",
        "device\tmetric\ttime\tvalue\n"
        "env-1\ttemperature_c\t2026-11-22T13:00:00Z\t21.5\n"
        "env-1\thumidity_pct\t2026-11-22T13:00:00Z\t40\n",
        newline="\r",
    )
    sample = read_sample(path)
    assert sample.delimiter == "\t"
    assert sample.columns == ["device", "metric", "time", "value"]
    assert len(sample.rows) == 2
    _, doc = _proposal(path)
    assert doc["file"] == {"delimiter": "\t"}
    assert doc.get("layout", "long") == "long"
    assert doc["fields"]["device_id"] == "device"
    assert doc["fields"]["metric"] == "metric"


def test_a_header_one_field_short_names_the_first_as_a_row_id(tmp_path: Path) -> None:
    rows = "".join(f'"{i}","2015-02-02 14:{i:02d}:00",23.{i},26.{i}\n' for i in range(10, 20))
    path = _write(tmp_path, "office.txt", '"date","Temperature","Humidity"\n' + rows)
    text, doc = _proposal(path)
    assert doc["file"]["header_prepend"] == ["row_id"]
    assert doc["fields"]["ts"]["column"] == "date"
    # A row counter is not an identity: the readings are keyed by device, metric and time.
    assert doc["fields"]["event_id"] == {"hash": ["device_id", "metric", "ts"]}
    assert _filled(text).file.header_prepend == ("row_id",)


def test_json_lines_gzipped_keep_numbers_and_offsets(tmp_path: Path) -> None:
    lines = [
        {"id": f"r-{i}", "sensor": "env-1", "timestamp": f"2026-11-22T13:0{i}:00+01:00", "x": 1.5}
        for i in range(5)
    ]
    path = tmp_path / "readings.jsonl.gz"
    path.write_bytes(gzip.compress("\n".join(json.dumps(line) for line in lines).encode()))
    text, doc = _proposal(path, dataset="sensors.readings")
    assert "guessed" not in text  # the dataset was given, not guessed
    assert doc["dataset"] == "sensors.readings"
    # Times with an offset need neither format nor zone.
    assert doc["fields"]["ts"] == "timestamp"
    assert doc["fields"]["event_id"] == "id"
    assert doc["fields"]["device_id"] == "sensor"
    assert doc["fields"]["value"] == "x"
    _filled(text)


def test_parquet_naive_timestamps_get_the_parsers_format(tmp_path: Path) -> None:
    table = pa.table(
        {
            "Date": pa.array([datetime(2026, 11, 22, h) for h in range(6)], pa.timestamp("s")),
            "Open": [10.0, 11, 12, 13, 14, 15],
            "High": [11.0, 12, 13, 14, 15, 16],
            "Low": [9.0, 10, 11, 12, 13, 14],
            "Close": [10.5, 11.5, 12.5, 13.5, 14.5, 15.5],
        }
    )
    path = tmp_path / "acme-bars.parquet"
    pq.write_table(table, path)
    text, doc = _proposal(path)
    assert doc["dataset"] == "market.price_bars"
    # Parquet keeps milliseconds, which the landing parser writes out: the format follows.
    assert doc["fields"]["bar_start"]["format"] == "%Y-%m-%dT%H:%M:%S.%f"
    assert doc["fields"]["event_id"] == {"hash": ["instrument", "bar_start"]}
    # The instrument is required and no column names it: left for a person to say.
    assert doc["fields"]["instrument"] == "TODO"
    assert "TODO required" in text
    assert "volume" not in doc["fields"]  # optional, and no column looks like it
    contract = _filled(text)
    assert contract.fields["instrument"].column == "filled"
    # The proposed format reads the file as ingestion parses it.
    wire = _normalized_wire(contract, path)
    assert wire["bar_start"].iloc[1] == "2026-11-22T01:00:00.000000Z"
    assert wire["parse_error"].isna().all()


def _normalized_wire(contract: Contract, path: Path):
    from fieldhouse.contracts.catalog import load_catalog
    from fieldhouse.contracts.normalize import normalize
    from fieldhouse.ingest.datasets import raw_dataset
    from fieldhouse.ingest.feeds import contract_reader
    from fieldhouse.sources.landing import parse_landing_file

    reader = contract_reader(contract)
    frame = parse_landing_file(path.name, path.read_bytes(), reader.schema, reader.layout)
    schema = raw_dataset(contract.dataset).schema
    return normalize(frame, contract, schema, load_catalog(), file_name=path.name).wire


def test_tz_aware_parquet_timestamps_carry_an_offset(tmp_path: Path) -> None:
    moments = [datetime(2026, 11, 22, 13, m, tzinfo=UTC) for m in range(4)]
    table = pa.table({"ts": pa.array(moments, pa.timestamp("ms", tz="UTC")), "value": [1.0] * 4})
    path = tmp_path / "one.parquet"
    pq.write_table(table, path)
    profile = {p.name: p for p in profile_columns(read_sample(path))}["ts"]
    assert (profile.kind, profile.offset, profile.format) == ("timestamp", True, None)


# --- types, formats and sentinels ------------------------------------------------------


def _profiles(tmp_path: Path, text: str) -> dict:
    path = _write(tmp_path, "sample.csv", text)
    return {p.name: p for p in profile_columns(read_sample(path))}


def test_kinds_and_formats_of_columns(tmp_path: Path) -> None:
    profiles = _profiles(
        tmp_path,
        "n,x,day,when,label\n"
        "1,0.5,2-Jun-06,11/13/06 10:00,a\n"
        "7,3,14-Nov-06,01/02/07 11:30,b\n"
        "3,2.25,27-Aug-06,12/31/06 23:59,c\n",
    )
    assert profiles["n"].kind == "integer"
    assert profiles["x"].kind == "decimal"
    assert (profiles["day"].kind, profiles["day"].format) == ("date", "%d-%b-%y")
    assert (profiles["when"].kind, profiles["when"].format) == ("timestamp", "%m/%d/%y %H:%M")
    assert profiles["label"].kind == "text"


def test_day_month_order_the_sample_cannot_tell_is_flagged(tmp_path: Path) -> None:
    profiles = _profiles(tmp_path, "d\n01/02/2026\n03/04/2026\n05/06/2026\n")
    assert profiles["d"].format == "%d/%m/%Y"
    assert profiles["d"].alternative == "%m/%d/%Y"
    late = _profiles(tmp_path, "d\n01/02/2026\n03/24/2026\n05/06/2026\n")
    assert (late["d"].format, late["d"].alternative) == ("%m/%d/%Y", None)


def test_day_month_order_is_settled_by_values_beyond_the_first_pass(tmp_path: Path) -> None:
    both = [
        f"{a:02d}/{b:02d}/{y}"
        for y in range(2001, 2005)
        for a in range(1, 13)
        for b in range(1, 13)
    ]
    month_first = [f"{m:02d}/25/2010" for m in range(1, 13)]
    profile = _profiles(tmp_path, "d\n" + "\n".join(both + month_first) + "\n")["d"]
    assert len(both) > 500  # the first pass sees only values either order reads
    assert (profile.format, profile.alternative) == ("%m/%d/%Y", None)


def test_repeated_text_in_a_date_column_is_a_sentinel(tmp_path: Path) -> None:
    dates = ["2/6/06", "Date Not Captured", "11/13/06", "N/A - From RDC", "N/A - From RDC"]
    dates += [f"{m}/1{m}/07" for m in range(1, 10)] + ["Date Not Captured"]
    profiles = _profiles(tmp_path, "sent\n" + "\n".join(dates) + "\n")
    assert profiles["sent"].kind == "date"
    assert profiles["sent"].format == "%m/%d/%y"
    assert set(profiles["sent"].sentinels) == {"Date Not Captured", "N/A - From RDC"}


def test_a_text_column_is_not_a_date_because_a_few_values_parse(tmp_path: Path) -> None:
    values = [f"item {i}" for i in range(30)] + ["2026-01-01"]
    assert _profiles(tmp_path, "what\n" + "\n".join(values) + "\n")["what"].kind == "text"


def test_missing_value_codes_far_outside_the_rest_are_sentinels(tmp_path: Path) -> None:
    values = ["2.6", "2.0", "-200", "2.2", "1.6", "-200", "1.2", "9999", "9999", "11.9"]
    profile = _profiles(tmp_path, "co\n" + "\n".join(values) + "\n")["co"]
    assert profile.kind == "decimal"
    assert set(profile.sentinels) == {"-200", "9999"}


def test_a_repeated_extreme_that_is_not_a_code_stays_a_value(tmp_path: Path) -> None:
    # 0 repeats below the rest, but it is close to it: light at night, not a code.
    values = ["0", "0", "0", "420", "433", "415.5", "0", "450"]
    assert _profiles(tmp_path, "light\n" + "\n".join(values) + "\n")["light"].sentinels == ()


def test_an_integer_column_with_fractions_is_decimal(tmp_path: Path) -> None:
    values = ["0"] * 40 + ["0.5"]
    assert _profiles(tmp_path, "x\n" + "\n".join(values) + "\n")["x"].kind == "decimal"


# --- fields, identity and the result ---------------------------------------------------


def test_a_unique_id_column_is_the_identity(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "ticks.csv",
        "reading_id,device,time,metric,value\n"
        "a1,env-1,2026-11-22 13:00:00,temperature_c,21\n"
        "a2,env-1,2026-11-22 13:00:00,humidity_pct,40\n"
        "a3,env-2,2026-11-22 13:00:00,temperature_c,19\n",
    )
    text, doc = _proposal(path)
    assert doc["fields"]["event_id"] == "reading_id"
    assert doc["fields"]["ts"]["timezone"] == "UTC"
    assert "set an IANA name" in text
    contract = _filled(text)
    assert contract.fields["ts"].format == "%Y-%m-%d %H:%M:%S"


def test_a_given_unknown_dataset_is_refused_with_the_choices(tmp_path: Path) -> None:
    path = _write(tmp_path, "x.csv", "a,b\n1,2\n")
    with pytest.raises(KeyError, match=r"sensors\.readings"):
        infer_contract(path, dataset="nowhere.things")


def test_a_file_that_is_not_utf8_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("name,value\nGen\xe8ve,1\n".encode("latin-1"))
    with pytest.raises(ValueError, match="not UTF-8"):
        infer_contract(path)


# --- the real files --------------------------------------------------------------------


@pytest.fixture(scope="module")
def datasets() -> Path:
    folder = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
    if not folder.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{folder} is missing; CI must provide the real data sets")
        pytest.skip(f"real data sets not found at {folder} (see its README)")
    return folder


def test_nab_machine_temperature(datasets: Path) -> None:
    text, doc = _proposal(datasets / "nab_machine" / "machine_temperature_system_failure.csv")
    assert doc["dataset"] == "sensors.readings"
    assert doc.get("layout", "long") == "long"
    ts = doc["fields"]["ts"]
    assert (ts["column"], ts["format"], ts["timezone"]) == ("timestamp", "%Y-%m-%d %H:%M:%S", "UTC")
    assert doc["fields"]["value"] == "value"
    # One unnamed measurement: its metric and the device are left to a person.
    assert doc["fields"]["metric"] == {"constant": "TODO"}
    assert doc["fields"]["event_id"] == {"hash": ["device_id", "metric", "ts"]}
    _assert_times_parse(
        _filled(text), datasets / "nab_machine" / "machine_temperature_system_failure.csv", "ts"
    )


def _assert_times_parse(contract: Contract, path: Path, field: str) -> None:
    """Every non-empty time of the real file reads with the proposed format and zone."""
    times = _normalized_wire(contract, path)[field].dropna()
    assert len(times) and times.str.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+Z").all()


def test_office_occupancy(datasets: Path) -> None:
    text, doc = _proposal(datasets / "occupancy" / "datatest.txt")
    assert doc["dataset"] == "sensors.readings"
    assert doc["layout"] == "wide"
    assert doc["file"]["header_prepend"] == ["row_id"]
    assert list(doc["melt"]) == [
        "Temperature",
        "Humidity",
        "Light",
        "CO2",
        "HumidityRatio",
        "Occupancy",
    ]
    assert doc["melt"]["CO2"] == {"metric": "co2_ppm"}
    ts = doc["fields"]["ts"]
    assert (ts["column"], ts["format"]) == ("date", "%Y-%m-%d %H:%M:%S")
    contract = _filled(text)
    assert contract.layout == "wide"
    _assert_times_parse(contract, datasets / "occupancy" / "datatest.txt", "ts")


def test_daily_stock_bars(datasets: Path) -> None:
    text, doc = _proposal(datasets / "stocks_daily" / "dash-stock-ticker-demo.csv")
    assert doc["dataset"] == "market.price_bars"
    assert doc.get("layout", "long") == "long"
    bar = doc["fields"]["bar_start"]
    assert (bar["column"], bar["format"], bar["date_only"]) == ("Date", "%Y-%m-%d", True)
    assert doc["fields"]["instrument"] == "Stock"
    assert [doc["fields"][f] for f in ("open", "high", "low", "close", "volume")] == [
        "Open",
        "High",
        "Low",
        "Close",
        "Volume",
    ]
    assert doc["fields"]["event_id"] == {"hash": ["instrument", "bar_start"]}
    assert "file" not in doc  # no header quirk: the unnamed first column is named ""
    path = datasets / "stocks_daily" / "dash-stock-ticker-demo.csv"
    _assert_times_parse(_filled(text), path, "bar_start")


def test_scms_shipments(datasets: Path) -> None:
    text, doc = _proposal(datasets / "scms_shipments" / "SCMS_Delivery_History_Dataset.csv")
    assert doc["dataset"] == "commerce.shipments"
    assert "byte-order mark" in doc["description"] and "CR line endings" in doc["description"]
    fields = doc["fields"]
    assert fields["shipment_id"] == "ID"
    assert fields["order_id"] == "PO / SO #"
    assert fields["destination_country"] == {"column": "Country", "resolve": "country"}
    ordered = fields["ordered_at"]
    assert (ordered["column"], ordered["format"]) == ("PO Sent to Vendor Date", "%m/%d/%y")
    assert ordered["date_only"] is True
    assert set(ordered["sentinels"]["values"]) == {"N/A - From RDC", "Date Not Captured"}
    assert ordered["sentinels"]["action"] == "null"
    for name, column in (
        ("promised_at", "Scheduled Delivery Date"),
        ("delivered_at", "Delivered to Client Date"),
    ):
        assert (fields[name]["column"], fields[name]["format"]) == (column, "%d-%b-%y")
    contract = _filled(text)
    assert contract.fields["ordered_at"].sentinels.action == "null"
    path = datasets / "scms_shipments" / "SCMS_Delivery_History_Dataset.csv"
    for name in ("ordered_at", "promised_at", "delivered_at"):
        _assert_times_parse(contract, path, name)
