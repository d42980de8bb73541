"""Settings read from the environment or an Airflow connection, never from literals.

The embedded stack (``make up``) and the test fixtures export the ``FIELDHOUSE_*``
variables below; inside Airflow tasks the connection of the task's role
(``fieldhouse_s3_ingest``, ``fieldhouse_s3_transform``, ``fieldhouse_s3_ml``) wins
when it is defined, so production can keep credentials in a secrets backend.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def role_connection_id(role: str) -> str:
    """The Airflow connection holding the object-store account of a task role."""
    return f"fieldhouse_s3_{role}"


SIMULATORS_VARIABLE = "FIELDHOUSE_SIMULATORS"

# Every task that writes the lake (dbt builds, score write-back, drift and
# retraining rows, snapshot expiry) takes a slot here. Writers of different
# tables commit side by side; the pool keeps the catalog's writers few enough
# that a conflicting commit waits a little rather than many times.
# `make up`, the cluster profile and docker-compose.yaml create it with these values.
LAKE_WRITERS_POOL = "lake_writers"
LAKE_WRITERS_SLOTS = 4
LAKE_WRITERS_DESCRIPTION = "Tasks that write the lake (DuckLake catalog in PostgreSQL)"


def simulators_enabled() -> bool:
    """Whether the built-in simulators may write to the lake (``FIELDHOUSE_SIMULATORS``).

    ``on`` (the default of the embedded stack, so a fresh lake has data to show) or
    ``off`` (production's default in the compose file): one switch for all four
    sources, whatever their DAGs' ``simulate`` Params say.
    """
    value = os.environ.get(SIMULATORS_VARIABLE, "on").strip().lower()
    if value not in ("on", "off"):
        raise ConfigError(f"{SIMULATORS_VARIABLE} is 'on' or 'off', got {value!r}")
    return value == "on"


class ConfigError(RuntimeError):
    """A required setting is missing or malformed."""


def _require(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise ConfigError(
            f"{name} is not set. Start the stack with `make up` (it exports it), "
            f"or set it yourself; see README.md, 'Configuration'."
        )
    return value


@dataclass(frozen=True)
class StorageSettings:
    """How to reach the object store, and as whom."""

    endpoint: str  # host:port, no scheme
    access_key: str
    secret_key: str
    secure: bool = False
    region: str = "us-east-1"

    @property
    def url(self) -> str:
        return f"{'https' if self.secure else 'http'}://{self.endpoint}"

    @classmethod
    def from_env(cls) -> StorageSettings:
        return cls(
            endpoint=_require("FIELDHOUSE_S3_ENDPOINT"),
            access_key=_require("FIELDHOUSE_S3_ACCESS_KEY"),
            secret_key=_require("FIELDHOUSE_S3_SECRET_KEY"),
            secure=os.environ.get("FIELDHOUSE_S3_SECURE", "false").lower() == "true",
            region=os.environ.get("FIELDHOUSE_S3_REGION", "us-east-1"),
        )

    @classmethod
    def for_role(cls, role: str) -> StorageSettings:
        """The account of a task role (``ingest``, ``transform``, ``ml``): its connection.

        See :mod:`fieldhouse.storage.provision` for what each role may do.
        """
        return cls.from_airflow(role_connection_id(role))

    @classmethod
    def from_airflow(cls, conn_id: str) -> StorageSettings:
        """Settings from an Airflow connection, falling back to the environment.

        Call this inside a task only: it may reach the metadata database.
        """
        from airflow.sdk import BaseHook

        try:
            conn = BaseHook.get_connection(conn_id)
        except Exception:
            return cls.from_env()
        extra = conn.extra_dejson
        endpoint = extra.get("endpoint_url", "")
        secure = endpoint.startswith("https://")
        endpoint = endpoint.removeprefix("https://").removeprefix("http://").rstrip("/")
        return cls(
            endpoint=endpoint or f"{conn.host}:{conn.port}",
            access_key=conn.login,
            secret_key=conn.password,
            secure=secure,
            region=extra.get("region_name", "us-east-1"),
        )


def dbt_project_dir() -> Path:
    """The dbt project, overridable with ``FIELDHOUSE_DBT_PROJECT_DIR``."""
    return Path(os.environ.get("FIELDHOUSE_DBT_PROJECT_DIR", REPO_ROOT / "dbt_project"))


def local_state_dir() -> Path:
    """Where the embedded stack keeps its state (git-ignored)."""
    return Path(os.environ.get("FIELDHOUSE_HOME", REPO_ROOT / ".local"))


def lake_catalog_path() -> str:
    """The DuckLake catalog: a DuckDB file here, a PostgreSQL DSN in production."""
    return os.environ.get(
        "FIELDHOUSE_LAKE_CATALOG", str(local_state_dir() / "lake" / "catalog.ducklake")
    )
