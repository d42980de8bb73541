"""The cluster profile, once per test session: PostgreSQL, Redis, MinIO on four drives,
Airflow with CeleryExecutor and two workers, all as local processes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fieldhouse import cluster
from fieldhouse.config import StorageSettings
from tests.conftest import STACK_PORTS, free_ports, stack_home
from tests.e2e.conftest import AirflowClient


@pytest.fixture(scope="session")
def cluster_config() -> Iterator[cluster.ClusterConfig]:
    for home in stack_home("fieldhouse-cluster-"):
        yield cluster.ClusterConfig.load(home, **free_ports(*STACK_PORTS, "redis_port"))


@pytest.fixture(scope="session")
def cluster_stack(cluster_config: cluster.ClusterConfig) -> Iterator[cluster.ClusterConfig]:
    """The running cluster; DAGs start paused, and this process's settings point at it."""
    from fieldhouse.__main__ import build_minio

    build_minio()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FIELDHOUSE_DAGS_PAUSED", "True")
        try:
            cluster.start_cluster(cluster_config)
            for name, value in cluster_config.pipeline_env().items():
                patch.setenv(name, value)
            yield cluster_config
        finally:
            cluster.stop_cluster(cluster_config)


@pytest.fixture(scope="session")
def cluster_airflow(cluster_stack: cluster.ClusterConfig) -> AirflowClient:
    return AirflowClient(cluster_stack.airflow_url, cluster_stack.secrets["airflow_password"])


@pytest.fixture(scope="session")
def cluster_storage(cluster_stack: cluster.ClusterConfig) -> StorageSettings:
    return cluster_stack.pipeline_settings
