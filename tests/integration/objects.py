"""Reading back what ingestion wrote, for the integration tests."""

from __future__ import annotations

import pandas as pd

from fieldhouse.storage.keys import Bucket, Dataset, Interval
from fieldhouse.storage.objects import ObjectStore
from fieldhouse.storage.parquet import from_parquet_bytes


def object_etags(store: ObjectStore) -> dict[str, str]:
    """Every object in raw/ and quarantine/ with its ETag, manifests aside."""
    return {
        obj.key.uri: obj.etag
        for bucket in (Bucket.RAW, Bucket.QUARANTINE)
        for obj in store.list(bucket, "")
        if not obj.key.key.startswith("_manifests/")
    }


def read_all(store: ObjectStore, bucket: Bucket, prefix: str) -> pd.DataFrame:
    """Every Parquet object under ``prefix``, as one frame."""
    frames = [from_parquet_bytes(store.get_bytes(o.key)) for o in store.list(bucket, prefix)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def read_hours(store: ObjectStore, dataset: Dataset, interval: Interval) -> pd.DataFrame:
    """The raw partitions (every part) of ``dataset`` for every hour of ``interval``."""
    return pd.concat(
        [read_all(store, Bucket.RAW, dataset.prefix(h)) for h in interval.hours()],
        ignore_index=True,
    )
