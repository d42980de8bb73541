"""Every object key in the platform is built here, and only here.

Buckets are the zones of the data flow (landing, raw, quarantine, lake, models,
reports). Inside raw and quarantine, datasets are partitioned Hive-style by the
logical interval they were ingested for::

    raw/sensors/readings/dt=2026-11-22/hour=13/part-0.parquet

so that a rerun of one interval rewrites exactly one prefix, and DuckDB reads the
partition columns back with ``hive_partitioning``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum


class Bucket(StrEnum):
    LANDING = "landing"
    RAW = "raw"
    QUARANTINE = "quarantine"
    LAKE = "lake"
    MODELS = "models"
    REPORTS = "reports"


@dataclass(frozen=True, order=True)
class Interval:
    """A half-open logical interval [start, end) in UTC."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if value.tzinfo is None:
                raise ValueError(f"Interval.{name} must be timezone-aware, got {value!r}")
            # Via ISO text, so pendulum datetimes (Airflow's) become plain ones:
            # pendulum arithmetic with stdlib UTC can drop the zone.
            plain = datetime.fromisoformat(value.isoformat()).astimezone(UTC)
            object.__setattr__(self, name, plain)
        if self.end <= self.start:
            raise ValueError(f"empty interval: {self.start} .. {self.end}")

    @classmethod
    def hour_of(cls, moment: datetime) -> Interval:
        """The hour containing ``moment``."""
        moment = datetime.fromisoformat(moment.isoformat()).astimezone(UTC)
        start = moment.replace(minute=0, second=0, microsecond=0)
        return cls(start, start + timedelta(hours=1))

    @classmethod
    def parse(cls, start: str, end: str | None = None) -> Interval:
        """From ISO-8601 text; without ``end`` the interval is one hour."""
        begin = datetime.fromisoformat(start)
        if begin.tzinfo is None:
            begin = begin.replace(tzinfo=UTC)
        if end is None:
            return cls(begin, begin + timedelta(hours=1))
        finish = datetime.fromisoformat(end)
        return cls(begin, finish if finish.tzinfo else finish.replace(tzinfo=UTC))

    def hours(self) -> list[Interval]:
        """Split into whole hours (the partition grain)."""
        first = Interval.hour_of(self.start)
        out, cursor = [], first
        while cursor.start < self.end:
            out.append(cursor)
            cursor = Interval(cursor.end, cursor.end + timedelta(hours=1))
        return out

    @property
    def partition(self) -> str:
        """The Hive partition path of the hour this interval starts in."""
        if self.end - self.start != timedelta(hours=1) or self.start.minute:
            raise ValueError(f"partitions are hourly; split {self} with .hours() first")
        return f"dt={self.start:%Y-%m-%d}/hour={self.start:%H}"

    def __str__(self) -> str:
        return f"{self.start.isoformat()}/{self.end.isoformat()}"


@dataclass(frozen=True)
class ObjectKey:
    bucket: Bucket
    key: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def __str__(self) -> str:
        return self.uri


@dataclass(frozen=True)
class Dataset:
    """A named dataset of one source, partitioned by ingest interval."""

    source: str  # e.g. "sensors"
    entity: str  # e.g. "readings"

    @property
    def path(self) -> str:
        return f"{self.source}/{self.entity}"

    def prefix(self, interval: Interval) -> str:
        return f"{self.path}/{interval.partition}/"

    def part(self, bucket: Bucket, interval: Interval, index: int = 0) -> ObjectKey:
        return ObjectKey(bucket, f"{self.prefix(interval)}part-{index}.parquet")

    def raw(self, interval: Interval, index: int = 0) -> ObjectKey:
        return self.part(Bucket.RAW, interval, index)

    def quarantine(self, interval: Interval, index: int = 0) -> ObjectKey:
        return self.part(Bucket.QUARANTINE, interval, index)

    def manifest(self, interval: Interval) -> ObjectKey:
        """Counts and object list of the last successful ingest of ``interval``."""
        return ObjectKey(Bucket.RAW, f"_manifests/{self.prefix(interval)}manifest.json")

    def uri(self, bucket: Bucket = Bucket.RAW) -> str:
        """The dataset as a whole, e.g. for an Airflow Asset."""
        return f"s3://{bucket}/{self.path}/"

    def glob(self, bucket: Bucket = Bucket.RAW) -> str:
        """The URI pattern that reads every partition (DuckDB / dbt sources)."""
        return f"s3://{bucket}/{self.path}/*/*/*.parquet"

    def manifest_glob(self) -> str:
        return f"s3://{Bucket.RAW}/_manifests/{self.path}/*/*/manifest.json"


@dataclass(frozen=True)
class Reference:
    """A registry of one source (devices, instruments, customers), merged from many writers.

    Each file or run that registers entries writes its own object, so registries
    are merged across files and runs and never replaced by the latest one.
    """

    source: str
    entity: str

    @property
    def prefix(self) -> str:
        return f"{self.source}/{self.entity}/"

    def registered(self, slug: str) -> ObjectKey:
        """The entries one writer registered; ``slug`` is one path segment."""
        if not slug or "/" in slug or slug.startswith("."):
            raise ValueError(f"a registry writer's slug is one path segment, got {slug!r}")
        return ObjectKey(Bucket.RAW, f"{self.prefix}registered_by={slug}/part-0.parquet")

    def writer_prefix(self, slug: str) -> str:
        """The folder holding everything one writer registered (to remove it whole)."""
        key = self.registered(slug).key
        return key[: key.rindex("/") + 1]

    def glob(self) -> str:
        """The URI pattern that reads every writer's entries (DuckDB / dbt sources)."""
        return f"s3://{Bucket.RAW}/{self.prefix}*/*.parquet"


@dataclass(frozen=True)
class LandingArea:
    """Where outside systems drop files for one source, and where they go after."""

    source: str

    @property
    def incoming_prefix(self) -> str:
        return f"{self.source}/"

    def claimed_prefix(self, interval: Interval) -> str:
        return f"_processed/{self.source}/{interval.partition}/"

    def claimed(self, interval: Interval, filename: str) -> ObjectKey:
        if "/" in filename:
            raise ValueError(f"landing file names are flat, got {filename!r}")
        return ObjectKey(Bucket.LANDING, f"{self.claimed_prefix(interval)}{filename}")

    def rejected(self, interval: Interval, filename: str) -> ObjectKey:
        """Where a whole unreadable file is kept, byte for byte."""
        return ObjectKey(Bucket.QUARANTINE, f"{self.source}/files/{interval.partition}/{filename}")

    def refused(self, filename: str) -> ObjectKey:
        """Where a file that is read whole on every run (a registry) goes when unusable."""
        return ObjectKey(Bucket.QUARANTINE, f"{self.source}/files/{filename}")

    def refused_reason(self, filename: str) -> ObjectKey:
        return ObjectKey(Bucket.QUARANTINE, f"{self.source}/files/{filename}.reason.json")

    def incoming(self, filename: str) -> ObjectKey:
        return ObjectKey(Bucket.LANDING, f"{self.incoming_prefix}{filename}")

    @property
    def claims_prefix(self) -> str:
        """Every hour's claims of this area."""
        return f"_processed/{self.source}/"

    @property
    def retracted_prefix(self) -> str:
        return f"_retracted/{self.source}/"

    def retracted(self, filename: str) -> ObjectKey:
        """Where a retracted file is kept: outside every hour's claim, so no rerun reads it."""
        if "/" in filename:
            raise ValueError(f"landing file names are flat, got {filename!r}")
        return ObjectKey(Bucket.LANDING, f"{self.retracted_prefix}{filename}")


class LandingState(StrEnum):
    WAITING = "waiting"  # dropped, not yet claimed by an hour
    CLAIMED = "claimed"  # claimed by the hour in ``LandingFile.hour``
    RETRACTED = "retracted"


@dataclass(frozen=True)
class LandingFile:
    """A file of the landing bucket, as its key places it: area, state, hour, name."""

    area: LandingArea
    name: str
    state: LandingState
    hour: Interval | None = None  # the hour that claimed it

    @property
    def key(self) -> ObjectKey:
        if self.state is LandingState.CLAIMED:
            if self.hour is None:
                raise ValueError(f"claimed file {self.name!r} needs the hour that claimed it")
            return self.area.claimed(self.hour, self.name)
        if self.state is LandingState.RETRACTED:
            return self.area.retracted(self.name)
        return self.area.incoming(self.name)


_LANDING_KEY = re.compile(
    r"_processed/(?P<claimed>[^/]+)/dt=(?P<day>\d{4}-\d{2}-\d{2})/hour=(?P<hour>\d{2})/(?P<c>[^/]+)"
    r"|_retracted/(?P<retracted>[^/]+)/(?P<r>[^/]+)"
    r"|(?P<waiting>[^/._][^/]*)/(?P<w>[^/._][^/]*)"
)


def parse_landing_key(key: str) -> LandingFile | None:
    """The landing file a key of the landing bucket names, or None for any other key."""
    match = _LANDING_KEY.fullmatch(key)
    if match is None:
        return None
    if match["claimed"]:
        hour = Interval.parse(f"{match['day']}T{match['hour']}:00:00+00:00")
        found = LandingFile(LandingArea(match["claimed"]), match["c"], LandingState.CLAIMED, hour)
    elif match["retracted"]:
        found = LandingFile(LandingArea(match["retracted"]), match["r"], LandingState.RETRACTED)
    else:
        found = LandingFile(LandingArea(match["waiting"]), match["w"], LandingState.WAITING)
    # The key builders above are the layout; a key they would not build is not a landing file.
    return found if found.key.key == key else None


@dataclass(frozen=True)
class CheckReport:
    """The reports of one monitoring check, one folder per run.

    Each run writes an HTML page for people and a JSON document for machines.
    """

    check_name: str  # e.g. "sensor_feature_drift"

    def __post_init__(self) -> None:
        self._require_segment("check_name", self.check_name)

    def prefix(self, run_id: str) -> str:
        self._require_segment("run_id", run_id)
        return f"{self.check_name}/{run_id}/"

    def html(self, run_id: str) -> ObjectKey:
        return ObjectKey(Bucket.REPORTS, f"{self.prefix(run_id)}report.html")

    def json(self, run_id: str) -> ObjectKey:
        return ObjectKey(Bucket.REPORTS, f"{self.prefix(run_id)}report.json")

    @staticmethod
    def _require_segment(name: str, value: str) -> None:
        # One path segment each, so a run can never write into another run's folder.
        if not value or "/" in value:
            raise ValueError(f"{name} must be a non-empty name without '/', got {value!r}")


_SLUG_MAX = 120


def registry_slug(origin: str) -> str:
    """The one path segment naming a registry writer, from its origin (``landing:devices.csv``).

    Lowercase, characters outside ``[a-z0-9._-]`` (and a leading dot) become ``-``,
    at most 120 characters. When anything had to change, a short hash of the origin
    ends the slug, so two origins that only differ in what was replaced never share one.
    """
    if not origin:
        raise ValueError("a registry writer's origin is non-empty")
    slug = re.sub(r"[^a-z0-9._-]", "-", origin.lower())
    if slug.startswith("."):
        slug = "-" + slug[1:]  # Reference.registered refuses hidden names
    if slug == origin and len(slug) <= _SLUG_MAX:
        return slug
    digest = hashlib.sha256(origin.encode()).hexdigest()[:8]
    return f"{slug[: _SLUG_MAX - len(digest) - 1]}-{digest}"


SENSOR_READINGS = Dataset("sensors", "readings")
SENSOR_ANOMALY_LABELS = Dataset("sensors", "anomaly_labels")
SENSOR_ANOMALY_WINDOWS = Dataset("sensors", "anomaly_windows")
SENSOR_DEVICES = Reference("sensors", "devices")
SENSOR_LANDING = LandingArea("sensors")

MARKET_PRICE_BARS = Dataset("market", "price_bars")
MARKET_PRICE_LABELS = Dataset("market", "price_labels")
MARKET_INSTRUMENTS = Reference("market", "instruments")
MARKET_LANDING = LandingArea("market_prices")

COMMERCE_ORDERS = Dataset("commerce", "orders")
COMMERCE_SHIPMENT_EVENTS = Dataset("commerce", "shipment_events")
COMMERCE_DELIVERY_LABELS = Dataset("commerce", "delivery_labels")
COMMERCE_SHIPMENTS = Dataset("commerce", "shipments")
COMMERCE_ORDERS_LANDING = LandingArea("commerce_orders")
COMMERCE_SHIPMENTS_LANDING = LandingArea("commerce_shipments")

FINANCE_TRANSACTIONS = Dataset("finance", "transactions")
FINANCE_CHARGEBACKS = Dataset("finance", "chargebacks")
FINANCE_TRANSACTION_LABELS = Dataset("finance", "transaction_labels")
FINANCE_CUSTOMERS = Reference("finance", "customers")
FINANCE_TRANSACTIONS_LANDING = LandingArea("finance_transactions")
FINANCE_CHARGEBACKS_LANDING = LandingArea("finance_chargebacks")

# The raw dataset whose presence means a dbt domain (tag) has data to build.
DOMAIN_DATASETS = {
    "sensors": SENSOR_READINGS,
    "market": MARKET_PRICE_BARS,
    "commerce": COMMERCE_ORDERS,
    "finance": FINANCE_TRANSACTIONS,
}
