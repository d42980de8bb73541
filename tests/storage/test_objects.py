"""Object store behaviour against a real MinIO server."""

from __future__ import annotations

import pytest
from minio.error import S3Error

from fieldhouse.storage.keys import Bucket, ObjectKey
from fieldhouse.storage.objects import ObjectStore

pytestmark = pytest.mark.integration


def test_replace_prefix_leaves_exactly_the_new_objects(store: ObjectStore) -> None:
    old = {ObjectKey(Bucket.RAW, f"t/p/part-{i}.parquet"): b"old" for i in range(3)}
    store.replace_prefix(Bucket.RAW, "t/p/", old)
    new_key = ObjectKey(Bucket.RAW, "t/p/part-0.parquet")
    removed = store.replace_prefix(Bucket.RAW, "t/p/", {new_key: b"new"})

    assert sorted(k.key for k in removed) == ["t/p/part-1.parquet", "t/p/part-2.parquet"]
    assert [o.key for o in store.list(Bucket.RAW, "t/p/")] == [new_key]
    assert store.get_bytes(new_key) == b"new"


def test_replace_prefix_refuses_keys_outside_the_prefix(store: ObjectStore) -> None:
    with pytest.raises(ValueError, match="outside"):
        store.replace_prefix(Bucket.RAW, "a/", {ObjectKey(Bucket.RAW, "b/x"): b"x"})
    assert store.list(Bucket.RAW, "") == []


def test_move_copies_then_deletes(store: ObjectStore) -> None:
    source, target = ObjectKey(Bucket.LANDING, "s/f.csv"), ObjectKey(Bucket.LANDING, "_p/f.csv")
    store.put_bytes(source, b"a,b\n")
    store.move(source, target)
    assert not store.exists(source)
    assert store.get_bytes(target) == b"a,b\n"


def test_pipeline_account_cannot_create_buckets(store: ObjectStore) -> None:
    with pytest.raises(S3Error) as error:
        store.client.make_bucket("not-a-platform-bucket")
    assert error.value.code == "AccessDenied"


def test_writes_wait_for_a_server_that_comes_up_late(
    stack_config, tmp_path, caplog: pytest.LogCaptureFixture
) -> None:
    """A store started before its server retries until the server answers."""
    import threading

    from fieldhouse import localstack

    late = localstack.StackConfig.load(
        tmp_path / "late",
        minio_port=localstack.free_port(),
        minio_console_port=localstack.free_port(),
    )
    store = ObjectStore(late.root_settings, retry_deadline=90)
    starter = threading.Timer(2.0, localstack.start_minio, args=(late,))
    starter.start()
    try:
        with caplog.at_level("WARNING", logger="fieldhouse.storage.objects"):
            store.ensure_buckets([Bucket.RAW])
            store.put_bytes(ObjectKey(Bucket.RAW, "late/x"), b"payload")
        assert store.get_bytes(ObjectKey(Bucket.RAW, "late/x")) == b"payload"
        assert any("Retrying" in r.getMessage() for r in caplog.records)
    finally:
        starter.join()
        late.service("minio").stop()


def test_a_dead_server_raises_after_the_deadline(tmp_path) -> None:
    from fieldhouse import localstack
    from fieldhouse.config import StorageSettings

    dead = StorageSettings(f"127.0.0.1:{localstack.free_port()}", "user", "secret-key")
    store = ObjectStore(dead, retry_deadline=2)
    with pytest.raises(Exception) as error:
        store.put_bytes(ObjectKey(Bucket.RAW, "never"), b"x")
    assert "Connection refused" in str(error.value) or "Max retries" in str(error.value)
