"""Files dropped in the landing bucket, read into wire frames.

Any system that cannot talk to a gateway can drop files of sensor readings under
``landing/sensors/``. Each file becomes rows of the same shape the fleet's gateways
send, and then goes through the same validation: rows that fail it are kept in
quarantine with the reason, never silently dropped.

Formats (chosen by the file name's extension, case-insensitive):

- ``.csv``: comma-separated, UTF-8 (a byte-order mark is fine), a header row, LF or
  CRLF line endings, fields quoted with ``"`` when they hold commas, quotes or line
  breaks. Blank lines are skipped.
- ``.jsonl`` / ``.ndjson``: one JSON object per line, UTF-8.
- ``.parquet``: any column types; they are turned into text as described below.
- Any of these compressed with gzip: the same name with ``.gz`` appended.

Columns (header names are matched ignoring case and surrounding spaces; other
columns are ignored):

============  ===============================================================
``event_id``  unique id of the reading; a repeated id is kept once
``device_id`` a registered device, e.g. ``env-0007``
``ts``        event time, ISO-8601 with an offset: ``2026-11-22T13:05:00Z``,
              ``2026-11-22T14:05:00.250+01:00``. A time without offset is rejected.
``metric``    ``temperature_c``, ``humidity_pct`` (environmental sensors),
              ``vibration_mm_s``, ``power_w`` (machines), ``latitude``,
              ``longitude``, ``speed_kmh`` (GPS trackers)
``value``     a decimal number: ``21.5``, ``-3``, ``1.2e3``
============  ===============================================================

Example::

    event_id,device_id,ts,metric,value
    env-0007-temperature_c-1795352400,env-0007,2026-11-22T13:00:00Z,temperature_c,21.42
    mach-0003-power_w-1795352460,mach-0003,2026-11-22T14:01:00+01:00,power_w,12500

Every value is read as text and checked later, so a bad value costs one row, not
the file. An empty cell (or JSON ``null`` or ``""``) counts as missing; a column the
file lacks is missing on every row. JSON numbers keep the exact text they were
written with; ``true``/``false`` and nested objects become their JSON text. Parquet
timestamps are written out in UTC; a timestamp column without a time zone is
rejected like text without an offset.

A record that cannot be parsed still becomes a row, with ``parse_error`` set and
its original text in ``raw_record``: ``malformed_json`` (a JSON line that does not
parse), ``json_not_object`` (valid JSON, but not an object), ``malformed_csv`` (more
fields than the header, or a quote left open; a record with fewer fields is
missing the rest instead).

Only a file that cannot be read at all raises :class:`LandingFormatError`, whose
``reason`` is one of ``unsupported_format``, ``not_utf8``, ``unreadable_gzip``,
``unreadable_parquet``, ``duplicate_columns`` (two columns with the same name once
case and spaces are ignored) and ``no_known_columns`` (none of the five columns
above: usually a wrong delimiter or a missing header).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from fieldhouse.quality import SENSOR_SCHEMA, WireSchema

ORIGIN_PREFIX = "landing:"
FORMATS = (".csv", ".txt", ".tsv", ".jsonl", ".ndjson", ".parquet")


class LandingFormatError(ValueError):
    """The whole file is unusable; ``reason`` is short and machine-readable."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class FileLayout:
    """What a feed's contract says about its files beyond the columns it reads."""

    aliases: Mapping[str, str] = field(default_factory=dict)  # header alias -> column
    header_prepend: tuple[str, ...] = ()  # leading columns the header does not name
    delimiter: str = ","


BATCH_ROWS = 100_000
"""Rows per batch when a file is read in pieces; bounds the memory a big file takes."""

RESTART = object()
"""Yielded by :func:`iter_landing_file` when batches already yielded must be discarded:
the fast CSV parser met a record it cannot split, and the careful parser re-reads
the whole file (its next yield)."""


def parse_landing_file(
    name: str, body: bytes, schema: WireSchema = SENSOR_SCHEMA, layout: FileLayout | None = None
) -> pd.DataFrame:
    """Read one landing file into a wire frame with ``origin = "landing:<name>"``.

    ``schema`` names the fields to read (the columns above are the sensor schema's);
    every other source's files follow the same format rules with its own fields.
    ``layout`` maps header aliases, names leading columns a short header leaves out
    and sets the delimiter of text files.
    """
    frames: list[pd.DataFrame] = []
    for batch in iter_landing_file(name, io.BytesIO(body), schema, layout):
        if batch is RESTART:
            frames.clear()
        else:
            frames.append(batch)
    if len(frames) == 1:
        return frames[0]
    return pd.concat(frames, ignore_index=True) if frames else _empty(name, schema)


def iter_landing_file(
    name: str,
    binary: IO[bytes],
    schema: WireSchema = SENSOR_SCHEMA,
    layout: FileLayout | None = None,
    *,
    batch_rows: int = BATCH_ROWS,
) -> Iterator[pd.DataFrame | object]:
    """Read a landing file from a seekable binary stream in batches of wire rows.

    Memory follows ``batch_rows``, not the file's size (the careful CSV path for a
    file with unsplittable records is the exception: it reads the whole file, after
    yielding :data:`RESTART`). Errors that make the whole file unusable raise
    :class:`LandingFormatError`, also in the middle of a file.
    """
    layout = layout or FileLayout()
    lower = name.lower()
    compressed = lower.endswith(".gz")
    lower = lower.removesuffix(".gz")
    if lower.endswith((".csv", ".txt", ".tsv")):
        batches = _iter_csv(*_csv_streams(binary, compressed), schema, layout, batch_rows)
    else:
        binary = gzip.GzipFile(fileobj=binary, mode="rb") if compressed else binary
        if lower.endswith((".jsonl", ".ndjson")):
            batches = _iter_json_lines(binary, schema, layout, batch_rows)
        elif lower.endswith(".parquet"):
            batches = _iter_parquet(binary, schema, layout, batch_rows)
        else:
            raise LandingFormatError("unsupported_format", f"{name!r} is not one of {FORMATS}")
    try:
        for frame in batches:
            if frame is RESTART:
                yield frame
                continue
            frame["origin"] = ORIGIN_PREFIX + name
            yield frame[list(schema.wire_columns)]
    except (OSError, EOFError, zlib.error) as error:
        if compressed:
            # zlib.error: a valid gzip header over a corrupt deflate stream.
            raise LandingFormatError("unreadable_gzip", str(error)) from error
        raise


def _csv_streams(binary: IO[bytes], compressed: bool) -> tuple[IO[bytes], Callable[[], IO[bytes]]]:
    """The stream Arrow reads (gzip decompressed natively), and how to start over."""

    def reopen() -> IO[bytes]:
        binary.seek(0)
        return gzip.GzipFile(fileobj=binary, mode="rb") if compressed else binary

    if compressed:
        return pa.CompressedInputStream(pa.PythonFile(binary, mode="r"), "gzip"), reopen
    return binary, reopen


def _empty(name: str, schema: WireSchema) -> pd.DataFrame:
    frame = schema.empty_wire_frame()
    frame["origin"] = pd.Series([], dtype=object)
    return frame


# --- CSV ---------------------------------------------------------------------------


def _iter_csv(
    binary: IO[bytes],
    reopen: Callable[[], IO[bytes]],
    schema: WireSchema,
    layout: FileLayout,
    batch_rows: int,
) -> Iterator[pd.DataFrame | object]:
    """Arrow's streaming reader first; the careful reader when it refuses a record.

    ``reopen`` gives the file again from its start, for the careful reader.
    """
    head = _read_header(binary, layout)
    if head is None:
        return
    header, stream = head
    yielded = False
    try:
        reader = pacsv.open_csv(
            stream,
            read_options=pacsv.ReadOptions(
                autogenerate_column_names=True, block_size=_block_size(batch_rows)
            ),
            parse_options=pacsv.ParseOptions(delimiter=layout.delimiter, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                # Every cell as text, and only an empty cell is missing: "NA" is text.
                column_types={f"f{i}": pa.string() for i in range(len(header))},
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
        skip = 1  # the header went through the reader as the first row: it sets the width
        for batch in reader:
            for start in range(skip, max(batch.num_rows, skip), batch_rows):
                piece = batch.slice(start, batch_rows)
                columns = [piece.column(i) for i in range(piece.num_columns)]
                yield _csv_columns_frame(header, columns, schema, layout)
                yielded = True
            skip = 0
    except pa.ArrowInvalid:
        # A record with too few or too many fields, an open quote, bytes that are
        # not UTF-8: the careful reader reads the whole file and says which.
        if yielded:
            yield RESTART
        try:
            whole = reopen().read().decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise LandingFormatError("not_utf8", str(error)) from error
        if layout.header_prepend:
            whole = _prepend_to_header(whole, layout)
        yield _read_csv_by_record(whole, schema, layout)


def _block_size(batch_rows: int) -> int:
    # About 64 bytes a row: a batch of rows per block, within Arrow's limits.
    return max(1 << 16, min(batch_rows * 64, 1 << 28))


def _read_header(binary: IO[bytes], layout: FileLayout) -> tuple[list[str], IO[bytes]] | None:
    """The header's names, and a stream that starts with the header line (no BOM).

    Leading blank lines are skipped. A header the contract declares short gets its
    leading names here, so the reader takes the header as a row of the full width.
    """
    start = binary.read(1 << 16)
    if start.startswith(b"\xef\xbb\xbf"):
        start = start[3:]
    start = start.lstrip(b" \t\r\n")
    while not start:
        more = binary.read(1 << 16)
        if not more:
            return None
        start = more.lstrip(b" \t\r\n")
    while b"\n" not in start and b"\r" not in start:
        more = binary.read(1 << 16)
        if not more:
            break
        start += more
    ends = [i for i in (start.find(b"\n"), start.find(b"\r")) if i >= 0]
    line = start[: min(ends, default=len(start))]
    try:
        names = next(csv.reader([line.decode("utf-8")], delimiter=layout.delimiter), [])
    except UnicodeDecodeError as error:
        raise LandingFormatError("not_utf8", str(error)) from error
    if layout.header_prepend:
        prefix = layout.delimiter.join(f'"{name}"' for name in layout.header_prepend)
        start = f"{prefix}{layout.delimiter}".encode() + start
        names = [*layout.header_prepend, *names]
    return names, _PrefixedBytes(start, binary)


class _PrefixedBytes(io.RawIOBase):
    """A binary stream that reads ``prefix`` first, then the rest of ``stream``."""

    def __init__(self, prefix: bytes, stream: IO[bytes]) -> None:
        self._prefix = memoryview(prefix)
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if len(self._prefix):
            size = min(len(buffer), len(self._prefix))
            buffer[:size] = self._prefix[:size]
            self._prefix = self._prefix[size:]
            return size
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _csv_columns_frame(
    header: list[str], columns: list[pa.ChunkedArray], schema: WireSchema, layout: FileLayout
) -> pd.DataFrame:
    """Wire frame from the header and Arrow text columns (missing cells are null)."""
    fields = schema.field_names
    names = _normalise_names(header, fields, layout.aliases)
    _require_known_columns(names, fields)
    rows = len(columns[0]) if columns else 0
    frame = pd.DataFrame(
        {
            column: _objects(columns[names.index(column)])
            if column in names and names.index(column) < len(columns)
            else np.full(rows, None, dtype=object)
            for column in fields
        }
    )
    return _with_platform_columns(frame)


def _objects(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """An Arrow text column as an object array, ``None`` where null.

    Text that repeats (device ids, metric names, timestamps of a sample tick)
    becomes one Python string per distinct value, shared by its rows: most of
    what reading a big file costs is making string objects.
    """
    sample = column.slice(0, 1000)
    if len(sample) and pc.count_distinct(sample).as_py() * 2 > len(sample):
        return column.to_numpy(zero_copy_only=False).astype(object)
    encoded = pc.dictionary_encode(column)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    values = np.append(encoded.dictionary.to_numpy(zero_copy_only=False).astype(object), None)
    codes = pc.fill_null(encoded.indices, len(encoded.dictionary))
    return values[codes.to_numpy(zero_copy_only=False)]


def _prepend_to_header(text: str, layout: FileLayout) -> str:
    first_break = min((i for i in (text.find("\n"), text.find("\r")) if i >= 0), default=-1)
    header = text if first_break < 0 else text[:first_break]
    names = layout.delimiter.join(f'"{name}"' for name in layout.header_prepend)
    joined = f"{names}{layout.delimiter}{header}"
    return joined if first_break < 0 else joined + text[first_break:]


def _read_csv_by_record(text: str, schema: WireSchema, layout: FileLayout) -> pd.DataFrame:
    """The careful path for files the fast parser refuses: bad records become rows too."""
    lines = list(io.StringIO(text, newline=""))
    reader = csv.reader(lines, delimiter=layout.delimiter)
    header: list[str] | None = None
    rows: list[list[str]] = []
    unparsed: list[tuple[int, str]] = []  # (position among rows, raw text)
    consumed = 0
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error:
            record = None
        raw = "".join(lines[consumed : reader.line_num]).rstrip("\r\n")
        consumed = reader.line_num
        if record is not None and (not record or (len(record) == 1 and not record[0].strip())):
            continue  # a blank line
        if header is None and record is not None:
            header = record
        elif record is None or header is None or len(record) > len(header) or raw.count('"') % 2:
            # Too many fields, or a quote left open that swallowed what followed it.
            unparsed.append((len(rows) + len(unparsed), raw))
        else:
            rows.append(record + [""] * (len(header) - len(record)))
    if header is None:
        return schema.empty_wire_frame()
    width = len(header)
    data = np.array(rows, dtype=object).reshape(len(rows), width)
    return _csv_frame(header, data, unparsed, schema, layout)


def _csv_frame(
    header: list[str],
    data: np.ndarray,
    unparsed: list[tuple[int, str]],
    schema: WireSchema,
    layout: FileLayout,
) -> pd.DataFrame:
    """Wire frame from a header and a 2-D array of cells, with unparsed rows put back in place."""
    fields = schema.field_names
    names = _normalise_names(header, fields, layout.aliases)
    _require_known_columns(names, fields)
    frame = pd.DataFrame(
        {
            column: _blank_to_none(data[:, names.index(column)])
            if column in names
            else np.full(len(data), None, dtype=object)
            for column in fields
        }
    )
    frame = _with_platform_columns(frame)
    if not unparsed:
        return frame
    positions = [position for position, _ in unparsed]
    bad = pd.DataFrame(
        {column: np.full(len(unparsed), None, dtype=object) for column in schema.wire_columns}
    )
    bad["parse_error"] = "malformed_csv"
    bad["raw_record"] = np.array([raw for _, raw in unparsed], dtype=object)
    order = np.empty(len(frame) + len(bad), dtype=np.int64)
    is_bad = np.zeros(len(order), dtype=bool)
    is_bad[positions] = True
    order[~is_bad] = np.arange(len(frame))
    order[is_bad] = len(frame) + np.arange(len(bad))
    return pd.concat([frame, bad], ignore_index=True).iloc[order].reset_index(drop=True)


# --- JSON lines -----------------------------------------------------------------------


def _iter_json_lines(
    binary: IO[bytes], schema: WireSchema, layout: FileLayout, batch_rows: int
) -> Iterator[pd.DataFrame]:
    rows: list[dict[str, str | None]] = []
    # newline="\n": only LF ends a line; str.splitlines() would also split on U+2028
    # and friends, which JSON strings may hold.
    text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="\n")
    try:
        for line in text:
            line = line.rstrip("\r\n")
            if line.strip():
                rows.append(_json_row(line, schema.field_names, layout.aliases))
            if len(rows) >= batch_rows:
                yield _json_frame(rows, schema)
                rows = []
    except UnicodeDecodeError as error:
        raise LandingFormatError("not_utf8", str(error)) from error
    finally:
        text.detach()
    if rows:
        yield _json_frame(rows, schema)


def _json_frame(rows: list[dict[str, str | None]], schema: WireSchema) -> pd.DataFrame:
    return pd.DataFrame(
        {
            column: np.array([row.get(column) for row in rows], dtype=object)
            for column in schema.wire_columns
        }
    )


def _json_row(
    line: str, fields: tuple[str, ...], aliases: Mapping[str, str]
) -> dict[str, str | None]:
    try:
        # Numbers stay the text they were written as: 21.50 must not become 21.5.
        parsed = json.loads(line, parse_float=str, parse_int=str, parse_constant=str)
    except ValueError:
        return {"parse_error": "malformed_json", "raw_record": line}
    if not isinstance(parsed, dict):
        return {"parse_error": "json_not_object", "raw_record": line}
    values: dict[str, str | None] = {}
    for key, value in parsed.items():
        if isinstance(value, (dict, list)):
            # Nested numbers were read as text above; re-read them as JSON to dump them.
            value = json.loads(line)[key]
        name = key.strip().lower()
        values.setdefault(aliases.get(name, name), _json_text(value))
    return {column: values.get(column) for column in fields}


def _json_text(value: object) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# --- Parquet --------------------------------------------------------------------------


def _iter_parquet(
    binary: IO[bytes], schema: WireSchema, layout: FileLayout, batch_rows: int
) -> Iterator[pd.DataFrame]:
    if isinstance(binary, gzip.GzipFile):
        binary = io.BytesIO(binary.read())  # Parquet needs to seek: no streaming here
    try:
        parquet = pq.ParquetFile(binary)
        fields = schema.field_names
        names = _normalise_names(parquet.schema_arrow.names, fields, layout.aliases)
        _require_known_columns(names, fields)
        position = {column: names.index(column) for column in fields if column in names}
        wanted = [parquet.schema_arrow.names[i] for i in sorted(set(position.values()))]
        for batch in parquet.iter_batches(batch_size=batch_rows, columns=wanted):
            table = pa.Table.from_batches([batch])
            yield _with_platform_columns(
                pd.DataFrame(
                    {
                        column: _arrow_text(
                            table.column(parquet.schema_arrow.names[position[column]])
                        )
                        if column in position
                        else np.full(table.num_rows, None, dtype=object)
                        for column in fields
                    }
                )
            )
    except (pa.ArrowException, OSError, ValueError) as error:
        raise LandingFormatError("unreadable_parquet", str(error)) from error


def _arrow_text(column: pa.ChunkedArray) -> np.ndarray:
    """Any Arrow column as text: numbers exactly, timestamps as ISO-8601."""
    kind = column.type
    if pa.types.is_dictionary(kind):
        column = column.cast(kind.value_type)
        kind = kind.value_type
    if pa.types.is_timestamp(kind):
        return _timestamp_text(column)
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        values = [None if v is None else v.decode("utf-8", "replace") for v in column.to_pylist()]
        return _blank_to_none(np.array(values, dtype=object))
    if pa.types.is_nested(kind):
        values = [_json_text(v) for v in column.to_pylist()]
        return np.array(values, dtype=object)
    return _blank_to_none(pc.cast(column, pa.string()).to_numpy(zero_copy_only=False))


def _timestamp_text(column: pa.ChunkedArray) -> np.ndarray:
    kind = column.type
    if kind.tz is None:
        # No zone: written without offset, so validation rejects it rather than guess.
        text = pc.strftime(column, format="%Y-%m-%dT%H:%M:%S")
    else:
        utc = column.cast(pa.timestamp(kind.unit, tz="UTC"))
        text = pc.strftime(utc, format="%Y-%m-%dT%H:%M:%SZ")
    return text.to_numpy(zero_copy_only=False).astype(object)


# --- shared ---------------------------------------------------------------------------


def _normalise_names(
    names: Iterable[object], fields: tuple[str, ...], aliases: Mapping[str, str] | None = None
) -> list[str]:
    aliases = aliases or {}
    normalised = [str(name).strip().lower() for name in names]
    normalised = [aliases.get(name, name) for name in normalised]
    for column in fields:
        if normalised.count(column) > 1:
            raise LandingFormatError("duplicate_columns", column)
    return normalised


def _require_known_columns(names: Iterable[str], fields: tuple[str, ...]) -> None:
    if not set(names) & set(fields):
        raise LandingFormatError("no_known_columns", f"expected some of {', '.join(fields)}")


def _blank_to_none(values: np.ndarray) -> np.ndarray:
    values = values.astype(object, copy=True)
    values[pd.isna(values) | np.equal(values, "")] = None
    return values


def _with_platform_columns(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.reset_index(drop=True)
    for column in ("origin", "parse_error", "raw_record"):
        frame[column] = np.full(len(frame), None, dtype=object)
    return frame
