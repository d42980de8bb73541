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
parse), ``json_not_object`` (valid JSON, but not an object), ``json_too_deep``
(nested deeper than the parser can follow, thousands of levels), ``malformed_csv``
(more fields than the header, or a quote left open; a record with fewer fields is
missing the rest instead).

Only a file that cannot be read at all raises :class:`LandingFormatError`, whose
``reason`` is one of ``unsupported_format``, ``not_utf8``, ``unreadable_gzip``,
``unreadable_parquet``, ``duplicate_columns`` (two columns with the same name once
case and spaces are ignored), ``no_known_columns`` (none of the five columns
above: usually a wrong delimiter or a missing header), ``decompression_bomb`` (the
file expands past the limits below), ``record_too_long`` (one line or record longer
than the record limit) and ``unreadable_file`` (anything else a parser raised on
it, with the error's type and message).

Limits (:class:`ReadLimits`, defaults in brackets) keep what one file can cost
bounded, whatever is in it:

- a gzip file may expand to at most ``expanded_bytes`` [2 GiB], and, once past
  ``ratio_floor`` [16 MiB], to at most ``expansion_ratio`` [200] times the
  compressed bytes read so far (text of readings compresses 5 to 20 times);
- a Parquet file's row groups may hold at most ``expanded_bytes`` uncompressed,
  checked from its metadata before any data is read;
- one line (or CSV record with quoted line breaks) may be at most
  ``record_bytes`` [8 MiB] long, and no more than that of it is ever held.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import tempfile
import threading
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


@dataclass(frozen=True)
class ReadLimits:
    """How far one landing file may go before it is refused whole.

    ``expanded_bytes`` bounds what a gzip file expands to and what a Parquet file's
    row groups hold uncompressed. ``expansion_ratio`` bounds expanded bytes per
    compressed byte read so far, once more than ``ratio_floor`` bytes are expanded:
    a small file that compresses very well is never flagged. ``record_bytes`` bounds
    one line, or one CSV record with quoted line breaks; text is counted in
    characters, which for UTF-8 is never more than its bytes.
    """

    expanded_bytes: int = 2 << 30  # ~27M rows of readings: the hour keeps 8 bytes a row
    expansion_ratio: float = 200.0
    ratio_floor: int = 16 << 20
    record_bytes: int = 8 << 20


READ_LIMITS = ReadLimits()
"""The limits every landing file is read under unless a caller passes others."""

BATCH_ROWS = 100_000
"""Rows per batch when a file is read in pieces; bounds the memory a big file takes."""

RESTART = object()
"""Yielded by :func:`iter_landing_file` when batches already yielded must be discarded:
the fast CSV parser met a record it cannot split, and the careful parser re-reads
the whole file (its next yields)."""


def parse_landing_file(
    name: str,
    body: bytes,
    schema: WireSchema = SENSOR_SCHEMA,
    layout: FileLayout | None = None,
    *,
    limits: ReadLimits = READ_LIMITS,
) -> pd.DataFrame:
    """Read one landing file into a wire frame with ``origin = "landing:<name>"``.

    ``schema`` names the fields to read (the columns above are the sensor schema's);
    every other source's files follow the same format rules with its own fields.
    ``layout`` maps header aliases, names leading columns a short header leaves out
    and sets the delimiter of text files.
    """
    frames: list[pd.DataFrame] = []
    for batch in iter_landing_file(name, io.BytesIO(body), schema, layout, limits=limits):
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
    limits: ReadLimits = READ_LIMITS,
) -> Iterator[pd.DataFrame | object]:
    """Read a landing file from a seekable binary stream in batches of wire rows.

    Memory follows ``batch_rows`` and ``limits``, not the file's size. Whatever makes
    the whole file unusable raises :class:`LandingFormatError`, also in the middle
    of a file: anything a parser raises on it becomes one (``unreadable_file`` when
    no more precise reason fits). Only a failing read of ``binary`` itself is raised
    as it is: that is the storage's fault, and the task should fail and be retried.
    """
    layout = layout or FileLayout()
    lower = name.lower()
    compressed = lower.endswith(".gz")
    lower = lower.removesuffix(".gz")
    source = _Source(binary)

    def open_file() -> IO[bytes]:
        """The file's content from its start, expanded under ``limits`` when gzipped."""
        reader = source.open()
        if not compressed:
            return reader
        return _Expanded(
            pa.CompressedInputStream(pa.PythonFile(reader, mode="r"), "gzip"), reader, limits
        )

    try:
        if lower.endswith((".csv", ".txt", ".tsv")):
            batches = _iter_csv(open_file, schema, layout, batch_rows, limits)
        elif lower.endswith((".jsonl", ".ndjson")):
            batches = _iter_json_lines(open_file(), schema, layout, batch_rows, limits)
        elif lower.endswith(".parquet"):
            batches = _iter_parquet(open_file(), compressed, schema, layout, batch_rows, limits)
        else:
            raise LandingFormatError("unsupported_format", f"{name!r} is not one of {FORMATS}")
        for frame in batches:
            if frame is RESTART:
                yield frame
                continue
            frame["origin"] = ORIGIN_PREFIX + name
            yield frame[list(schema.wire_columns)]
    except Exception as error:
        if source.failure is error:
            raise  # reading ``binary`` failed: the storage's fault, not the file's
        if source.failure is not None:
            raise source.failure from error  # the same, wrapped by a parser
        if isinstance(error, LandingFormatError):
            raise
        if compressed and isinstance(error, OSError):
            # Not gzip, a corrupt deflate stream, a wrong checksum, a truncated file.
            raise LandingFormatError("unreadable_gzip", str(error)) from error
        # Whatever else a parser raises on odd input (RecursionError, MemoryError, an
        # error of its own) is this file's problem: it must not fail the hour's others.
        raise LandingFormatError("unreadable_file", _describe(error)) from error
    finally:
        source.close_readers()


def _describe(error: BaseException, limit: int = 500) -> str:
    # Parsers may quote the record they choke on: a reason is not the place for it.
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _empty(name: str, schema: WireSchema) -> pd.DataFrame:
    frame = schema.empty_wire_frame()
    frame["origin"] = pd.Series([], dtype=object)
    return frame


# --- streams ---------------------------------------------------------------------------


class _Source:
    """The file as the caller hands it over, shared by the readers opened on it.

    Arrow reads ahead in threads of its own, and goes on for a while after it has
    given up on a file: so every reader keeps its own position (a read seeks to it,
    under a lock), and opening the file again closes the readers opened before, so
    that a late read of theirs gets nothing rather than bytes meant for the next.
    A read of the stream that fails is kept in ``failure``: that is the storage's
    fault, not the file's.
    """

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self._at = 0  # where the stream is: handed over at its start
        self._readers: list[_SourceReader] = []
        self.failure: Exception | None = None

    def open(self) -> _SourceReader:
        """A reader from the start of the file; earlier readers read nothing more."""
        self.close_readers()
        reader = _SourceReader(self)
        self._readers.append(reader)
        return reader

    def close_readers(self) -> None:
        for reader in self._readers:
            reader.close()
        self._readers.clear()

    def read_at(self, position: int, buffer) -> int:
        with self._lock:
            try:
                if position != self._at:
                    self._stream.seek(position)
                size = _read_into(self._stream, buffer)
            except Exception as error:
                self.failure = error
                raise
            self._at = position + size
            return size

    def size(self) -> int:
        with self._lock:
            try:
                self._at = self._stream.seek(0, io.SEEK_END)
            except Exception as error:
                self.failure = error
                raise
            return self._at


class _SourceReader(io.RawIOBase):
    """One reader of a :class:`_Source`, with a position of its own."""

    def __init__(self, source: _Source) -> None:
        self._source = source
        self.position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.closed:
            return 0
        size = self._source.read_at(self.position, buffer)
        self.position += size
        return size

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_CUR:
            offset += self.position
        elif whence == io.SEEK_END:
            offset += self._source.size()
        self.position = offset
        return offset

    def tell(self) -> int:
        return self.position


class _Expanded(io.RawIOBase):
    """A decompressing stream that refuses to expand past ``limits``."""

    def __init__(self, stream: pa.NativeFile, source: _SourceReader, limits: ReadLimits) -> None:
        self._stream = stream
        self._source = source  # its position is the compressed bytes read
        self._limits = limits
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._source.closed:
            return 0  # abandoned: see _Source
        allowed = self._limits.expanded_bytes + 1 - self.size
        size = self._stream.readinto(memoryview(buffer)[:allowed])
        self.size += size
        self._check()
        return size

    def _check(self) -> None:
        limits = self._limits
        if self.size > limits.expanded_bytes:
            raise LandingFormatError(
                "decompression_bomb",
                f"expands to more than {limits.expanded_bytes} bytes "
                f"(from {self._source.position} compressed bytes read)",
            )
        compressed = max(self._source.position, 1)
        if self.size > limits.ratio_floor and self.size > limits.expansion_ratio * compressed:
            raise LandingFormatError(
                "decompression_bomb",
                f"{compressed} compressed bytes expanded to {self.size}, "
                f"more than {limits.expansion_ratio:g} times",
            )


def _read_into(stream: IO[bytes], buffer) -> int:
    """``stream.readinto(buffer)``, for streams that only have ``read``."""
    if hasattr(stream, "readinto"):
        return stream.readinto(buffer)
    data = stream.read(len(buffer))
    buffer[: len(data)] = data
    return len(data)


def _too_long(what: str, limit: int) -> LandingFormatError:
    return LandingFormatError("record_too_long", f"{what} is longer than {limit} characters")


# --- CSV ---------------------------------------------------------------------------


def _iter_csv(
    open_file: Callable[[], IO[bytes]],
    schema: WireSchema,
    layout: FileLayout,
    batch_rows: int,
    limits: ReadLimits,
) -> Iterator[pd.DataFrame | object]:
    """Arrow's streaming reader first; the careful reader when it refuses a record.

    ``open_file`` gives the file from its start, again for the careful reader.
    """
    head = _read_header(open_file(), layout, limits.record_bytes)
    if head is None:
        return
    header, stream = head
    yielded = refused = False
    try:
        reader = pacsv.open_csv(
            stream,
            read_options=pacsv.ReadOptions(
                autogenerate_column_names=True,
                # Arrow refuses a record that spans more than two blocks: none longer
                # than the limit gets past it, and the careful reader measures the rest.
                block_size=min(_block_size(batch_rows), limits.record_bytes // 2),
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
        # not UTF-8, a record longer than two blocks: the careful reader says which.
        refused = True
    if refused:
        if yielded:
            yield RESTART
        yield from _iter_csv_by_record(open_file(), schema, layout, batch_rows, limits)


def _block_size(batch_rows: int) -> int:
    # About 64 bytes a row: a batch of rows per block, within Arrow's limits.
    return max(1 << 16, min(batch_rows * 64, 1 << 28))


def _read_header(
    binary: IO[bytes], layout: FileLayout, limit: int
) -> tuple[list[str], IO[bytes]] | None:
    """The header's names, and a stream that starts with the header line (no BOM).

    Leading blank lines are skipped. A header the contract declares short gets its
    leading names here, so the reader takes the header as a row of the full width.
    A header line longer than ``limit`` is ``record_too_long``, read no further.
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
    chunks, size, last = [start], len(start), start
    while b"\n" not in last and b"\r" not in last and size <= limit:
        last = binary.read(1 << 16)
        if not last:
            break
        chunks.append(last)
        size += len(last)
    start = b"".join(chunks)
    ends = [i for i in (start.find(b"\n"), start.find(b"\r")) if i >= 0]
    line = start[: min(ends, default=len(start))]
    if len(line) > limit:
        raise _too_long("the header line", limit)
    _allow_fields_up_to(limit)
    try:
        names = next(csv.reader([line.decode("utf-8")], delimiter=layout.delimiter), [])
    except UnicodeDecodeError as error:
        raise LandingFormatError("not_utf8", str(error)) from error
    if layout.header_prepend:
        prefix = layout.delimiter.join(f'"{name}"' for name in layout.header_prepend)
        start = f"{prefix}{layout.delimiter}".encode() + start
        names = [*layout.header_prepend, *names]
    return names, _PrefixedBytes(start, binary)


def _allow_fields_up_to(size: int) -> None:
    # The csv module refuses fields over 128 KiB by default. The record limit is the
    # guard here, so a long field within it reads as Arrow would read it.
    if csv.field_size_limit() < size:
        csv.field_size_limit(size)


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
        return _read_into(self._stream, buffer)


def _csv_columns_frame(
    header: list[str], columns: list[pa.ChunkedArray], schema: WireSchema, layout: FileLayout
) -> pd.DataFrame:
    """Wire frame from the header and Arrow text columns (missing cells are null)."""
    positions = _column_positions(header, schema.field_names, layout.aliases)
    rows = len(columns[0]) if columns else 0
    frame = pd.DataFrame(
        {
            column: _objects(columns[positions[column]])
            if positions.get(column, len(columns)) < len(columns)
            else np.full(rows, None, dtype=object)
            for column in schema.field_names
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


def _iter_csv_by_record(
    binary: IO[bytes], schema: WireSchema, layout: FileLayout, batch_rows: int, limits: ReadLimits
) -> Iterator[pd.DataFrame]:
    """The careful path for files the fast parser refuses: bad records become rows too.

    It streams record by record, in batches of ``batch_rows`` records or about a
    block of text, whichever comes first; only the fields the schema reads are kept.
    """
    _allow_fields_up_to(limits.record_bytes)
    lines = _RecordLines(io.TextIOWrapper(binary, encoding="utf-8-sig", newline=""), limits)
    reader = csv.reader(lines, delimiter=layout.delimiter)
    fields = schema.field_names
    present: list[str] = []  # the schema's fields the header names, in schema order
    indices: list[int] = []  # and where they are in a record
    width: int | None = None  # the header's; None until the header is read
    rows: list[list[str]] = []
    unparsed: list[tuple[int, str]] = []  # (position among the batch's rows, raw text)
    size = 0  # characters read for the batch
    yielded = False
    try:
        while True:
            try:
                record = next(reader)
            except StopIteration:
                break
            except csv.Error:
                record = None
            raw = lines.take()
            if record is not None and (not record or (len(record) == 1 and not record[0].strip())):
                continue  # a blank line
            if width is None and record is not None:
                header = [*layout.header_prepend, *record]
                positions = _column_positions(header, fields, layout.aliases)
                present = [column for column in fields if column in positions]
                indices = [positions[column] for column in present]
                width = len(header)
                continue
            if record is None or width is None or len(record) > width or raw.count('"') % 2:
                # Too many fields, or a quote left open that swallowed what followed it.
                unparsed.append((len(rows) + len(unparsed), raw))
            else:
                rows.append([record[i] if i < len(record) else "" for i in indices])
            size += len(raw)
            if len(rows) + len(unparsed) >= batch_rows or size >= _block_size(batch_rows):
                yield _csv_frame(present, rows, unparsed, schema)
                yielded = True
                rows, unparsed, size = [], [], 0
    except UnicodeDecodeError as error:
        raise LandingFormatError("not_utf8", str(error)) from error
    if rows or unparsed or (width is not None and not yielded):
        yield _csv_frame(present, rows, unparsed, schema)


class _RecordLines:
    """The lines of a text stream, for ``csv.reader``, keeping the current record's text.

    A record (all the lines it takes) longer than the record limit is
    ``record_too_long`` before more than the limit of it is read.
    """

    def __init__(self, text: IO[str], limits: ReadLimits) -> None:
        self._text = text
        self._limit = limits.record_bytes
        self._lines: list[str] = []
        self._size = 0
        self._line_number = 0

    def __iter__(self) -> _RecordLines:
        return self

    def __next__(self) -> str:
        line = self._text.readline(self._limit + 1 - self._size)
        if not line:
            raise StopIteration
        self._size += len(line)
        if self._size > self._limit:
            first = self._line_number - len(self._lines) + 1
            raise _too_long(f"the record starting on line {first}", self._limit)
        self._lines.append(line)
        self._line_number += 1
        return line

    def take(self) -> str:
        """The text of the record just read, without its line break; the next starts empty."""
        raw = "".join(self._lines).rstrip("\r\n")
        self._lines.clear()
        self._size = 0
        return raw


def _csv_frame(
    present: list[str],
    rows: list[list[str]],
    unparsed: list[tuple[int, str]],
    schema: WireSchema,
) -> pd.DataFrame:
    """Wire frame from the cells of the ``present`` fields, with unparsed rows put back in place."""
    data = np.array(rows, dtype=object).reshape(len(rows), len(present))
    frame = pd.DataFrame(
        {
            column: _blank_to_none(data[:, present.index(column)])
            if column in present
            else np.full(len(data), None, dtype=object)
            for column in schema.field_names
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
    binary: IO[bytes], schema: WireSchema, layout: FileLayout, batch_rows: int, limits: ReadLimits
) -> Iterator[pd.DataFrame]:
    rows: list[dict[str, str | None]] = []
    limit = limits.record_bytes
    # newline="\n": only LF ends a line; str.splitlines() would also split on U+2028
    # and friends, which JSON strings may hold.
    text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="\n")
    number = 0
    try:
        while line := text.readline(limit + 1):
            number += 1
            if len(line) > limit:
                raise _too_long(f"line {number}", limit)
            line = line.rstrip("\r\n")
            if line.strip():
                rows.append(_json_row(line, schema.field_names, layout.aliases))
            if len(rows) >= batch_rows:
                yield _json_frame(rows, schema)
                rows = []
    except UnicodeDecodeError as error:
        raise LandingFormatError("not_utf8", str(error)) from error
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
        if not isinstance(parsed, dict):
            return {"parse_error": "json_not_object", "raw_record": line}
        values: dict[str, str | None] = {}
        nested = None
        for key, value in parsed.items():
            if isinstance(value, (dict, list)):
                # Nested numbers were read as text above; re-read them as JSON to dump
                # them (the line once, however many nested values it holds).
                nested = json.loads(line) if nested is None else nested
                value = nested[key]
            name = key.strip().lower()
            values.setdefault(aliases.get(name, name), _json_text(value))
    except RecursionError:
        # Nested deeper than the parser's stack allows: this row, not the file.
        return {"parse_error": "json_too_deep", "raw_record": line}
    except ValueError:
        # Not JSON, or inside a nested value an integer too long for Python to read.
        return {"parse_error": "malformed_json", "raw_record": line}
    return {column: values.get(column) for column in fields}


def _json_text(value: object) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# --- Parquet --------------------------------------------------------------------------


def _iter_parquet(
    binary: IO[bytes],
    compressed: bool,
    schema: WireSchema,
    layout: FileLayout,
    batch_rows: int,
    limits: ReadLimits,
) -> Iterator[pd.DataFrame]:
    if not compressed:
        yield from _parquet_batches(binary, schema, layout, batch_rows, limits)
        return
    # Parquet needs to seek: the expanded file goes to local disk, not to memory.
    with tempfile.TemporaryFile(prefix="fieldhouse-landing-") as local:
        shutil.copyfileobj(binary, local, 1 << 20)
        local.seek(0)
        yield from _parquet_batches(local, schema, layout, batch_rows, limits)


def _parquet_batches(
    binary: IO[bytes], schema: WireSchema, layout: FileLayout, batch_rows: int, limits: ReadLimits
) -> Iterator[pd.DataFrame]:
    try:
        parquet = pq.ParquetFile(binary)
        _refuse_parquet_bomb(parquet.metadata, limits)
        fields = schema.field_names
        position = _column_positions(parquet.schema_arrow.names, fields, layout.aliases)
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
    except LandingFormatError:
        raise
    except (pa.ArrowException, OSError, ValueError) as error:
        raise LandingFormatError("unreadable_parquet", str(error)) from error


def _refuse_parquet_bomb(metadata: pq.FileMetaData, limits: ReadLimits) -> None:
    """A file whose row groups hold more than the limit uncompressed is not read at all."""
    expanded = sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))
    if expanded > limits.expanded_bytes:
        raise LandingFormatError(
            "decompression_bomb",
            f"its row groups hold {expanded} bytes uncompressed, more than {limits.expanded_bytes}",
        )


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


def _column_positions(
    names: Iterable[object], fields: tuple[str, ...], aliases: Mapping[str, str]
) -> dict[str, int]:
    """Where each of ``fields`` a file names is among its columns ``names``.

    Raises ``duplicate_columns`` and ``no_known_columns``.
    """
    normalised = _normalise_names(names, fields, aliases)
    _require_known_columns(normalised, fields)
    return {column: normalised.index(column) for column in fields if column in normalised}


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
