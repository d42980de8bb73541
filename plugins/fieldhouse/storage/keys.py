"""Every object key in the platform is built here, and only here.

Buckets are the zones of the data flow (landing, raw, quarantine, lake, models,
reports). Inside raw and quarantine, datasets are partitioned Hive-style by the
logical interval they were ingested for::

    raw/sensors/readings/dt=2026-11-22/hour=13/part-0.parquet

so that a rerun of one interval rewrites exactly one prefix, and DuckDB reads the
partition columns back with ``hive_partitioning``.
"""

from __future__ import annotations

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
    """Reference data of one source that is replaced whole, not partitioned."""

    source: str
    entity: str

    @property
    def key(self) -> ObjectKey:
        return ObjectKey(Bucket.RAW, f"{self.source}/{self.entity}/current.parquet")


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

    def incoming(self, filename: str) -> ObjectKey:
        return ObjectKey(Bucket.LANDING, f"{self.incoming_prefix}{filename}")


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


SENSOR_READINGS = Dataset("sensors", "readings")
SENSOR_ANOMALY_LABELS = Dataset("sensors", "anomaly_labels")
SENSOR_DEVICES = Reference("sensors", "devices")
SENSOR_LANDING = LandingArea("sensors")

MARKET_PRICE_BARS = Dataset("market", "price_bars")
MARKET_PRICE_LABELS = Dataset("market", "price_labels")
MARKET_INSTRUMENTS = Reference("market", "instruments")
MARKET_LANDING = LandingArea("market_prices")

COMMERCE_ORDERS = Dataset("commerce", "orders")
COMMERCE_SHIPMENT_EVENTS = Dataset("commerce", "shipment_events")
COMMERCE_DELIVERY_LABELS = Dataset("commerce", "delivery_labels")
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


@dataclass(frozen=True)
class ModelRegistryKeys:
    """Where one named model keeps its versions, its champion pointer and its decisions."""

    model_name: str

    def __post_init__(self) -> None:
        if not self.model_name or "/" in self.model_name:
            raise ValueError(f"model names are flat and non-empty, got {self.model_name!r}")

    @property
    def prefix(self) -> str:
        return f"{self.model_name}/"

    @property
    def versions_prefix(self) -> str:
        return f"{self.prefix}versions/"

    def version_prefix(self, version: str) -> str:
        if not version or "/" in version:
            raise ValueError(f"version ids are flat and non-empty, got {version!r}")
        return f"{self.versions_prefix}{version}/"

    def artifact(self, version: str) -> ObjectKey:
        return ObjectKey(Bucket.MODELS, f"{self.version_prefix(version)}model.joblib")

    def card(self, version: str) -> ObjectKey:
        return ObjectKey(Bucket.MODELS, f"{self.version_prefix(version)}card.json")

    @property
    def champion(self) -> ObjectKey:
        return ObjectKey(Bucket.MODELS, f"{self.prefix}champion.json")

    def decision(self, version: str) -> ObjectKey:
        return ObjectKey(Bucket.MODELS, f"{self.prefix}decisions/{version}.json")

    def run(self, run_key: str) -> ObjectKey:
        """Which version a training run (keyed by its logical date) registered."""
        if not run_key:
            raise ValueError("run keys are non-empty")
        # Logical dates carry ':' and '+'; keep keys to plain characters.
        flat = "".join(c if c.isalnum() or c in "._-" else "_" for c in run_key)
        return ObjectKey(Bucket.MODELS, f"{self.prefix}runs/{flat}.json")
