"""A clean slate for a test: the data zones emptied and the model registry forgotten."""

from __future__ import annotations

from fieldhouse.config import StorageSettings
from fieldhouse.storage.keys import Bucket
from fieldhouse.storage.objects import ObjectStore


def empty_zones(settings: StorageSettings) -> ObjectStore:
    """Empty every bucket but the lake's and delete every registered model.

    The lake bucket is left alone: its files belong to the session's lake
    catalog. Returns the pipeline's object store.
    """
    from fieldhouse.ml import registry

    registry.forget_all_models()
    store = ObjectStore(settings)
    for bucket in set(Bucket) - {Bucket.LAKE}:
        for obj in store.list(bucket, ""):
            store.delete(obj.key)
    return store
