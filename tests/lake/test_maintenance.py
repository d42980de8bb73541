"""Maintenance on the real services: compaction and expiry, Airflow history, landing retention."""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fieldhouse import localstack
from fieldhouse.ingest.claims import PRUNED_MARKER, ClaimsPruned, claim_landing_files
from fieldhouse.lake import duckdb_connect, expire_snapshots
from fieldhouse.maintenance import clean_airflow_history, compact_lake, delete_processed_landing
from fieldhouse.storage.keys import Bucket, Interval, LandingArea, ObjectKey
from fieldhouse.storage.objects import ObjectStore

pytestmark = pytest.mark.integration

# More rows per insert than DuckLake inlines into its catalog (10), so each is a file.
ROWS_PER_INSERT = 50
INSERTS = 12
TABLE = "hourly_inserts"


@pytest.fixture
def lake_of_its_own(stack_config, minio_server, monkeypatch) -> str:
    """The session's PostgreSQL with a new catalog database: expiry here touches no other lake."""
    database = f"maintenance_{os.urandom(4).hex()}"
    localstack._create_database(stack_config, localstack.postgres_bin_dir(), database)
    monkeypatch.setenv("FIELDHOUSE_LAKE_CATALOG", f"postgres:{stack_config.postgres_dsn(database)}")
    return database


def _lake_key(data_file: str) -> ObjectKey:
    return ObjectKey(Bucket.LAKE, data_file.removeprefix(f"s3://{Bucket.LAKE}/"))


def _files(con) -> list[str]:
    rows = con.execute(f"select data_file from ducklake_list_files('lake', '{TABLE}')").fetchall()
    return [data_file for (data_file,) in rows]


def test_compaction_merges_small_files_and_expiry_deletes_the_ones_it_replaced(
    lake_of_its_own, stack_config, minio_server
) -> None:
    transform = stack_config.role_settings("transform")
    store = ObjectStore(minio_server)
    with duckdb_connect(transform) as con:
        con.execute(f"create table lake.main.{TABLE} (hour int, n bigint, label varchar)")
        for hour in range(INSERTS):
            con.execute(
                f"insert into lake.main.{TABLE} "
                f"select {hour}, range, 'reading ' || range from range({ROWS_PER_INSERT})"
            )
            if hour == 2:
                third_insert = con.execute(
                    "select max(snapshot_id) from ducklake_snapshots('lake')"
                ).fetchone()[0]
        small_files = _files(con)
        rows_before = con.execute(f"select * from lake.main.{TABLE} order by all").fetchall()
    assert len(small_files) == INSERTS

    compacted = compact_lake(transform)

    assert compacted == {
        "files_before": INSERTS,
        "files_after": 1,
        "files_merged": INSERTS,
        "files_created": 1,
    }
    with duckdb_connect(transform) as con:
        [merged] = _files(con)
        assert con.execute(f"select * from lake.main.{TABLE} order by all").fetchall() == (
            rows_before
        )
        # Time travel reads the merged file as the snapshot stood.
        as_then = con.execute(
            f"select count(*), max(hour) from lake.main.{TABLE} at (version => {third_insert})"
        ).fetchone()
        assert as_then == (3 * ROWS_PER_INSERT, 2)
    assert merged not in small_files
    # Replaced, not yet deleted: a query may still be scanning them.
    assert all(store.exists(_lake_key(f)) for f in small_files)

    expired = expire_snapshots(transform, keep=timedelta(0), grace=timedelta(0))

    assert expired["files_deleted"] == INSERTS
    assert expired["snapshots_after"] == 1 < expired["snapshots_before"]
    assert not any(store.exists(_lake_key(f)) for f in small_files)
    assert store.exists(_lake_key(merged))
    with duckdb_connect(transform) as con:
        assert con.execute(f"select * from lake.main.{TABLE} order by all").fetchall() == (
            rows_before
        )


def test_processed_landing_files_past_their_age_are_deleted_and_nothing_else(
    store, stack_config, caplog
) -> None:
    hour = Interval.parse("2026-11-20T05:00:00")
    sensors, orders = LandingArea("sensors"), LandingArea("commerce_orders")
    old = [sensors.claimed(hour, "gateway-1.csv"), orders.claimed(hour, "orders.jsonl")]
    untouched = [sensors.incoming("waiting.csv"), sensors.retracted("withdrawn.csv")]
    for i, key in enumerate(old + untouched):
        store.put_bytes(key, b"x" * (100 + i))
    # Object times are the store's: the boundary between old and new is a real moment.
    time.sleep(1.2)
    boundary = datetime.now(UTC)
    time.sleep(1.2)
    new = [sensors.claimed(Interval.parse("2026-11-20T06:00:00"), "gateway-2.csv")]
    store.put_bytes(new[0], b"new")
    keep = timedelta(days=30)

    with caplog.at_level(logging.INFO, logger="fieldhouse.maintenance"):
        report = delete_processed_landing(
            stack_config.role_settings("ingest"), keep, now=boundary + keep
        )

    assert report == {"files_deleted": 2, "bytes_deleted": 100 + 101, "files_kept": 1}
    markers = [
        ObjectKey(Bucket.LANDING, area.claimed_prefix(hour) + PRUNED_MARKER)
        for area in (sensors, orders)
    ]
    assert {o.key for o in store.list(Bucket.LANDING, "")} == {*new, *untouched, *markers}
    assert f"landing/{sensors.claims_prefix}: 1 files (100 bytes)" in caplog.text

    # A rerun of a pruned hour would rewrite raw without those rows: it is refused.
    with pytest.raises(ClaimsPruned, match=r"\(1 files\)") as refused:
        claim_landing_files(store, sensors, hour)
    assert "deleted by retention" in str(refused.value)
    assert store.exists(sensors.incoming("waiting.csv"))  # refused before claiming anything
    assert [
        f.name
        for f in claim_landing_files(
            store, sensors, Interval.parse("2026-11-20T06:00:00"), claim_new=False
        )
    ] == ["gateway-2.csv"]
    # The markers are not claimed files: a second pass deletes nothing.
    again = delete_processed_landing(
        stack_config.role_settings("ingest"), keep, now=boundary + keep
    )
    assert again["files_deleted"] == 0
    assert all(store.exists(marker) for marker in markers)


@pytest.fixture
def airflow_database(tmp_path: Path, monkeypatch) -> Path:
    """A migrated Airflow metadata database (SQLite) of its own, as Airflow's config names it."""
    database = tmp_path / "airflow.db"
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    monkeypatch.setenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{database}")
    airflow = Path(sys.executable).with_name("airflow")
    subprocess.run([str(airflow), "db", "migrate"], check=True, capture_output=True)
    return database


def test_airflow_history_older_than_its_days_is_deleted(airflow_database, caplog) -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    with sqlite3.connect(airflow_database) as db:
        for event, age in (("old_event", timedelta(days=45)), ("recent_event", timedelta(days=2))):
            db.execute(
                "insert into log (dttm, event) values (?, ?)",
                [(now - age).strftime("%Y-%m-%d %H:%M:%S.%f"), event],
            )

    with caplog.at_level(logging.INFO, logger="fieldhouse.maintenance"):
        report = clean_airflow_history(30, now=now)

    assert report["rows_deleted"] == 1 and report["tables_cleaned"] == 1
    assert report["tables_checked"] > 10
    with sqlite3.connect(airflow_database) as db:
        # (The command logs its own run there too.)
        kept = db.execute(
            "select event from log where event in ('old_event', 'recent_event')"
        ).fetchall()
    assert kept == [("recent_event",)]
    assert "1 rows deleted (log 1)" in caplog.text
