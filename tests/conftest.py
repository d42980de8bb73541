"""Session fixtures: one real MinIO server for the whole test run."""

from __future__ import annotations

import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from fieldhouse import localstack
from fieldhouse.config import StorageSettings
from fieldhouse.storage.objects import ObjectStore
from tests.zones import empty_zones


def stack_home(prefix: str) -> Iterator[Path]:
    """A stack's home of its own, removed afterwards.

    Not under pytest's temporary folder: a later pytest run resets that folder to
    owner-only, and PostgreSQL (run as its own account when tests run as root)
    would lose its way to its data, mid-session.
    """
    home = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)


STACK_PORTS = (
    "minio_port",
    "minio_console_port",
    "airflow_port",
    "docs_port",
    "postgres_port",
    "mlflow_port",
    "evidently_port",
    "scheduler_health_port",
)


def free_ports(*names: str) -> dict[str, int]:
    """A free loopback port for each named setting, so tests never touch `make up`'s stack."""
    return {name: localstack.free_port() for name in names}


@pytest.fixture(scope="session")
def stack_config() -> Iterator[localstack.StackConfig]:
    """An isolated stack home with free ports."""
    for home in stack_home("fieldhouse-test-"):
        yield localstack.StackConfig.load(home, **free_ports(*STACK_PORTS))


@pytest.fixture(scope="session")
def lake_catalog(stack_config: localstack.StackConfig) -> Iterator[str]:
    """A real PostgreSQL server holding the lake's DuckLake catalog, as `make up` runs it."""
    catalog = localstack.start_postgres(stack_config)
    try:
        yield catalog
    finally:
        stack_config.service("postgres").stop(sig=signal.SIGINT)


@pytest.fixture(scope="session")
def minio_server(
    stack_config: localstack.StackConfig, lake_catalog: str
) -> Iterator[StorageSettings]:
    """A real MinIO server on loopback, provisioned like `make up` does it, MLflow and Evidently.

    Yields the pipeline account's settings (not root): tests see what tasks see,
    with the lake catalog's location, the MLflow tracking server (SQLite,
    artifacts in MinIO) and the Evidently UI in the environment.
    """
    from fieldhouse.__main__ import build_minio

    build_minio()
    localstack.start_minio(stack_config)
    try:
        pipeline = localstack.provision_minio(stack_config)
        localstack.start_mlflow(stack_config)
        localstack.start_evidently(stack_config)
        with pytest.MonkeyPatch.context() as patch:
            for name, value in stack_config.pipeline_env().items():
                patch.setenv(name, value)
            yield pipeline
    finally:
        for service in ("evidently", "mlflow", "minio"):
            stack_config.service(service).stop()


@pytest.fixture(scope="session")
def evidently_ui(stack_config: localstack.StackConfig, minio_server: StorageSettings) -> str:
    """The session's Evidently UI (started with MinIO), as `make up` runs it."""
    return stack_config.evidently_url


@pytest.fixture
def store(minio_server: StorageSettings) -> ObjectStore:
    """The pipeline's object store, with the data zones emptied and no registered model."""
    return empty_zones(minio_server)


@pytest.fixture
def lake_of_its_own(stack_config, minio_server, monkeypatch) -> None:
    """A new catalog database: the builds of a test start from an empty lake."""
    import os

    database = f"incremental_{os.urandom(4).hex()}"
    localstack._create_database(stack_config, localstack.postgres_bin_dir(), database)
    monkeypatch.setenv("FIELDHOUSE_LAKE_CATALOG", f"postgres:{stack_config.postgres_dsn(database)}")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]


def pytest_configure(config: pytest.Config) -> None:
    """Keep Airflow's config and metadata of in-process imports out of ~/airflow."""
    import os
    import tempfile

    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="fieldhouse-airflow-"))
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")


def pytest_report_header(config: pytest.Config) -> str:
    return (
        f"fieldhouse: MinIO binary {localstack.minio_binary()} (pinned {localstack.MINIO_VERSION})"
    )
