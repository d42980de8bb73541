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
from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from fieldhouse.quality import SENSOR_SCHEMA, WireSchema

ORIGIN_PREFIX = "landing:"
FORMATS = (".csv", ".jsonl", ".ndjson", ".parquet")


class LandingFormatError(ValueError):
    """The whole file is unusable; ``reason`` is short and machine-readable."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def parse_landing_file(name: str, body: bytes, schema: WireSchema = SENSOR_SCHEMA) -> pd.DataFrame:
    """Read one landing file into a wire frame with ``origin = "landing:<name>"``.

    ``schema`` names the fields to read (the columns above are the sensor schema's);
    every other source's files follow the same format rules with its own fields.
    """
    lower = name.lower()
    if lower.endswith(".gz"):
        try:
            body = gzip.decompress(body)
        except (OSError, EOFError, zlib.error) as error:
            # zlib.error: a valid gzip header over a corrupt deflate stream.
            raise LandingFormatError("unreadable_gzip", str(error)) from error
        lower = lower[: -len(".gz")]
    if lower.endswith(".csv"):
        frame = _read_csv(body, schema)
    elif lower.endswith((".jsonl", ".ndjson")):
        frame = _read_json_lines(body, schema)
    elif lower.endswith(".parquet"):
        frame = _read_parquet(body, schema)
    else:
        raise LandingFormatError("unsupported_format", f"{name!r} is not one of {FORMATS}")
    frame["origin"] = ORIGIN_PREFIX + name
    return frame[list(schema.wire_columns)]


# --- CSV ---------------------------------------------------------------------------


def _read_csv(body: bytes, schema: WireSchema) -> pd.DataFrame:
    text = _decode(body)
    try:
        # header=None: a row with more fields than the header is then an error here,
        # rather than silently becoming an index column or losing its last field.
        cells = pd.read_csv(
            io.StringIO(text),
            header=None,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=True,
        )
    except pd.errors.EmptyDataError:
        return schema.empty_wire_frame()
    except pd.errors.ParserError:
        return _read_csv_by_record(text, schema)
    header = [str(name) for name in cells.iloc[0]]
    return _csv_frame(header, cells.iloc[1:].to_numpy(dtype=object), [], schema)


def _read_csv_by_record(text: str, schema: WireSchema) -> pd.DataFrame:
    """The careful path for files the fast parser refuses: bad records become rows too."""
    lines = list(io.StringIO(text, newline=""))
    reader = csv.reader(lines)
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
    return _csv_frame(header, data, unparsed, schema)


def _csv_frame(
    header: list[str], data: np.ndarray, unparsed: list[tuple[int, str]], schema: WireSchema
) -> pd.DataFrame:
    """Wire frame from a header and a 2-D array of cells, with unparsed rows put back in place."""
    fields = schema.field_names
    names = _normalise_names(header, fields)
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


def _read_json_lines(body: bytes, schema: WireSchema) -> pd.DataFrame:
    rows = []
    # Not str.splitlines(): it also splits on U+2028 and friends, which JSON strings may hold.
    for line in _decode(body).split("\n"):
        line = line.rstrip("\r")
        if line.strip():
            rows.append(_json_row(line, schema.field_names))
    return pd.DataFrame(
        {
            column: np.array([row.get(column) for row in rows], dtype=object)
            for column in schema.wire_columns
        }
    )


def _json_row(line: str, fields: tuple[str, ...]) -> dict[str, str | None]:
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
        values.setdefault(key.strip().lower(), _json_text(value))
    return {column: values.get(column) for column in fields}


def _json_text(value: object) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# --- Parquet --------------------------------------------------------------------------


def _read_parquet(body: bytes, schema: WireSchema) -> pd.DataFrame:
    try:
        table = pq.read_table(io.BytesIO(body))
    except (pa.ArrowException, OSError, ValueError) as error:
        raise LandingFormatError("unreadable_parquet", str(error)) from error
    fields = schema.field_names
    names = _normalise_names(table.column_names, fields)
    _require_known_columns(names, fields)
    position = {column: names.index(column) for column in fields if column in names}
    columns = {
        column: _arrow_text(table.column(position[column]))
        if column in position
        else np.full(table.num_rows, None, dtype=object)
        for column in fields
    }
    return _with_platform_columns(pd.DataFrame(columns))


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


def _decode(body: bytes) -> str:
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise LandingFormatError("not_utf8", str(error)) from error


def _normalise_names(names: Iterable[object], fields: tuple[str, ...]) -> list[str]:
    normalised = [str(name).strip().lower() for name in names]
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
