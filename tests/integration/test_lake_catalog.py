"""The lake catalog in PostgreSQL: many processes at once, conflicts redone, old lakes moved."""

from __future__ import annotations

import logging
import os
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import pytest

from fieldhouse import localstack
from fieldhouse.config import StorageSettings
from fieldhouse.lake import duckdb_connect, migrate_file_catalog, write_lake

pytestmark = pytest.mark.integration


@pytest.fixture
def fresh_catalog(stack_config, minio_server, monkeypatch) -> str:
    """A new, empty catalog database on the session's PostgreSQL, in the environment."""
    name = f"lake_{os.urandom(4).hex()}"
    localstack._create_database(stack_config, localstack.postgres_bin_dir(), name)
    catalog = f"postgres:{stack_config.postgres_dsn(name)}"
    monkeypatch.setenv("FIELDHOUSE_LAKE_CATALOG", catalog)
    return catalog


def _attach_and_count(settings: StorageSettings) -> int:
    with duckdb_connect(settings) as con:
        sql = "select count(*) from duckdb_tables() where database_name = 'lake'"
        return con.execute(sql).fetchone()[0]


def _replace_many(settings: StorageSettings, table: str, times: int) -> int:
    """Replace ``table`` ``times`` times; returns how many commits had to be redone."""
    redone = []

    class Count(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "lake commit conflict" in record.getMessage():
                redone.append(record.getMessage())

    logging.getLogger("fieldhouse.lake").addHandler(Count())
    for i in range(times):
        write_lake(
            settings,
            lambda con, i=i: con.execute(
                f"create or replace table {table} as "
                f"select {i} as version, range as n from range(50)"
            ),
            what=f"replace {table}",
        )
    return len(redone)


def test_installed_extensions_are_not_installed_again() -> None:
    from fieldhouse.lake import install_duckdb_extensions

    install_duckdb_extensions()
    # postgres is installed as postgres_scanner; it must be found by its alias.
    assert install_duckdb_extensions() == []


def test_processes_attaching_a_new_catalog_at_once_all_succeed(fresh_catalog, minio_server) -> None:
    with ProcessPoolExecutor(4, mp_context=get_context("spawn")) as pool:
        results = [pool.submit(_attach_and_count, minio_server) for _ in range(4)]
        for result in results:
            result.result()  # raises if any attach failed


def test_writers_of_one_table_at_once_all_land(fresh_catalog, minio_server) -> None:
    with duckdb_connect(minio_server) as con:
        con.execute("create table lake.main.contested (version int, n bigint)")
    with ProcessPoolExecutor(3, mp_context=get_context("spawn")) as pool:
        redone = [
            pool.submit(_replace_many, minio_server, "lake.main.contested", 8) for _ in range(3)
        ]
        redone = [r.result() for r in redone]
    with duckdb_connect(minio_server) as con:
        rows, versions = con.execute(
            "select count(*), count(distinct version) from lake.main.contested"
        ).fetchone()
        snapshots = con.execute("select count(*) from ducklake_snapshots('lake')").fetchone()[0]
    # The last replacement wins whole: one version, all its rows.
    assert (rows, versions) == (50, 1)
    # 24 replacements and the create, each its own snapshot, none lost.
    assert snapshots >= 25, (snapshots, redone)


def test_a_lake_in_an_old_catalog_file_moves_into_postgres(
    fresh_catalog, minio_server, tmp_path: Path, monkeypatch
) -> None:
    old_file = tmp_path / "catalog.ducklake"
    with monkeypatch.context() as patch:
        patch.setenv("FIELDHOUSE_LAKE_CATALOG", str(old_file))
        with duckdb_connect(minio_server) as con:
            con.execute("create table lake.main.kept as select range as n from range(1000)")
            con.execute("delete from lake.main.kept where n < 10")
            con.execute("create view lake.main.kept_view as select count(*) c from lake.main.kept")

    assert migrate_file_catalog(minio_server, old_file) >= 1
    assert not old_file.exists() and old_file.with_name("catalog.ducklake.migrated").exists()
    with duckdb_connect(minio_server) as con:
        assert con.execute("select count(*), min(n) from lake.main.kept").fetchone() == (990, 10)
    # A second run finds tables already there and copies nothing.
    old_file.with_name("catalog.ducklake.migrated").rename(old_file)
    assert migrate_file_catalog(minio_server, old_file) == 0
    assert old_file.exists()
