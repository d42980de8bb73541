"""Object storage access: MinIO (or any S3) with retries and whole-object writes.

S3 makes a single PUT visible all at once or not at all, so every write here is
one PUT of a fully built body: no reader ever sees half a Parquet file under a
raw key. A partition is replaced by writing its new objects first and deleting
stale ones after, so readers see the old or the new files, never none.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import urllib3
from minio import Minio
from minio.commonconfig import CopySource
from minio.error import S3Error
from tenacity import (
    Retrying,
    before_sleep_log,
    retry_if_exception,
    stop_after_delay,
    wait_exponential,
)

from fieldhouse.config import StorageSettings
from fieldhouse.storage.keys import Bucket, ObjectKey

log = logging.getLogger(__name__)

# S3 error codes that mean "try again", as opposed to "you asked for something wrong".
_TRANSIENT_CODES = {
    "SlowDown",
    "ServiceUnavailable",
    "InternalError",
    "RequestTimeout",
    "XMinioServerNotInitialized",
    "XMinioReadQuorum",
    "XMinioWriteQuorum",
}


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, S3Error):
        return exc.code in _TRANSIENT_CODES
    return isinstance(exc, (urllib3.exceptions.HTTPError, ConnectionError, TimeoutError))


def _retrying(method):
    """Run ``method`` under the store's retry policy."""

    def wrapper(self: ObjectStore, *args, **kwargs):
        return self._retry(method, self, *args, **kwargs)

    wrapper.__doc__, wrapper.__name__ = method.__doc__, method.__name__
    return wrapper


@dataclass(frozen=True)
class StoredObject:
    key: ObjectKey
    size: int
    etag: str


class ObjectStore:
    """The few object operations the platform needs, each retried on transient errors."""

    def __init__(self, settings: StorageSettings, *, retry_deadline: float = 60) -> None:
        """``retry_deadline``: seconds to keep retrying a transient failure.

        The default outlives a MinIO restart without hiding a real outage: after
        the deadline the error surfaces and Airflow's task retries take over.
        """
        self.settings = settings
        self._retry = Retrying(
            retry=retry_if_exception(_is_transient),
            wait=wait_exponential(multiplier=0.25, max=5),
            stop=stop_after_delay(retry_deadline),
            before_sleep=before_sleep_log(log, logging.WARNING),
            reraise=True,
        )
        # A short connect timeout with few urllib3 retries: tenacity owns the retry
        # policy, so a dead server is reported after one bounded, logged back-off.
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=3, read=120),
            retries=urllib3.Retry(
                total=2, backoff_factor=0.1, status_forcelist=[500, 502, 503, 504]
            ),
            maxsize=8,
        )
        self.client = Minio(
            settings.endpoint,
            access_key=settings.access_key,
            secret_key=settings.secret_key,
            secure=settings.secure,
            region=settings.region,
            http_client=http,
        )

    @_retrying
    def put_bytes(
        self, key: ObjectKey, body: bytes, content_type: str = "application/octet-stream"
    ) -> None:
        self.client.put_object(
            key.bucket, key.key, io.BytesIO(body), len(body), content_type=content_type
        )

    def put_json(self, key: ObjectKey, payload: Mapping) -> None:
        body = json.dumps(payload, indent=2, sort_keys=True, default=str).encode()
        self.put_bytes(key, body, "application/json")

    @_retrying
    def get_bytes(self, key: ObjectKey) -> bytes:
        response = self.client.get_object(key.bucket, key.key)
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()

    @_retrying
    def download(self, key: ObjectKey, path: str) -> None:
        """Copy an object to a local file, streaming: memory does not grow with its size."""
        self.client.fget_object(key.bucket, key.key, path)

    def get_json(self, key: ObjectKey) -> dict:
        return json.loads(self.get_bytes(key))

    @_retrying
    def exists(self, key: ObjectKey) -> bool:
        try:
            self.client.stat_object(key.bucket, key.key)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject"):
                return False
            raise
        return True

    @_retrying
    def list(self, bucket: Bucket, prefix: str, recursive: bool = True) -> list[StoredObject]:
        return [
            StoredObject(ObjectKey(bucket, o.object_name), o.size or 0, o.etag or "")
            for o in self.client.list_objects(bucket, prefix=prefix, recursive=recursive)
            if not o.is_dir
        ]

    @_retrying
    def has_objects(self, bucket: Bucket, prefix: str) -> bool:
        """Whether anything is stored under ``prefix`` (stops at the first object)."""
        objects = self.client.list_objects(bucket, prefix=prefix, recursive=True)
        return next(iter(objects), None) is not None

    @_retrying
    def delete(self, key: ObjectKey) -> None:
        self.client.remove_object(key.bucket, key.key)

    @_retrying
    def copy(self, source: ObjectKey, target: ObjectKey) -> None:
        self.client.copy_object(target.bucket, target.key, CopySource(source.bucket, source.key))

    def move(self, source: ObjectKey, target: ObjectKey) -> None:
        """Copy then delete: if interrupted, the object exists twice, never zero times."""
        self.copy(source, target)
        self.delete(source)

    def replace_prefix(
        self, bucket: Bucket, prefix: str, objects: Mapping[ObjectKey, bytes | Path]
    ) -> list[ObjectKey]:
        """Make ``prefix`` hold exactly ``objects``; returns the stale keys removed.

        A body may be a local file, read when it is uploaded (one at a time).
        """
        for key in objects:
            if key.bucket != bucket or not key.key.startswith(prefix):
                raise ValueError(f"{key} is outside s3://{bucket}/{prefix}")
        for key, body in objects.items():
            self.put_bytes(key, body.read_bytes() if isinstance(body, Path) else body)
        stale = [o.key for o in self.list(bucket, prefix) if o.key not in objects]
        for key in stale:
            self.delete(key)
        return stale

    @_retrying
    def ensure_buckets(self, buckets: Iterable[Bucket] = tuple(Bucket)) -> list[str]:
        """Create missing buckets; returns the ones created. Needs a privileged account."""
        created = []
        for bucket in buckets:
            if not self.client.bucket_exists(bucket):
                self.client.make_bucket(bucket)
                created.append(str(bucket))
        return created
