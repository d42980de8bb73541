"""Propose a contract from a sample of a file: a draft for a person to finish, not a verdict.

:func:`infer_contract` reads the first rows of a CSV (delimiter ``,`` ``;`` tab or
``|``; with or without a byte-order mark; LF, CRLF or old-Mac CR line endings),
JSON-lines or Parquet file, each possibly gzipped, and returns a contract as YAML
text with a comment on every line a person must decide. The heuristics, in order:

- **header**: the first row names the columns. When most rows carry one field more
  than the header names, the first field is an unnamed row id:
  ``file: {header_prepend: [row_id]}``.
- **types**: a column is integer, decimal, timestamp, date or text. A type fits when
  it reads at least 95% of the column's non-empty values, not counting text that
  repeats and fits no type (``"Date Not Captured"``): that text is proposed as
  ``sentinels``, with action ``null`` (emptied) on an optional field and
  ``quarantine`` on a required one. Decimal commas (``21,5``) are noticed and
  declared as ``file: {decimal: ","}``.
- **time formats**: the first strptime pattern of :data:`TIME_FORMATS` that reads the
  most values (at least 95%). ISO-8601 text with an offset needs no format; text
  without one is local time, so the contract asks for its zone.
- **missing-value codes**: a number repeated far outside the others (-200, -999,
  9999), or a known "no value" word in a text column (``N/A``), becomes a sentinel.
- **dataset**: the one given, or a guess from the columns (OHLC columns: price bars;
  scheduled or delivered dates and a country: shipments; a time column and numbers:
  sensor readings, wide when there are several numbers); otherwise the dataset whose
  fields the most columns match.
- **fields**: each field of the dataset's wire schema is matched to a column by name
  (the same words, a known synonym, contained words, or a close spelling) and kind.
  Required fields nothing matches are written as ``TODO`` placeholders.
- **identity**: a column unique in the sample that is not a row counter (consecutive
  integers restart in every file); otherwise a hash of the text fields and the time
  field. A wide file always gets a hash: its rows hold several readings each.

Everything here is a rule of thumb; the comments in the output say what to check.
"""

from __future__ import annotations

import csv
import difflib
import gzip
import io
import json
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import pandas as pd
import yaml

if TYPE_CHECKING:
    from fieldhouse.quality.core import Field, WireSchema

FIT = 0.95  # share of the non-sentinel values a type or format must read
MAX_SENTINELS = 5  # more distinct non-fitting texts than this: the column is text
DELIMITERS = (",", ";", "\t", "|")
LANDING_SUFFIXES = (".csv", ".txt", ".tsv", ".jsonl", ".ndjson", ".parquet")
PLACEHOLDER = "TODO"

TIME_FORMATS: tuple[str, ...] = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %I:%M %p",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d-%m-%Y %H:%M:%S",
    "%d-%m-%Y %H:%M",
    "%d/%m/%y %H:%M",
    "%m/%d/%y %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d/%m/%y",
    "%m/%d/%y",
    "%d.%m.%Y",
    "%d.%m.%y",
    "%d-%m-%Y",
    "%d-%b-%y",
    "%d-%b-%Y",
    "%d %b %Y",
    "%d %B %Y",
    "%b %d, %Y",
    "%B %d, %Y",
)
"""Local time patterns tried in order; the first of the best-reading ones is proposed."""

_ISO_WITH_OFFSET = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}([.,]\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)$"
)
_INTEGER = re.compile(r"^[+-]?\d{1,18}$")
_DECIMAL = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")
_NINES = re.compile(r"^-?9{2,}(\.0*)?$")
_MISSING_WORDS = frozenset(
    {"n/a", "na", "n.a.", "null", "none", "nan", "-", "--", "?", "missing", "unknown", "#n/a"}
)
_ID_WORDS = frozenset({"id", "key", "uuid", "guid", "number", "no", "ref", "code"})

_SYNONYMS: dict[str, tuple[str, ...]] = {
    "event_id": ("id", "event id", "reading id", "record id", "bar id"),
    "device_id": ("device", "sensor", "sensor id", "station", "meter", "device name"),
    "ts": ("timestamp", "time", "datetime", "date time", "date", "event time", "measured at"),
    "metric": ("metric", "measure", "variable", "parameter", "quantity", "sensor type"),
    "value": ("value", "reading", "measurement", "val"),
    "instrument": ("ticker", "symbol", "stock", "instrument", "security", "asset"),
    "bar_start": ("date", "time", "timestamp", "datetime", "period start", "bar time"),
    "close": ("close", "last"),
    "volume": ("volume", "vol"),
    "shipment_id": ("id", "shipment", "shipment number", "consignment"),
    "order_id": ("order", "order number", "po", "purchase order"),
    "destination_country": ("country", "destination", "ship to country"),
    "destination_region": ("region", "state", "province"),
    "carrier": ("carrier", "shipper", "courier"),
    "shipment_mode": ("mode", "transport mode", "ship mode"),
    "ordered_at": ("ordered", "order date", "po sent", "purchase date", "created"),
    "promised_at": ("scheduled", "promised", "due", "expected", "eta"),
    "delivered_at": ("delivered", "actual delivery", "delivered at"),
    "customer_id": ("customer", "client", "account", "user"),
    "amount": ("amount", "total", "sum"),
    "currency": ("currency", "ccy"),
    "item_count": ("items", "quantity", "qty"),
    "transaction_id": ("transaction", "txn", "id"),
    "merchant_category": ("merchant category", "mcc", "category"),
    "reported_at": ("reported", "report date", "filed"),
    "reason_code": ("reason",),
    "chargeback_id": ("chargeback", "dispute", "id"),
    "event_type": ("event type", "status", "event", "scan type"),
    "event_ts": ("timestamp", "time", "scanned at", "event time"),
    "location": ("location", "place", "country"),
}
"""Words a column may use for a field of a wire schema, beyond the field's own name."""

_METRIC_SYNONYMS = {"light": "illuminance", "temp": "temperature", "rh": "humidity"}
_COUNTRY_FIELDS = ("destination_country", "country", "location")


# --- reading a sample ----------------------------------------------------------------


@dataclass
class Sample:
    """The first rows of a file as text cells, and what was noticed reading them."""

    columns: list[str]
    rows: list[list[str | None]]
    delimiter: str = ","
    header_prepend: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)

    def values(self, index: int) -> list[str | None]:
        return [row[index] if index < len(row) else None for row in self.rows]


def read_sample(path: Path, sample_rows: int = 10_000) -> Sample:
    """The first ``sample_rows`` records of a CSV, JSON-lines or Parquet file (or .gz)."""
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".parquet"):
        return _parquet_sample(path, sample_rows)
    if name.endswith((".jsonl", ".ndjson")):
        return _json_lines_sample(path, sample_rows)
    return _csv_sample(path, sample_rows)


@contextmanager
def _open_binary(path: Path) -> Iterator[IO[bytes]]:
    with path.open("rb") as raw:
        if raw.read(2) == b"\x1f\x8b":
            raw.seek(0)
            with gzip.open(raw) as unzipped:
                yield unzipped
        else:
            raw.seek(0)
            yield raw


@contextmanager
def _open_text(path: Path) -> Iterator[IO[str]]:
    # newline="": CR, LF and CRLF all end a line, and quoted line breaks survive.
    with _open_binary(path) as binary:
        yield io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")


def _csv_sample(path: Path, sample_rows: int) -> Sample:
    """A CSV's first records, with the delimiter and the header quirk detected."""
    with _open_binary(path) as binary:
        head = binary.read(1 << 16)
    text = _decode(head, path)
    delimiter = _detect_delimiter(text)
    with _open_text(path) as stream:
        records: list[list[str]] = []
        try:
            for record in csv.reader(stream, delimiter=delimiter):
                if any(cell.strip() for cell in record):
                    records.append(record)
                if len(records) > sample_rows:
                    break
        except UnicodeDecodeError as error:
            raise ValueError(_not_utf8(path, error)) from error
    if not records:
        raise ValueError(f"{path}: no rows to learn from")
    header, data = [c.strip() for c in records[0]], records[1:]
    widths = Counter(len(r) for r in data)
    prepend: tuple[str, ...] = ()
    if data and widths.most_common(1)[0][0] == len(header) + 1:
        prepend = ("row_id",)
        header = ["row_id", *header]
    rows = [[c if c.strip() else None for c in r] for r in data]
    sample = Sample(header, rows, delimiter, prepend, _text_notes(head, delimiter))
    return sample


def _decode(head: bytes, path: Path) -> str:
    try:
        return head.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        if error.start >= len(head) - 3:  # a character cut by the end of the chunk
            return head[: error.start].decode("utf-8-sig")
        raise ValueError(_not_utf8(path, error)) from error


def _not_utf8(path: Path, error: UnicodeDecodeError) -> str:
    return f"{path}: not UTF-8 ({error.reason}); landing files are read as UTF-8: re-save it"


def _detect_delimiter(text: str) -> str:
    """The delimiter that splits the first lines into the same, largest number of fields."""
    lines = text.splitlines()[:50]
    if len(lines) > 1:
        lines = lines[:-1]  # the chunk may cut the last line short

    def score(delimiter: str) -> tuple[bool, float, int]:
        widths = [len(r) for r in csv.reader(lines, delimiter=delimiter) if r]
        if not widths:
            return (False, 0.0, 0)
        data = widths[1:] or widths
        mode, count = Counter(data).most_common(1)[0]
        return (mode > 1, count / len(data), mode)

    return max(DELIMITERS, key=score)


def _text_notes(head: bytes, delimiter: str) -> list[str]:
    notes = []
    if head.startswith(b"\xef\xbb\xbf"):
        notes.append("UTF-8 with a byte-order mark")
    if b"\r\n" in head:
        notes.append("CRLF line endings")
    elif b"\r" in head:
        notes.append("old-Mac CR line endings")
    if delimiter != ",":
        notes.append(f"fields separated by {delimiter!r}")
    return notes


def _json_lines_sample(path: Path, sample_rows: int) -> Sample:
    # The parser's own rendering of JSON values, so the sample reads as ingestion will.
    from fieldhouse.sources.landing import _json_text

    columns: dict[str, None] = {}
    records: list[dict[str, str | None]] = []
    skipped = 0
    with _open_text(path) as stream:
        for line in stream:
            if not line.strip():
                continue
            try:
                parsed = json.loads(line, parse_float=str, parse_int=str, parse_constant=str)
            except ValueError:
                skipped += 1
                continue
            if not isinstance(parsed, dict):
                skipped += 1
                continue
            records.append({str(k): _json_text(v) for k, v in parsed.items()})
            columns.update(dict.fromkeys(str(k) for k in parsed))
            if len(records) >= sample_rows:
                break
    names = list(columns)
    rows = [[record.get(name) for name in names] for record in records]
    notes = [f"{skipped} lines of the sample are not JSON objects"] if skipped else []
    return Sample(names, rows, notes=notes)


def _parquet_sample(path: Path, sample_rows: int) -> Sample:
    import pyarrow as pa
    import pyarrow.parquet as pq

    # The parser's own rendering of Arrow values, so the sample reads as ingestion will.
    from fieldhouse.sources.landing import _arrow_text

    with _open_binary(path) as binary:
        body = io.BytesIO(binary.read())
    parquet = pq.ParquetFile(body)
    batch = next(parquet.iter_batches(batch_size=sample_rows), None)
    table = parquet.schema_arrow.empty_table() if batch is None else pa.Table.from_batches([batch])
    columns = [list(_arrow_text(table.column(i))) for i in range(table.num_columns)]
    rows = [list(row) for row in zip(*columns, strict=True)]
    return Sample(list(table.column_names), rows)


# --- profiling columns ---------------------------------------------------------------


@dataclass
class ColumnProfile:
    """What the sample says about one column."""

    name: str
    kind: str  # integer, decimal, timestamp, date, text or empty
    filled: int  # non-empty values
    distinct: int
    rows: int
    format: str | None = None  # strptime pattern of a local timestamp or date
    alternative: str | None = None  # another pattern that reads the sample as well
    offset: bool = False  # timestamps carry a UTC offset
    sentinels: tuple[str, ...] = ()
    decimal_comma: bool = False
    counter: bool = False  # consecutive integers in file order: a row number
    examples: tuple[str, ...] = ()

    @property
    def unique(self) -> bool:
        return self.rows > 1 and self.filled == self.rows == self.distinct

    @property
    def words(self) -> tuple[str, ...]:
        return _words(self.name)

    @property
    def numeric(self) -> bool:
        return self.kind in ("integer", "decimal")

    @property
    def timed(self) -> bool:
        return self.kind in ("timestamp", "date")


def profile_columns(sample: Sample) -> list[ColumnProfile]:
    """A profile of every column of the sample, in file order."""
    comma_decimals = sample.delimiter != ","
    return [
        _profile(name, sample.values(i), comma_decimals=comma_decimals)
        for i, name in enumerate(sample.columns)
    ]


def _profile(name: str, values: list[str | None], *, comma_decimals: bool) -> ColumnProfile:
    """The first kind that fits the column: a number, then a time, else text."""
    filled = [v.strip() for v in values if v is not None and v.strip()]
    counts = Counter(filled)
    base = {
        "name": name,
        "filled": len(filled),
        "distinct": len(counts),
        "rows": len(values),
        "examples": tuple(list(counts)[:3]),
    }
    if not filled:
        return ColumnProfile(kind="empty", **base)
    numeric = _numeric_profile(counts, filled, comma_decimals)
    if numeric is not None:
        return ColumnProfile(**numeric, **base)
    timed = _time_profile(counts)
    if timed is not None:
        return ColumnProfile(**timed, **base)
    missing = tuple(v for v, _ in counts.most_common() if v.lower() in _MISSING_WORDS)
    return ColumnProfile(kind="text", sentinels=missing, **base)


def _fit(counts: Counter, fits: set[str]) -> tuple[str, ...] | None:
    """The repeated non-fitting texts if the fitting ones are >= 95% of the rest, else None."""
    fitting = sum(c for v, c in counts.items() if v in fits)
    misfits = [(v, c) for v, c in counts.most_common() if v not in fits]
    sentinels = tuple(v for v, c in misfits if c > 1)
    stray = sum(c for _, c in misfits if c == 1)
    if not fitting or len(sentinels) > MAX_SENTINELS or fitting < FIT * (fitting + stray):
        return None
    if fitting < 0.3 * sum(counts.values()):
        return None  # mostly codes: more likely text that happens to hold a few numbers
    return sentinels


def _numeric_profile(counts: Counter, filled: list[str], comma_decimals: bool) -> dict | None:
    """Integer or decimal, with its sentinels and decimal comma; None if not numbers."""
    integers = {v for v in counts if _INTEGER.match(v)}
    decimals = {v for v in counts if _DECIMAL.match(v)}
    commas = {v for v in counts if comma_decimals and _DECIMAL_COMMA.match(v)}
    # "1,234" alone could be a thousands separator; a decimal comma shows other widths.
    decimal_comma = bool(commas) and not any("." in v for v in decimals - integers)
    decimal_comma = decimal_comma and any(len(v.split(",")[1]) != 3 for v in commas)
    if decimal_comma:
        decimals |= commas
    # Integers only when no value has a fraction: 97% zeros and some 0.5 are decimals.
    kind, fits = ("integer", integers) if decimals == integers else ("decimal", decimals)
    sentinels = _fit(counts, fits)
    if sentinels is None:
        return None
    numbers = [v for v in filled if v in fits]
    return {
        "kind": kind,
        "sentinels": (*sentinels, *_numeric_codes(counts, fits, decimal_comma)),
        "decimal_comma": decimal_comma,
        "counter": kind == "integer" and not sentinels and _is_counter(numbers, filled),
    }


def _number(text: str, decimal_comma: bool) -> float:
    return float(text.replace(",", ".") if decimal_comma else text)


def _numeric_codes(counts: Counter, fits: set[str], decimal_comma: bool) -> tuple[str, ...]:
    """Numbers that repeat far outside the others: codes for "no value" (-200, -999, 9999).

    Only the lowest and highest values can be codes, peeled off one by one: a non-zero
    value repeated outside the range of all the others is a code when it is all nines,
    lies further from that range than the range is wide, or is a negative whole number
    where every other value is >= 0.
    """
    texts: dict[float, list[str]] = {}
    for text in fits:
        texts.setdefault(_number(text, decimal_comma), []).append(text)
    ordered = sorted(texts)
    codes: list[str] = []
    for take in (0, -1):  # from the bottom, then from the top
        while len(ordered) > 2:
            x, rest = ordered[take], ordered[1:] if take == 0 else ordered[:-1]
            if sum(counts[t] for t in texts[x]) < 2 or not _is_code(x, texts[x], rest):
                break
            codes += sorted(texts[x])
            ordered = rest
    return tuple(codes)


def _is_code(x: float, texts: list[str], rest: list[float]) -> bool:
    if x == 0:
        return False  # zero is a real reading (dark, idle, closed) far more often than a code
    low, high = rest[0], rest[-1]
    span = (high - low) or abs(high) or 1.0
    far = (low - x if x < low else x - high) > span
    negative_code = x < 0 <= low and x.is_integer() and abs(x) >= 9
    return far or negative_code or any(_NINES.match(t) for t in texts)


def _is_counter(numbers: list[str], filled: list[str]) -> bool:
    """Whether the column counts rows: every value one more (or less) than the last."""
    if len(numbers) < 2 or len(numbers) != len(filled):
        return False
    steps = {int(b) - int(a) for a, b in pairwise(numbers)}
    return steps in ({1}, {-1})


def _time_profile(counts: Counter) -> dict | None:
    """Timestamp or date, with its pattern and sentinels; None if no pattern fits."""
    values = list(counts)
    with_offset = {v for v in values if _ISO_WITH_OFFSET.match(v)}
    sentinels = _fit(counts, with_offset)
    if sentinels is not None:
        return {"kind": "timestamp", "offset": True, "sentinels": sentinels}
    # A first pass on a few hundred values keeps 35 patterns cheap; leaders then read all.
    probe = pd.Series(values[:500], dtype=object)
    hits = {fmt: _parsed(probe, fmt).sum() for fmt in TIME_FORMATS}
    if not max(hits.values()):
        return None
    everything = pd.Series(values, dtype=object)
    fits = {
        fmt: set(everything[_parsed(everything, fmt)])
        for fmt in TIME_FORMATS
        if hits[fmt] == max(hits.values())
    }
    best = max(len(f) for f in fits.values())
    fmt, *others = [f for f in fits if len(fits[f]) == best]
    # The same fields in another order (day/month) is a real doubt; %b vs %B is not.
    swapped = [f for f in others if sorted(re.findall("%.", f)) == sorted(re.findall("%.", fmt))]
    sentinels = _fit(counts, fits[fmt])
    if sentinels is None:
        return None
    has_time = any(code in fmt for code in ("%H", "%I"))
    return {
        "kind": "timestamp" if has_time else "date",
        "format": fmt,
        "alternative": swapped[0] if swapped else None,
        "sentinels": sentinels,
    }


def _parsed(values: pd.Series, fmt: str) -> pd.Series:
    """Which values ``fmt`` reads, the way normalisation will parse them."""
    return pd.to_datetime(values, format=fmt, errors="coerce").notna()


def _words(name: str) -> tuple[str, ...]:
    """Lower-case words of a column or field name: ``HumidityRatio`` -> humidity, ratio."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return tuple(w for w in re.split(r"[^a-z0-9]+", spaced.lower()) if w)


# --- choosing the dataset --------------------------------------------------------------


def guess_dataset(profiles: list[ColumnProfile]) -> tuple[str, str]:
    """The raw dataset these columns most likely belong to, and why."""
    numeric_words = {p.words[-1] for p in profiles if p.numeric and p.words}
    ohlc = numeric_words & {"open", "high", "low", "close"}
    if len(ohlc) >= 3:
        return "market.price_bars", "open/high/low/close columns"
    timed = [p for p in profiles if p.timed]
    delivery = [p for p in timed if set(p.words) & {"scheduled", "delivered", "promised", "due"}]
    country = [p for p in profiles if "country" in p.words]
    if delivery and (country or len(delivery) > 1):
        return "commerce.shipments", "scheduled or delivered dates, and a country or two dates"
    names = {" ".join(p.words) for p in profiles}
    if {"metric", "value"} <= names:
        return "sensors.readings", "metric and value columns"
    measures = _measures(profiles)
    if timed and measures:
        numbers = "1 numeric column" if len(measures) == 1 else f"{len(measures)} numeric columns"
        return "sensors.readings", f"a time column and {numbers}"
    return _best_matching_dataset(profiles)


def _best_matching_dataset(profiles: list[ColumnProfile]) -> tuple[str, str]:
    """The dataset with the most fields some column matches by name: a last resort."""
    from fieldhouse.ingest.datasets import DATASETS

    scores = {}
    for name, dataset in DATASETS.items():
        mapped = _map_fields(dataset.schema.fields, profiles)
        scores[name] = len(mapped)
    best = max(scores, key=lambda name: scores[name])
    return best, f"{scores[best]} column(s) named like its fields; a weak guess: check it"


def _measures(profiles: list[ColumnProfile]) -> list[ColumnProfile]:
    """Numeric columns that hold measurements: not row numbers, not unique integer ids."""
    return [
        p
        for p in profiles
        if p.numeric and p.name and not p.counter and not (p.kind == "integer" and p.unique)
    ]


# --- matching fields to columns ------------------------------------------------------


def _map_fields(
    fields: tuple[Field, ...], profiles: list[ColumnProfile]
) -> dict[str, ColumnProfile]:
    """Field name -> the column that best matches it by name and kind, each column once."""
    pairs = []
    for spec in fields:
        for profile in profiles:
            if not profile.name or not _kind_fits(spec, profile):
                continue
            score = _name_score(spec.name, profile.words)
            if score >= 0.6:
                pairs.append((score, spec.name, profile))
    mapped: dict[str, ColumnProfile] = {}
    used: set[str] = set()
    for _score, name, profile in sorted(pairs, key=lambda p: -p[0]):
        if name not in mapped and profile.name not in used:
            mapped[name] = profile
            used.add(profile.name)
    return mapped


def _kind_fits(spec: Field, profile: ColumnProfile) -> bool:
    from fieldhouse.quality.core import Kind

    if spec.kind is Kind.TIMESTAMP:
        return profile.timed
    if spec.kind in (Kind.DECIMAL, Kind.INTEGER):
        return profile.numeric
    return not profile.timed and profile.kind != "empty"


def _name_score(field_name: str, words: tuple[str, ...]) -> float:
    """How well a column's words name a field: 1 the same, 0.95 a synonym, less for parts."""
    if not words:
        return 0.0
    own = tuple(field_name.split("_"))
    if words == own:
        return 1.0
    phrases = [tuple(s.split()) for s in _SYNONYMS.get(field_name, ())]
    if words in phrases:
        return 0.95
    contained = [p for p in [*phrases, own] if _contains(words, p)]
    if contained:
        extra = len(words) - max(len(p) for p in contained)
        return max(0.8 - 0.01 * extra, 0.6)
    ratio = difflib.SequenceMatcher(None, "".join(words), "".join(own)).ratio()
    return 0.7 * ratio if ratio >= 0.85 else 0.0


def _contains(words: tuple[str, ...], phrase: tuple[str, ...]) -> bool:
    n = len(phrase)
    return any(words[i : i + n] == phrase for i in range(len(words) - n + 1))


# --- the proposal ----------------------------------------------------------------------


@dataclass
class _FieldLine:
    """One entry under ``fields:``: its keys in order, with a comment where needed."""

    name: str
    entries: list[tuple[str, Any, str]] = field(default_factory=list)
    comment: str = ""

    def add(self, key: str, value: Any, comment: str = "") -> _FieldLine:
        self.entries.append((key, value, comment))
        return self


@dataclass
class _Draft:
    """Everything decided about the contract, before it is written as YAML."""

    name: str
    dataset: str
    dataset_reason: str
    sample: Sample
    profiles: list[ColumnProfile]
    layout: str = "long"
    melt: list[tuple[str, dict[str, Any], str]] = field(default_factory=list)
    fields: list[_FieldLine] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    file: dict[str, tuple[Any, str]] = field(default_factory=dict)
    register: str | None = None


def infer_contract(path: Path, *, dataset: str | None = None, sample_rows: int = 10_000) -> str:
    """A proposed contract for files like ``path``, as YAML text with review comments."""
    from fieldhouse.ingest.datasets import raw_dataset

    sample = read_sample(path, sample_rows)
    profiles = profile_columns(sample)
    if dataset is None:
        dataset, reason = guess_dataset(profiles)
    else:
        reason = "given"
    target = raw_dataset(dataset)
    draft = _Draft(_slug(path), dataset, reason, sample, profiles, register=target.registry)
    _file_format(draft)
    _fill_fields(draft, target.schema)
    return _render(draft, path)


def _slug(path: Path) -> str:
    stem = path.name
    for suffix in (".gz", *LANDING_SUFFIXES):
        stem = stem.removesuffix(suffix).removesuffix(suffix.upper())
    slug = "_".join(_words(stem)) or "feed"
    return slug if slug[0].isalpha() else f"feed_{slug}"


def _file_format(draft: _Draft) -> None:
    sample = draft.sample
    if sample.delimiter != ",":
        draft.file["delimiter"] = (sample.delimiter, "")
    if any(p.decimal_comma for p in draft.profiles):
        draft.file["decimal"] = (",", "numbers are written with a decimal comma")
    if sample.header_prepend:
        width = len(sample.columns) - len(sample.header_prepend)
        draft.file["header_prepend"] = (
            list(sample.header_prepend),
            f"the header names {width} columns but rows carry {width + 1}: "
            "the first, unnamed, is taken as a row id",
        )


def _fill_fields(draft: _Draft, schema: WireSchema) -> None:
    """Decide layout, the source of every field and the identity."""
    profiles = [p for p in draft.profiles if p.name]
    fields = schema.fields
    mapped = _map_fields(fields, profiles)
    if draft.dataset == "sensors.readings" and not {"metric", "value"} <= set(mapped):
        mapped = _sensor_layout(draft, schema, profiles)
    key_line = _identity(draft, schema, mapped)
    for spec in fields:
        if key_line is not None and spec.name == key_line.name:
            draft.fields.append(key_line)
        elif spec.name in mapped:
            draft.fields.append(_from_column(spec, mapped[spec.name]))
        elif draft.layout == "wide" and spec.name in ("metric", "value"):
            line = _melted_value_line(draft) if spec.name == "value" else None
            if line is not None:
                draft.fields.append(line)
        elif any(line.name == spec.name for line in draft.fields):
            continue
        elif spec.required:
            draft.fields.append(_placeholder(spec.name))
        else:
            draft.notes.append(f"optional field {spec.name!r}: no column matches it")
    order = {spec.name: i for i, spec in enumerate(fields)}
    draft.fields.sort(key=lambda line: order.get(line.name, len(order)))


def _sensor_layout(
    draft: _Draft, schema: WireSchema, profiles: list[ColumnProfile]
) -> dict[str, ColumnProfile]:
    """Readings without metric and value columns: melt the numbers, or one constant metric."""
    keep = tuple(f for f in schema.fields if f.name not in ("metric", "value"))
    mapped = _map_fields(keep, profiles)
    used = {p.name for p in mapped.values()}
    measures = [p for p in _measures(profiles) if p.name not in used]
    if len(measures) == 1:
        mapped["value"] = measures[0]
        draft.fields.append(
            _FieldLine("metric").add(
                "constant",
                PLACEHOLDER,
                f"TODO the metric code of {measures[0].name!r}, from the catalog "
                "or declared under catalog: metrics:",
            )
        )
        return mapped
    if measures:
        draft.layout = "wide"
        catalog = _catalog_metrics()
        draft.melt = [_melt_entry(p, catalog) for p in measures]
    return mapped


def _catalog_metrics() -> dict[str, str]:
    """Metric code -> lake unit, from the catalog."""
    from fieldhouse.contracts.catalog import load_catalog

    return {code: metric.unit for code, metric in load_catalog().metrics.items()}


def _melt_entry(profile: ColumnProfile, catalog: dict[str, str]) -> tuple[str, dict, str]:
    slug = "_".join(profile.words)
    stem = _METRIC_SYNONYMS.get(slug, slug)
    known = [c for c in sorted(catalog) if c == stem or c.startswith(f"{stem}_")]
    if known:
        code = known[0]
        comment = f"catalog unit {catalog[code]}: add unit: <the file's unit> if it differs"
        return profile.name, {"metric": code}, comment
    comment = "TODO not a catalog metric: pick one, or declare it under catalog: metrics:"
    return profile.name, {"metric": slug}, comment


def _melted_value_line(draft: _Draft) -> _FieldLine | None:
    """Sentinels of the melted columns, which all become the ``value`` field."""
    by_column = {p.name: p.sentinels for p in draft.profiles}
    codes = tuple(dict.fromkeys(s for column, _, _ in draft.melt for s in by_column[column]))
    if not codes:
        return None
    where = ", ".join(c for c, _, _ in draft.melt if by_column[c])
    line = _FieldLine("value")
    return line.add(*_sentinels("value", codes, required=True, seen=f"codes seen in {where}"))


def _sentinels(
    name: str, values: tuple[str, ...], *, required: bool, seen: str
) -> tuple[str, dict[str, Any], str]:
    """The ``sentinels`` entry of a field: emptied if it may be empty, else kept aside."""
    if required:
        # Emptying a required field quarantines the row anyway; this names the cause.
        why = f"{seen} for 'no value': rows kept aside as missing_value_sentinel:{name}"
        return "sentinels", {"values": list(values), "action": "quarantine"}, why
    why = f"{seen} for 'no value': emptied; or action: quarantine to keep those rows aside"
    return "sentinels", {"values": list(values), "action": "null"}, why


def _from_column(spec: Field, profile: ColumnProfile) -> _FieldLine:
    """A field read from a column, with what its text needs: format, zone, sentinels, ISO codes."""
    line = _FieldLine(spec.name).add("column", profile.name)
    if profile.timed and not profile.offset:
        doubt = f"or {profile.alternative}? the sample reads both" if profile.alternative else ""
        line.add("format", profile.format, doubt)
        question = "the zone of these local times?"
        if profile.kind == "date":
            line.add("date_only", True)
            question = "midnight in which zone?"
        line.add("timezone", "UTC", f"{question} set an IANA name")
    if profile.sentinels:
        line.add(*_sentinels(spec.name, profile.sentinels, required=spec.required, seen="text"))
    if spec.name in _COUNTRY_FIELDS and not all(
        re.fullmatch(r"[A-Z]{2}", e) for e in profile.examples
    ):
        line.add("resolve", "country", "names to ISO 3166-1 codes through the catalog")
    elif spec.name == "destination_region":
        line.add("resolve", "region")
    return line


def _placeholder(name: str) -> _FieldLine:
    return _FieldLine(
        name,
        comment="TODO required, no column matches: a column, {constant: ...} "
        "or {file_name: '<regex with one group>'}",
    ).add("column", PLACEHOLDER)


def _identity(
    draft: _Draft, schema: WireSchema, mapped: dict[str, ColumnProfile]
) -> _FieldLine | None:
    """The key field: a column unique in the sample, else a hash of the fields naming a row."""
    key = schema.key
    if key is None:
        return None
    used = {p.name for name, p in mapped.items() if name != key}
    named = mapped.get(key)
    if draft.layout != "wide" and named is not None and not named.counter:
        line = _FieldLine(key).add("column", named.name)
        if not named.unique:
            line.comment = (
                f"repeats in the sample: repeated ids are quarantined as "
                f"duplicate_{key} or conflicting_{key}"
            )
        return line
    candidates = [
        p
        for p in draft.profiles
        if p.name
        and p.unique
        and not p.counter
        and p.name not in used
        and p.kind in ("integer", "text")
    ]
    candidates = [p for p in candidates if set(p.words) & _ID_WORDS or p.kind == "integer"]
    if draft.layout != "wide" and candidates:
        return _FieldLine(key, comment="unique in the sample").add("column", candidates[0].name)
    parts = _hash_parts(schema, mapped)
    reason = "a reading per row and metric" if draft.layout == "wide" else "no column is unique"
    return _FieldLine(
        key,
        comment=f"{reason}: an id from these fields; drop any that can change between "
        "two sends of the same record",
    ).add("hash", parts)


def _hash_parts(schema: WireSchema, mapped: dict[str, ColumnProfile]) -> list[str]:
    """The text fields (who, what) and the main time field (when) of a record."""
    from fieldhouse.quality.core import Kind

    text = [
        f.name
        for f in schema.fields
        if f.kind is Kind.TEXT and (f.required or f.name in mapped) and f.name != schema.key
    ]
    times = [
        f.name
        for f in schema.fields
        if f.kind is Kind.TIMESTAMP and (f.required or f.name in mapped)
    ]
    return [*text, *times[:1]]


# --- writing YAML ----------------------------------------------------------------------


def _flow(value: Any) -> str:
    """A YAML scalar or flow collection on one line, quoted where YAML needs it."""
    text = yaml.safe_dump(
        value, default_flow_style=True, sort_keys=False, allow_unicode=True, width=1 << 20
    )
    return text.strip().removesuffix("...").strip()


def _with_comment(text: str, comment: str) -> str:
    return f"{text}  # {comment}" if comment else text


def _render(draft: _Draft, path: Path) -> str:
    """The draft as YAML text, comments included."""
    lines = [
        f"# Proposed from {path.name} ({len(draft.sample.rows)} sample rows) by",
        "# `python -m fieldhouse contract infer`. Check every line marked TODO or with a",
        "# question, then `python -m fieldhouse contract check` (see contracts/README.md).",
    ]
    if not path.name.lower().removesuffix(".gz").endswith(LANDING_SUFFIXES):
        lines.append(f"# Landing files end in one of {', '.join(LANDING_SUFFIXES)}: rename it.")
    guessed = "" if draft.dataset_reason == "given" else f"guessed: {draft.dataset_reason}"
    lines += [
        f"name: {draft.name}",
        _with_comment(f"dataset: {draft.dataset}", guessed),
        f"landing: {draft.name}",
        "description: >",
        *_description(draft),
    ]
    if draft.file:
        lines.append("file:")
        lines += [_file_line(key, value, why) for key, (value, why) in draft.file.items()]
    if draft.layout == "wide":
        lines += ["layout: wide  # one column per metric: each row becomes a reading per column"]
        lines.append("melt:")
        lines += [
            _with_comment(f"  {_flow(column)}: {_flow(spec)}", comment)
            for column, spec, comment in draft.melt
        ]
    lines.append("fields:")
    for line in draft.fields:
        lines += _field_lines(line)
    lines += _register_hint(draft)
    lines += _column_table(draft)
    return "\n".join(lines) + "\n"


def _file_line(key: str, value: Any, comment: str) -> str:
    # Separators double-quoted (a JSON string is YAML): a bare ; or , is easy to misread.
    text = json.dumps(value) if isinstance(value, str) else _flow(value)
    return _with_comment(f"  {key}: {text}", comment)


def _description(draft: _Draft) -> list[str]:
    sample = draft.sample
    facts = [f"{len(sample.columns)} columns", *sample.notes]
    return [
        f"  {PLACEHOLDER}: what these files are, who sends them and how often.",
        f"  Seen in the sample: {'; '.join(facts)}.",
    ]


def _field_lines(line: _FieldLine) -> list[str]:
    out = [f"  # {line.comment}"] if line.comment else []
    if len(line.entries) == 1 and line.entries[0][0] == "column" and not line.entries[0][2]:
        return [*out, f"  {line.name}: {_flow(line.entries[0][1])}"]
    out.append(f"  {line.name}:")
    out += [
        _with_comment(f"    {key}: {_flow(value)}", comment) for key, value, comment in line.entries
    ]
    return out


_REGISTER_HINTS = {
    "devices": "devices: {device_kind: TODO, site: TODO}",
    "instruments": "instruments: {calendar: daily, asset_class: equity, currency: USD, "
    "has_volume: true}",
}


def _register_hint(draft: _Draft) -> list[str]:
    if draft.register not in _REGISTER_HINTS:
        return []
    return [
        f"# Ids not yet in the {draft.register} registry are quarantined; to register them",
        "# on first sight instead, uncomment and complete:",
        "# register:",
        f"#   {_REGISTER_HINTS[draft.register]}",
    ]


def _column_table(draft: _Draft) -> list[str]:
    out = ["", "# Columns in the sample (kind, format, distinct values, empty cells, sentinels):"]
    for p in draft.profiles:
        name = p.name or "(unnamed)"
        detail = [p.kind + (" with offset" if p.offset else "")]
        if p.format:
            detail.append(p.format)
        if p.counter:
            detail.append("row counter")
        elif p.unique:
            detail.append("unique")
        detail.append(f"{p.distinct} distinct")
        if p.rows - p.filled:
            detail.append(f"{p.rows - p.filled} empty")
        if p.sentinels:
            detail.append(f"sentinels {list(p.sentinels)}")
        out.append(f"#   {name}: {', '.join(detail)}")
    out += [f"# Note: {note}" for note in draft.notes]
    return out
