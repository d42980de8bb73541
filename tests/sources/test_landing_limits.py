"""Landing files built to hurt: bombs, endless lines, deep nesting, garbage, failing reads.

Each must cost one file (or one row), never the hour, and never more memory than
the limits allow.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fieldhouse.sources import landing
from fieldhouse.sources.landing import (
    LandingFormatError,
    ReadLimits,
    iter_landing_file,
    parse_landing_file,
)

HEADER = "event_id,device_id,ts,metric,value"
ROW = "e1,env-0001,2026-11-22T13:05:00Z,temperature_c,21.5"
SMALL = ReadLimits(
    expanded_bytes=1 << 20, expansion_ratio=10, ratio_floor=256 << 10, record_bytes=4096
)


def _reason(name: str, body: bytes, limits: ReadLimits = SMALL) -> LandingFormatError:
    with pytest.raises(LandingFormatError) as caught:
        parse_landing_file(name, body, limits=limits)
    return caught.value


def _newlines_gzip(expanded: int) -> bytes:
    """A gzip of blank lines: harmless text, expanding about a thousand times."""
    return gzip.compress(f"{HEADER}\n".encode() + b"\n" * expanded, compresslevel=9)


def _parquet(table: pa.Table, **options) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, **options)
    return sink.getvalue()


# --- decompression ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["bomb.csv.gz", "bomb.jsonl.gz", "bomb.parquet.gz"])
def test_a_gzip_bomb_is_refused_in_every_format(name):
    error = _reason(name, _newlines_gzip(8 << 20))
    assert error.reason == "decompression_bomb"
    assert "compressed bytes" in error.detail


def test_the_absolute_limit_holds_whatever_the_ratio():
    limits = dataclasses.replace(SMALL, expansion_ratio=1e9)
    error = _reason("bomb.csv.gz", _newlines_gzip(8 << 20), limits)
    assert error.reason == "decompression_bomb"
    assert error.detail.startswith(f"expands to more than {1 << 20} bytes")


def test_the_ratio_limit_holds_below_the_absolute_one():
    limits = dataclasses.replace(SMALL, expanded_bytes=1 << 30)
    error = _reason("bomb.jsonl.gz", _newlines_gzip(8 << 20), limits)
    assert error.reason == "decompression_bomb"
    assert error.detail.endswith("more than 10 times")


@pytest.mark.parametrize(("floor", "flagged"), [(4 << 20, False), (1 << 20, True)])
def test_the_ratio_limit_waits_for_its_floor(floor, flagged):
    body = _newlines_gzip(2 << 20)  # expands about a thousand times, to 2 MiB
    limits = dataclasses.replace(SMALL, expanded_bytes=1 << 30, ratio_floor=floor)
    if flagged:
        assert _reason("blank.csv.gz", body, limits).reason == "decompression_bomb"
    else:
        assert parse_landing_file("blank.csv.gz", body, limits=limits).empty


@pytest.mark.parametrize("suffix", ["csv", "jsonl"])
def test_a_small_file_that_compresses_very_well_is_read(suffix):
    if suffix == "csv":
        text = HEADER + "\n" + f"{ROW}\n" * 20_000
    else:
        text = json.dumps(dict(zip(HEADER.split(","), ROW.split(","), strict=True))) + "\n"
        text *= 20_000
    body = gzip.compress(text.encode(), compresslevel=9)
    assert len(text) > 200 * len(body)  # over the default ratio, under its floor
    frame = parse_landing_file(f"repeated.{suffix}.gz", body)
    assert len(frame) == 20_000
    assert frame["parse_error"].isna().all()


def test_a_parquet_bomb_is_refused_from_its_metadata():
    # Plain-encoded, then compressed: 3.5 MiB of cells in a file of a few kilobytes.
    table = pa.table({"event_id": np.full(1 << 18, "e1"), "value": np.zeros(1 << 18)})
    body = _parquet(table, use_dictionary=False, compression="zstd")
    assert len(body) < 1 << 16
    error = _reason("bomb.parquet", body)
    assert error.reason == "decompression_bomb"
    assert "uncompressed" in error.detail
    assert len(parse_landing_file("bomb.parquet", body)) == 1 << 18  # under the defaults


# --- records ------------------------------------------------------------------------------

LONG = "x" * 5000  # longer than SMALL.record_bytes
LONG_QUOTED = "y\n" * 3000  # as long, in lines of its own


@pytest.mark.parametrize(
    ("name", "text", "where"),
    [
        ("long.jsonl", f'{{"event_id": "e1"}}\n{{"event_id": "{LONG}"}}\n', "line 2"),
        ("long.csv", f"{HEADER}\n{ROW}\n{LONG},1\n{ROW}\n", "line 3"),  # fast path first
        ("long.csv", f"{HEADER}\n{ROW},extra\n{ROW}\n{LONG},1\n", "line 4"),  # careful path
        ("long.csv", f'{HEADER}\n{ROW}\ne2,"{LONG_QUOTED}",1\n', "line 3"),  # quoted breaks
        ("long.csv", f"{LONG},{HEADER}\n{ROW}\n", "header"),
        ("long.csv.gz", f"{HEADER}\n{ROW}\n{LONG},1\n", "line 3"),
    ],
)
def test_a_record_over_the_limit_makes_the_file_unusable(name, text, where):
    body = text.encode()
    body = gzip.compress(body) if name.endswith(".gz") else body
    error = _reason(name, body)
    assert error.reason == "record_too_long"
    assert where in error.detail


@pytest.mark.parametrize("name", ["near.csv", "near.jsonl"])
def test_a_record_just_under_the_limit_is_read(name):
    near = "x" * 4000
    if name.endswith(".csv"):
        text = f"{HEADER}\n{ROW}\n{near},1\n{ROW},extra\n"
    else:
        text = f'{{"event_id": "e1"}}\n{{"event_id": "{near}"}}\n'
    frame = parse_landing_file(name, text.encode(), limits=SMALL)
    assert near in list(frame["event_id"])


def test_an_open_quote_that_swallows_the_rest_past_the_limit_is_refused():
    text = f'{HEADER}\n{ROW}\ne2,"env-0001\n' + f"{ROW}\n" * 200
    error = _reason("open.csv", text.encode())
    assert (error.reason, error.detail) == (
        "record_too_long",
        "the record starting on line 3 is longer than 4096 characters",
    )


# --- JSON -----------------------------------------------------------------------------------


def test_json_nested_too_deep_is_one_row_error_and_the_rest_is_read():
    deep_value = '{"event_id": "d1", "value": ' + "[" * 10_000 + "]" * 10_000 + "}"
    deep_open = "[" * 10_000
    lines = ['{"event_id": "e1"}', deep_value, deep_open, '{"event_id": "e2"}']
    frame = parse_landing_file("deep.jsonl", "\n".join(lines).encode())
    assert frame["event_id"].tolist() == ["e1", None, None, "e2"]
    assert frame["parse_error"].tolist() == [None, "json_too_deep", "json_too_deep", None]
    assert frame["raw_record"].tolist() == [None, deep_value, deep_open, None]


def test_json_nan_and_infinity_are_kept_as_text_for_validation_to_judge():
    lines = [
        '{"event_id": "e1", "value": NaN}',
        '{"event_id": "e2", "value": -Infinity}',
        '{"event_id": "e3", "value": [NaN, Infinity]}',
    ]
    frame = parse_landing_file("nan.jsonl", "\n".join(lines).encode())
    assert frame["value"].tolist() == ["NaN", "-Infinity", "[NaN,Infinity]"]
    assert frame["parse_error"].isna().all()


def test_a_json_line_with_an_integer_python_cannot_read_is_one_row_error():
    lines = ['{"event_id": "e1", "value": [' + "1" * 5000 + "]}", '{"event_id": "e2"}']
    frame = parse_landing_file("big.jsonl", "\n".join(lines).encode())
    assert frame["parse_error"].tolist() == ["malformed_json", None]


# --- odd files ------------------------------------------------------------------------------

GARBAGE = np.random.default_rng(3).integers(0, 256, 64 << 10, dtype=np.uint8).tobytes()


@pytest.mark.parametrize(
    ("name", "body", "reason"),
    [
        ("garbage.csv", GARBAGE, "not_utf8"),
        ("garbage.jsonl", GARBAGE, "not_utf8"),
        ("garbage.parquet", GARBAGE, "unreadable_parquet"),
        ("garbage.parquet", b"PAR1" + GARBAGE + b"PAR1", "unreadable_parquet"),
        ("garbage.csv.gz", GARBAGE, "unreadable_gzip"),
        ("garbage.jsonl.gz", b"\x1f\x8b\x08\x00" + GARBAGE, "unreadable_gzip"),
        (
            "truncated.csv.gz",
            gzip.compress(f"{HEADER}\n{ROW}\n".encode() * 100)[:-20],
            "unreadable_gzip",
        ),
        ("garbage.csv.gz", gzip.compress(GARBAGE), "not_utf8"),
    ],
)
def test_binary_garbage_is_refused_with_a_reason(name, body, reason):
    assert _reason(name, body).reason == reason


@pytest.mark.parametrize("careful", [False, True])
def test_twenty_thousand_columns(careful):
    names = [f"c{i}" for i in range(20_000)] + ["event_id", "value"]
    row = ["1"] * 20_000 + ["e1", "21.5"]
    lines = [",".join(names), ",".join(row)]
    if careful:
        lines.append(",".join([*row, "surplus"]))
    frame = parse_landing_file("wide.csv", "\n".join(lines).encode())
    assert frame["event_id"].tolist()[0] == "e1"
    assert frame["value"].tolist()[0] == "21.5"
    assert frame["parse_error"].tolist() == [None, "malformed_csv"][: len(lines) - 1]


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("dup.csv", b"event_id,value,Value \ne1,1,2\ne2,1,2,surplus\n"),  # careful path
        (
            "dup.parquet",
            _parquet(pa.Table.from_arrays([pa.array(["e1"]), pa.array(["1"])], ["ts", "TS"])),
        ),
    ],
)
def test_duplicate_columns_refuse_the_file_in_every_reader(name, body):
    assert _reason(name, body).reason == "duplicate_columns"


# --- what a parser raises, and what it must not swallow ------------------------------------


def test_any_error_a_parser_raises_becomes_unreadable_file(monkeypatch):
    def broken(line, fields, aliases):
        raise KeyError("surprise")

    monkeypatch.setattr(landing, "_json_row", broken)
    error = _reason("odd.jsonl", b'{"event_id": "e1"}\n')
    assert (error.reason, error.detail) == ("unreadable_file", "KeyError: 'surprise'")
    assert isinstance(error.__cause__, KeyError)


class _FailingStream(io.RawIOBase):
    """A stream whose reads fail after ``good`` bytes, as a dropped connection would."""

    def __init__(self, body: bytes, good: int) -> None:
        self._body = io.BytesIO(body)
        self._good = good

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._body.seek(offset, whence)

    def tell(self) -> int:
        return self._body.tell()

    def readinto(self, buffer) -> int:
        if self._body.tell() + len(buffer) > self._good:
            raise ConnectionResetError("storage went away")
        return self._body.readinto(buffer)


@pytest.mark.parametrize("suffix", ["csv", "csv.gz", "jsonl", "jsonl.gz", "parquet"])
def test_a_failing_read_is_the_storages_fault_not_the_files(suffix):
    rows = f"{HEADER}\n" + f"{ROW}\n" * 20_000
    if suffix.startswith("csv"):
        body = rows.encode()
    elif suffix.startswith("jsonl"):
        body = "".join(
            json.dumps(dict(zip(HEADER.split(","), ROW.split(","), strict=True))) + "\n"
            for _ in range(20_000)
        ).encode()
    else:
        body = _parquet(pa.table({"event_id": [f"e{i}" for i in range(20_000)]}))
    body = gzip.compress(body, compresslevel=1) if suffix.endswith(".gz") else body
    stream = _FailingStream(body, good=len(body) // 2)
    with pytest.raises(ConnectionResetError):
        for _ in iter_landing_file(f"drop.{suffix}", stream, batch_rows=1000):
            pass


# --- memory ---------------------------------------------------------------------------------

_PEAK = """
import sys
import pyarrow
from fieldhouse.sources.landing import LandingFormatError, iter_landing_file

pyarrow.set_cpu_count(4)  # Arrow reads a block ahead per thread: the same on any machine

def peak():
    # VmHWM (KiB) is this program's own high-water mark; ru_maxrss would also count
    # the memory of the test process it was forked from.
    with open("/proc/self/status") as status:
        return next(int(l.split()[1]) for l in status if l.startswith("VmHWM:")) * 1024

imported = peak()
reason = None
try:
    with open(sys.argv[1], "rb") as binary:
        for _ in iter_landing_file(sys.argv[2], binary):
            pass
except LandingFormatError as error:
    reason = error.reason
print(reason, imported, peak())
"""


def _write_long_line(path: Path, start: bytes, end: bytes, size: int) -> None:
    with path.open("wb") as out:
        out.write(start)
        chunk = b"x" * (1 << 20)
        for _ in range(size >> 20):
            out.write(chunk)
        out.write(end)


def _write_bomb(path: Path, expanded: int) -> None:
    # Gzip members may follow one another: one compressed 64 MiB of rows, repeated.
    member = gzip.compress(f"{ROW}\n".encode() * ((64 << 20) // (len(ROW) + 1)))
    with path.open("wb") as out:
        out.write(gzip.compress(f"{HEADER}\n".encode()))
        for _ in range(expanded >> 26):
            out.write(member)


@pytest.mark.parametrize("name", ["long.csv", "long.jsonl", "bomb.csv.gz"])
def test_a_huge_record_or_bomb_is_refused_in_bounded_memory(tmp_path, name):
    """A 200 MB line, or 2 GiB of gzip, read with the default limits by a process of its own."""
    path = tmp_path / name
    if name == "long.csv":
        _write_long_line(path, f"{HEADER}\ne1,".encode(), b",1\n", 200 << 20)
    elif name == "long.jsonl":
        _write_long_line(path, b'{"event_id": "', b'"}\n', 200 << 20)
    else:
        _write_bomb(path, 2 << 30)
    plugins = Path(landing.__file__).resolve().parents[2]
    try:
        result = subprocess.run(
            [sys.executable, "-c", _PEAK, str(path), name],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONPATH": str(plugins)},
        )
    finally:
        path.unlink()
    reason, imported, peak = result.stdout.split()
    assert reason == ("decompression_bomb" if name.endswith(".gz") else "record_too_long")
    assert int(peak) < 1 << 30, f"peak memory {int(peak) >> 20} MiB"
    # A few record limits (8 MiB) and Arrow blocks, never the line itself: holding the
    # 200 MB line, or what the bomb expands to, takes well over this.
    grown = int(peak) - int(imported)
    assert grown < 256 << 20, f"reading took {grown >> 20} MiB over the imports"
