"""The cluster profile takes its settings from docker-compose.yaml, so the two cannot drift."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fieldhouse import cluster

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_HOSTS = ("@postgres:", "host=postgres", "redis://redis", "minio:9000", "airflow-apiserver")


@pytest.fixture
def config(tmp_path: Path) -> cluster.ClusterConfig:
    return cluster.ClusterConfig.load(
        tmp_path / "home",
        minio_port=19000,
        minio_console_port=19001,
        airflow_port=18080,
        docs_port=18081,
        postgres_port=15433,
        redis_port=16380,
    )


def test_every_compose_setting_reaches_the_processes_and_only_listed_ones_are_added(
    config,
) -> None:
    compose_env = cluster.compose()["x-airflow-common"]["environment"]
    env = cluster.cluster_environment(config)
    assert set(compose_env) <= set(env)
    assert set(env) - set(compose_env) <= set(cluster.LOCAL_OVERRIDES) | {"PATH"}
    # Overrides replace compose's value only where the list says so.
    localized = cluster.compose_airflow_environment(config)
    changed = {name for name in compose_env if env[name] != localized[name]}
    assert changed <= set(cluster.LOCAL_OVERRIDES), changed


def test_container_names_and_paths_become_loopback_ports_and_local_folders(config) -> None:
    env = cluster.cluster_environment(config)
    for name, value in env.items():
        assert "${" not in value, name
        assert "/opt/fieldhouse" not in value, name
        assert not any(host in value for host in COMPOSE_HOSTS), (name, value)
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith("@127.0.0.1:15433/airflow")
    assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://127.0.0.1:16380/0"
    assert env["FIELDHOUSE_LAKE_CATALOG"].startswith(
        "postgres:dbname=lake host=127.0.0.1 port=15433"
    )
    assert env["FIELDHOUSE_S3_ENDPOINT"] == "127.0.0.1:19000"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:18080/execution/"
    assert config.secrets["postgres_password"] in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    # The lake catalog's password travels apart from its connection string.
    assert config.secrets["postgres_password"] not in env["FIELDHOUSE_LAKE_CATALOG"]
    assert env["PGPASSWORD"] == config.secrets["postgres_password"]


def test_the_same_database_account_in_both(config) -> None:
    from fieldhouse import localstack

    env = cluster.cluster_environment(config)
    assert f"user={localstack.POSTGRES_USER}" in env["FIELDHOUSE_LAKE_CATALOG"].split()
    assert f"//{localstack.POSTGRES_USER}:" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    postgres = cluster.compose()["services"]["postgres"]["environment"]
    assert postgres["POSTGRES_USER"] == localstack.POSTGRES_USER


def test_minio_is_erasure_coded_over_four_drives_in_compose_and_image() -> None:
    assert cluster.minio_drive_count() == 4
    dockerfile = (ROOT / "docker/minio.Dockerfile").read_text()
    image_cmd = re.search(r"^CMD (.*)$", dockerfile, re.M).group(1)
    assert "/data{1...4}" in image_cmd
    volumes = cluster.compose()["services"]["minio"]["volumes"]
    assert sorted(v.split(":")[1] for v in volumes) == [f"/data{i}" for i in range(1, 5)]


def test_each_component_runs_compose_s_command() -> None:
    for name in (*cluster.AIRFLOW_COMPONENTS, "airflow-worker", "airflow-init"):
        command = cluster.service_command(name)
        assert command, name
    assert cluster.service_command("airflow-worker") == ["airflow", "celery", "worker"]


def test_interpolation_follows_compose_rules() -> None:
    values = {"A": "x"}
    assert cluster._interpolate("${A:?need A}-${B:-dflt}-$$HOME", values) == "x-dflt-$HOME"
    with pytest.raises(cluster.StackError, match="needs B"):
        cluster._interpolate("${B:?need B}", values)
