"""The production set-up, checked by reading it (no container engine runs here)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from fieldhouse import localstack
from fieldhouse.config import role_connection_id
from fieldhouse.storage.provision import TASK_ROLES, Role

ROOT = Path(__file__).resolve().parents[1]
AIRFLOW_SERVICES = [
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yaml").read_text())


def test_every_part_of_the_platform_is_a_service(compose) -> None:
    expected = {"postgres", "redis", "minio", "minio-init", "airflow-init", "dbt-docs"}
    expected |= {"mlflow", "evidently"}
    assert expected | set(AIRFLOW_SERVICES) == set(compose["services"])


def test_tasks_reach_mlflow_and_evidently_which_keep_their_state_in_postgres_and_minio(
    compose,
) -> None:
    env = compose["services"]["airflow-worker"]["environment"]
    assert env["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    assert env["FIELDHOUSE_EVIDENTLY_URL"] == "http://evidently:8000"
    assert env["FIELDHOUSE_EVIDENTLY_SECRET"] == "${EVIDENTLY_SECRET:?set in .env}"
    mlflow = compose["services"]["mlflow"]
    command = mlflow["command"]
    backend = command[command.index("--backend-store-uri") + 1]
    assert backend.startswith("postgresql+psycopg2://fieldhouse@postgres:5432/mlflow")
    assert "CREATE DATABASE mlflow" in (ROOT / "docker/postgres-init.sql").read_text()
    assert command[command.index("--artifacts-destination") + 1] == localstack.MLFLOW_ARTIFACTS
    assert mlflow["environment"]["AWS_ACCESS_KEY_ID"] == Role.ML.user
    # Its Host check lets the workers in by the service's name.
    assert "mlflow:5000" in command[command.index("--allowed-hosts") + 1].split(",")
    evidently = compose["services"]["evidently"]
    assert evidently["environment"]["EVIDENTLY_SECRET"] == "${EVIDENTLY_SECRET:?set in .env}"
    for service in (mlflow, evidently):
        assert "healthcheck" in service
        assert service["image"] == compose["services"]["airflow-scheduler"]["image"]
    # Every Airflow service waits for both.
    for name in AIRFLOW_SERVICES:
        needs = compose["services"][name]["depends_on"]
        assert needs["mlflow"]["condition"] == needs["evidently"]["condition"] == "service_healthy"


def test_airflow_runs_celery_on_postgres_and_redis(compose) -> None:
    for name in AIRFLOW_SERVICES:
        service = compose["services"][name]
        env = service["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:")
        assert service["image"] == compose["services"]["airflow-scheduler"]["image"]
        needs = service["depends_on"]
        assert needs["airflow-init"]["condition"] == "service_completed_successfully"
        assert needs["minio-init"]["condition"] == "service_completed_successfully"
        assert needs["postgres"]["condition"] == "service_healthy"
        assert "healthcheck" in service, name


def test_tasks_get_their_role_account_and_no_other(compose) -> None:
    env = compose["services"]["airflow-worker"]["environment"]
    assert env["FIELDHOUSE_S3_ENDPOINT"]
    for role in TASK_ROLES:
        connection = json.loads(env[f"AIRFLOW_CONN_{role_connection_id(role).upper()}"])
        assert connection["login"] == role.user
        assert connection["password"] == f"${{FIELDHOUSE_{role.value.upper()}_SECRET:?set in .env}}"
        assert connection["extra"]["endpoint_url"] == f"http://{env['FIELDHOUSE_S3_ENDPOINT']}"
    # No account outside a connection: a task cannot fall back to a broader one.
    assert "FIELDHOUSE_S3_ACCESS_KEY" not in env and "FIELDHOUSE_S3_SECRET_KEY" not in env
    # minio-init creates every account, with the secrets .env holds.
    init = compose["services"]["minio-init"]["environment"]
    for role in Role:
        if role is not Role.OPERATOR:
            assert init[f"FIELDHOUSE_{role.value.upper()}_SECRET"], role
    assert init["FIELDHOUSE_S3_ACCESS_KEY"] == localstack.PIPELINE_USER
    example = (ROOT / "docker/env.example").read_text()
    for role in Role:
        if role is not Role.OPERATOR:
            assert f"FIELDHOUSE_{role.value.upper()}_SECRET=" in example
    # The lake catalog lives in PostgreSQL, in the database the init script creates.
    assert env["FIELDHOUSE_LAKE_CATALOG"].startswith("postgres:dbname=lake host=postgres")
    assert "CREATE DATABASE lake" in (ROOT / "docker/postgres-init.sql").read_text()
    # Pipelines never see the root account.
    assert not any(key.startswith("MINIO_ROOT") for key in env)
    assert "MINIO_ROOT_PASSWORD" in compose["services"]["minio-init"]["environment"]


def test_no_secret_is_written_in_the_file(compose) -> None:
    text = (ROOT / "docker-compose.yaml").read_text()
    for name in (
        "POSTGRES_PASSWORD",
        "MINIO_ROOT_PASSWORD",
        "FIELDHOUSE_PIPELINE_SECRET",
        "AIRFLOW_FERNET_KEY",
        "AIRFLOW_JWT_SECRET",
        "AIRFLOW_ADMIN_PASSWORD",
    ):
        assert f"${{{name}:?" in text, f"{name} must come from .env, required"
    example = (ROOT / "docker/env.example").read_text()
    required = set(re.findall(r"\$\{([A-Z_]+):\?", text))
    assert required <= set(re.findall(r"^([A-Z_]+)=", example, re.M)), required


def test_images_are_pinned_and_minio_is_built_at_our_version(compose) -> None:
    for name, service in compose["services"].items():
        image = service.get("image", "")
        assert ":" in image and not image.endswith(":latest"), f"{name}: {image!r}"
    dockerfile = (ROOT / "docker/minio.Dockerfile").read_text()
    assert f"ARG MINIO_VERSION={localstack.MINIO_VERSION}" in dockerfile
    assert "github.com/minio/minio@${MINIO_VERSION}" in dockerfile


def test_the_platform_image_installs_the_locked_requirements() -> None:
    dockerfile = (ROOT / "docker/Dockerfile").read_text()
    assert "pip install -r requirements-prod.txt -c constraints.txt" in dockerfile
    prod = (ROOT / "requirements-prod.txt").read_text()
    assert "-r requirements.txt" in prod
    assert re.search(r"^apache-airflow-providers-celery==", prod, re.M)
    base = (ROOT / "requirements.txt").read_text()
    # The catalog's extension and Airflow's PostgreSQL drivers serve both set-ups.
    for package in ("duckdb-extension-postgres", "psycopg2-binary", "asyncpg"):
        assert re.search(rf"^{package}==", base, re.M), package


def test_airflow_init_creates_the_pools_the_dags_name(compose) -> None:
    command = " ".join(compose["services"]["airflow-init"]["command"])
    assert "python -m fieldhouse create-pools" in command
