"""Landing files: odd but real-world files parse into exact wire rows."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import threading
import time
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fieldhouse.quality import WIRE_COLUMNS, validate_readings
from fieldhouse.sources.fleet import build_fleet, devices_frame, simulate_interval
from fieldhouse.sources.landing import (
    RESTART,
    FileLayout,
    LandingFormatError,
    iter_landing_file,
    parse_landing_file,
)
from fieldhouse.storage.keys import Interval

HEADER = "event_id,device_id,ts,metric,value"
TS = "2026-11-22T13:05:00Z"


def _rows(frame) -> list[tuple]:
    """Rows as (event_id, device_id, ts, metric, value, parse_error, raw_record)."""
    fields = [c for c in WIRE_COLUMNS if c != "origin"]
    return [tuple(row) for row in frame[fields].itertuples(index=False)]


def _row(event_id=None, device_id=None, ts=None, metric=None, value=None, error=None, raw=None):
    return (event_id, device_id, ts, metric, value, error, raw)


def _parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


# --- CSV ------------------------------------------------------------------------------


def test_plain_csv():
    body = f"{HEADER}\ne1,env-0001,{TS},temperature_c,21.50\n".encode()
    frame = parse_landing_file("drop.csv", body)
    assert tuple(frame.columns) == WIRE_COLUMNS
    assert all(frame[c].dtype == object for c in WIRE_COLUMNS)
    assert list(frame["origin"]) == ["landing:drop.csv"]
    assert _rows(frame) == [_row("e1", "env-0001", TS, "temperature_c", "21.50")]


def test_csv_with_bom_crlf_and_messy_header():
    body = (
        f"\ufeff Event_ID ,Device_ID ,TS,METRIC,Value\r\ne1,env-0001,{TS},temperature_c,21.5\r\n"
    ).encode()
    assert _rows(parse_landing_file("a.csv", body)) == [
        _row("e1", "env-0001", TS, "temperature_c", "21.5")
    ]


def test_csv_quoted_fields_blank_lines_and_extra_columns():
    body = (
        f"{HEADER},note\n"
        "\n"
        f'"e,1",env-0001,{TS},temperature_c,21.5,"said ""hi"", twice"\n'
        "   \n"
        f'e2,env-0001,{TS},temperature_c,"22\n.5","two\nlines"\n'
        "\n"
    ).encode()
    assert _rows(parse_landing_file("a.csv", body)) == [
        _row("e,1", "env-0001", TS, "temperature_c", "21.5"),
        _row("e2", "env-0001", TS, "temperature_c", "22\n.5"),
    ]


def test_csv_empty_cells_and_missing_columns_are_none():
    body = f"event_id,ts,value\ne1,{TS},\n,,3\n".encode()
    assert _rows(parse_landing_file("a.csv", body)) == [
        _row("e1", None, TS, None, None),
        _row(None, None, None, None, "3"),
    ]


def test_csv_keeps_text_that_looks_like_other_types():
    body = f"{HEADER}\n007,NA,{TS},null,1e3\n".encode()
    assert _rows(parse_landing_file("a.csv", body)) == [_row("007", "NA", TS, "null", "1e3")]


def test_csv_short_rows_miss_fields_and_long_rows_are_malformed():
    body = (
        f"{HEADER}\n"
        f"e1,env-0001,{TS},temperature_c,21.5,surplus\r\n"
        "e2,env-0001\r\n"
        f"e3,env-0001,{TS},temperature_c,22.5\r\n"
    ).encode()
    assert _rows(parse_landing_file("a.csv", body)) == [
        _row(error="malformed_csv", raw=f"e1,env-0001,{TS},temperature_c,21.5,surplus"),
        _row("e2", "env-0001"),
        _row("e3", "env-0001", TS, "temperature_c", "22.5"),
    ]


def test_csv_trailing_comma_on_every_row_is_not_shifted_into_an_index():
    body = f"{HEADER}\ne1,env-0001,{TS},temperature_c,21.5,\n".encode()
    assert _rows(parse_landing_file("a.csv", body)) == [
        _row(error="malformed_csv", raw=f"e1,env-0001,{TS},temperature_c,21.5,")
    ]


def test_csv_quote_left_open_does_not_vanish():
    body = f'{HEADER}\ne1,env-0001,{TS},temperature_c,21.5\ne2,"env-0001,{TS}\n'.encode()
    assert _rows(parse_landing_file("a.csv", body)) == [
        _row("e1", "env-0001", TS, "temperature_c", "21.5"),
        _row(error="malformed_csv", raw=f'e2,"env-0001,{TS}'),
    ]


@pytest.mark.parametrize("body", [b"", b"\n\n", "\ufeff".encode()])
def test_empty_csv_has_no_rows(body):
    frame = parse_landing_file("a.csv", body)
    assert tuple(frame.columns) == WIRE_COLUMNS
    assert frame.empty


def test_header_only_csv_has_no_rows():
    assert parse_landing_file("a.csv", f"{HEADER}\r\n".encode()).empty


def test_gzipped_csv():
    body = gzip.compress(f"{HEADER}\ne1,env-0001,{TS},temperature_c,21.5\n".encode())
    frame = parse_landing_file("batch.CSV.gz", body)
    assert _rows(frame) == [_row("e1", "env-0001", TS, "temperature_c", "21.5")]
    assert list(frame["origin"]) == ["landing:batch.CSV.gz"]


def test_the_careful_path_streams_in_batches():
    rows = [f"e{i},env-0001,2026-11-22T13:05:00Z,temperature_c,{i}" for i in range(3000)]
    rows.insert(2500, "bad,too,many,fields,in,this,row")  # past Arrow's first block
    text = "\n".join([HEADER, *rows]) + "\n"
    batches = list(iter_landing_file("b.csv", io.BytesIO(text.encode()), batch_rows=1000))
    restart = next(i for i, batch in enumerate(batches) if batch is RESTART)
    assert restart > 0  # the fast path yielded rows before it met the bad one
    frames = batches[restart + 1 :]
    assert [len(frame) for frame in frames] == [1000, 1000, 1000, 1]
    read = [value for frame in frames for value in frame["event_id"]]
    assert read == [None if row.startswith("bad") else row.split(",")[0] for row in rows]
    assert frames[2]["parse_error"][500] == "malformed_csv"
    assert frames[2]["raw_record"][500] == rows[2500]


def test_the_careful_path_names_the_columns_a_short_header_leaves_out():
    layout = FileLayout(header_prepend=("event_id",))
    text = "\ndevice_id,value\ne1,env-0001,1\ne2,env-0002,2,surplus\n"
    frame = parse_landing_file("short.csv", text.encode(), layout=layout)
    assert frame["event_id"].tolist() == ["e1", None]
    assert frame["device_id"].tolist() == ["env-0001", None]
    assert frame["parse_error"].tolist() == [None, "malformed_csv"]
    fast = parse_landing_file("short.csv", text.rsplit("e2", 1)[0].encode(), layout=layout)
    assert _rows(fast) == _rows(frame)[:1]


class _SlowReadAhead(io.RawIOBase):
    """A file that is slow to read from threads other than the main one (Arrow's)."""

    def __init__(self, body: bytes) -> None:
        self._body = io.BytesIO(body)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._body.seek(offset, whence)

    def tell(self) -> int:
        return self._body.tell()

    def readinto(self, buffer) -> int:
        if threading.current_thread() is not threading.main_thread():
            time.sleep(0.005)
        return self._body.readinto(buffer)


def test_the_careful_path_gets_every_byte_while_arrow_still_reads_ahead():
    # Arrow's threads go on reading blocks after the bad record: none of those reads
    # may take bytes from the careful reader that starts the file again.
    rows = [f"e{i},env-0001,{TS},temperature_c,{i}" for i in range(100_000)]
    rows.insert(50_000, "bad,too,many,fields,in,this,row")
    body = ("\n".join([HEADER, *rows]) + "\n").encode()
    frames = []
    for batch in iter_landing_file("late.csv", _SlowReadAhead(body), batch_rows=1000):
        if batch is RESTART:
            frames.clear()
        else:
            frames.append(batch)
    read = [value for frame in frames for value in frame["event_id"]]
    assert read == [None if row.startswith("bad") else row.split(",")[0] for row in rows]


# --- JSON lines -----------------------------------------------------------------------


def test_json_lines_with_odd_types_and_bad_lines():
    lines = [
        json.dumps(
            {
                "event_id": "e1",
                "device_id": "env-0001",
                "ts": TS,
                "metric": "temperature_c",
                "value": "21.5",
            }
        ),
        f'{{"Event_ID ": 42, "DEVICE_ID": "env-0001", "ts": "{TS}", "metric": "power_w",'
        ' "value": 21.50, "extra": [1]}',
        "",
        '{"event_id": "e3", "value": 1e3, "metric": null, "device_id": ""}',
        '{"event_id": "e4", "value": true, "device_id": {"nested": 1.50}, "ts": NaN}',
        "{not json",
        "[1, 2]",
        '{"event_id": "e5", "value": 12}',
    ]
    body = ("\ufeff" + "\r\n".join(lines) + "\r\n").encode()
    frame = parse_landing_file("g.jsonl", body)
    assert set(frame["origin"]) == {"landing:g.jsonl"}
    assert _rows(frame) == [
        _row("e1", "env-0001", TS, "temperature_c", "21.5"),
        _row("42", "env-0001", TS, "power_w", "21.50"),
        _row("e3", None, None, None, "1e3"),
        _row("e4", '{"nested":1.5}', "NaN", None, "true"),
        _row(error="malformed_json", raw="{not json"),
        _row(error="json_not_object", raw="[1, 2]"),
        _row("e5", None, None, None, "12"),
    ]


def test_ndjson_extension_and_unicode_line_separator_inside_a_string():
    body = ('{"event_id": "a\u2028b", "value": "1"}\n').encode()
    assert _rows(parse_landing_file("x.ndjson", body)) == [_row("a\u2028b", value="1")]


def test_empty_json_lines_file():
    frame = parse_landing_file("x.jsonl", b"\n \n")
    assert frame.empty and tuple(frame.columns) == WIRE_COLUMNS


# --- Parquet --------------------------------------------------------------------------


def test_parquet_with_typed_columns():
    moment = dt.datetime(2026, 11, 22, 14, 5, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    table = pa.table(
        {
            "Event_ID": ["e1", "e2", "e3"],
            "device_id": pa.array(["env-0001", "env-0001", None]).dictionary_encode(),
            "ts": pa.array([moment, None, moment], pa.timestamp("ms", tz="Europe/Berlin")),
            "metric": ["temperature_c", "temperature_c", ""],
            "value": pa.array([21.5, None, float("nan")]),
            "unused": [1, 2, 3],
        }
    )
    frame = parse_landing_file("p.parquet", _parquet(table))
    assert _rows(frame) == [
        _row("e1", "env-0001", "2026-11-22T13:05:00.000Z", "temperature_c", "21.5"),
        _row("e2", "env-0001", None, "temperature_c", None),
        _row("e3", None, "2026-11-22T13:05:00.000Z", None, "nan"),
    ]


def test_parquet_numbers_booleans_and_naive_timestamps_become_text():
    table = pa.table(
        {
            "event_id": pa.array([7, 8], pa.int64()),
            "ts": pa.array([dt.datetime(2026, 11, 22, 13, 5), None], pa.timestamp("s")),
            "value": pa.array([Decimal("21.50"), Decimal("-3.00")], pa.decimal128(5, 2)),
            "metric": [True, False],
        }
    )
    assert _rows(parse_landing_file("p.parquet", _parquet(table))) == [
        _row("7", None, "2026-11-22T13:05:00.000", "true", "21.50"),  # Parquet stores ms
        _row("8", None, None, "false", "-3.00"),
    ]


def test_parquet_nested_values_become_json_text():
    table = pa.table({"event_id": ["e1"], "value": pa.array([[1, 2]])})
    assert _rows(parse_landing_file("p.parquet", _parquet(table))) == [_row("e1", value="[1,2]")]


# --- files that cannot be used --------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "body", "reason"),
    [
        ("readings.xlsx", b"PK\x03\x04", "unsupported_format"),
        ("readings", b"a,b", "unsupported_format"),
        ("readings.parquet", b"not parquet at all", "unreadable_parquet"),
        ("readings.parquet", b"", "unreadable_parquet"),
        ("readings.csv", "ts,value\n\u00e9,1\n".encode("latin-1"), "not_utf8"),
        ("readings.jsonl", b'{"value": "\xff"}', "not_utf8"),
        ("readings.csv.gz", b"plain text", "unreadable_gzip"),
        ("readings.csv.gz", b"\x1f\x8b\x08\x00 corrupt deflate stream", "unreadable_gzip"),
        ("readings.csv.gz", gzip.compress(b"ts,value\n1,2\n")[:-6], "unreadable_gzip"),
        ("readings.parquet", _parquet(pa.table({"colour": ["red"]})), "no_known_columns"),
        ("readings.csv", b"event_id;device_id;ts;metric;value\n1;2;3;4;5\n", "no_known_columns"),
        ("readings.csv", b"ts,TS \n1,2\n", "duplicate_columns"),
        ("readings.csv", b"ts,ts\n1,2\n", "duplicate_columns"),
    ],
)
def test_unusable_files_raise_with_a_reason(name, body, reason):
    with pytest.raises(LandingFormatError) as caught:
        parse_landing_file(name, body)
    assert caught.value.reason == reason
    assert isinstance(caught.value, ValueError)


# --- round trip -----------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["csv", "jsonl", "parquet"])
def test_a_simulated_batch_survives_a_file_round_trip(suffix):
    fleet = build_fleet(8, seed=5)
    interval = Interval.parse("2026-11-22T13:00:00+00:00")
    readings = simulate_interval(fleet, interval, 5).readings
    data = readings[["event_id", "device_id", "ts", "metric", "value"]]
    if suffix == "csv":
        body = data.to_csv(index=False).encode()
    elif suffix == "jsonl":
        body = data.to_json(orient="records", lines=True).encode()
    else:
        body = _parquet(pa.Table.from_pandas(data, preserve_index=False))
    frame = parse_landing_file(f"batch.{suffix}", body)
    expected = readings.assign(origin=f"landing:batch.{suffix}")
    # In a file an empty value is a missing one (a CSV cell cannot tell them apart).
    expected["value"] = expected["value"].replace("", None)
    assert _rows(frame) == _rows(expected)
    result = validate_readings(frame, devices_frame(fleet), interval, ingested_at=interval.end)
    assert result.reconciles
