"""The cluster profile: the production topology of ``docker-compose.yaml`` as local processes.

PostgreSQL (Airflow's metadata and the lake catalog), Redis (Celery's broker),
MinIO erasure-coded over four drives, and Airflow with CeleryExecutor: API
server, scheduler, DAG processor, triggerer and two Celery workers, all on
loopback. ``make up PROFILE=cluster`` starts it; the cluster tests start their own.

``docker-compose.yaml`` is the one place the topology's settings live: Airflow's
environment, the init command, each component's command and MinIO's drives are
read from it here. Only what must differ between containers and processes on one
machine is changed (:func:`cluster_environment` lists it): host names and ports
become loopback ports, container paths become folders of this checkout, and a
few settings that several processes on one machine cannot share.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fieldhouse import localstack
from fieldhouse.config import REPO_ROOT
from fieldhouse.localstack import StackConfig, StackError

log = logging.getLogger(__name__)

COMPOSE_FILE = REPO_ROOT / "docker-compose.yaml"
WORKERS = 2
WORKER_CONCURRENCY = 4
AIRFLOW_COMPONENTS = (
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
)
# What a lost worker's task waits before the scheduler fails it over (default 300 s).
HEARTBEAT_TIMEOUT_SECONDS = 60

# Settings that differ from docker-compose.yaml, and why; checked by a test.
LOCAL_OVERRIDES = {
    "AIRFLOW_HOME": "Airflow's logs and config live under the stack's home",
    "AIRFLOW__API__HOST": "the API server listens on loopback",
    "AIRFLOW__API__PORT": "a free port instead of the container's 8080",
    "AIRFLOW__API__BASE_URL": "the API server's loopback address",
    "AIRFLOW__API__WORKERS": "one API server process is plenty on one machine",
    "AIRFLOW__CORE__HOSTNAME_CALLABLE": "two workers on one machine need two names",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "a lost worker's task fails over soon",
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "new DAG files show up within seconds",
    "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": "a free port: another Airflow may hold 8794",
    "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "tests start with every DAG paused",
    "PYTHONPATH": "the plugins folder of this checkout (the image sets it in its Dockerfile)",
}


@dataclass
class ClusterConfig(StackConfig):
    """The embedded stack's ports and secrets, plus Redis."""

    redis_port: int = 6380
    # Where the triggerer and each worker serve their logs: free ports, since
    # another Airflow on this machine may hold the defaults (8794, 8793).
    log_ports: list[int] = field(default_factory=list)

    @classmethod
    def load(cls, home: Path, **ports: int) -> ClusterConfig:  # type: ignore[override]
        redis_port = ports.pop("redis_port", None) or int(
            os.environ.get("FIELDHOUSE_REDIS_PORT", cls.redis_port)
        )
        base = StackConfig.load(home, **ports)
        fields = {name: getattr(base, name) for name in StackConfig.__dataclass_fields__}
        log_ports = [localstack.free_port() for _ in range(WORKERS + 1)]
        return cls(**fields, redis_port=redis_port, log_ports=log_ports)

    def worker_name(self, index: int) -> str:
        return f"worker-{index}"


# --- Settings, from docker-compose.yaml -----------------------------------------------


def compose() -> dict[str, Any]:
    import yaml

    return yaml.safe_load(COMPOSE_FILE.read_text())


def _interpolate(text: str, values: dict[str, str]) -> str:
    """Compose's ``${NAME}``, ``${NAME:-default}`` and ``${NAME:?error}``; ``$$`` is ``$``."""

    def one(match: re.Match) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3)
        if name in values:
            return values[name]
        if op == ":-":
            return arg
        raise StackError(f"docker-compose.yaml needs {name}, which the cluster profile lacks")

    text = re.sub(r"\$\{([A-Z0-9_]+)(?:(:[-?])([^}]*))?\}", one, text)
    return text.replace("$$", "$")


def _localize(text: str, config: ClusterConfig) -> str:
    """Container host names and paths, as this machine's loopback ports and folders."""
    replacements = [
        ("@postgres:5432/", f"@127.0.0.1:{config.postgres_port}/"),
        ("host=postgres", f"host=127.0.0.1 port={config.postgres_port}"),
        ("redis://redis:6379/", f"redis://127.0.0.1:{config.redis_port}/"),
        ("http://minio:9000", f"http://127.0.0.1:{config.minio_port}"),
        ("minio:9000", f"127.0.0.1:{config.minio_port}"),
        ("http://airflow-apiserver:8080", config.airflow_url),
        ("http://mlflow:5000", config.mlflow_url),
        ("http://evidently:8000", config.evidently_url),
        ("/opt/fieldhouse/state", str(config.home)),
        ("/opt/fieldhouse/", f"{REPO_ROOT}/"),
    ]
    for old, new in replacements:
        text = text.replace(old, new)
    return text


def compose_values(config: ClusterConfig) -> dict[str, str]:
    """What ``.env`` holds for docker compose, from the stack's generated secrets."""
    return {
        "POSTGRES_PASSWORD": config.secrets["postgres_password"],
        "AIRFLOW_FERNET_KEY": config.secrets["airflow_fernet_key"],
        "AIRFLOW_API_SECRET": config.secrets["airflow_api_secret"],
        "AIRFLOW_JWT_SECRET": config.secrets["airflow_jwt_secret"],
        "AIRFLOW_ADMIN_PASSWORD": config.secrets["airflow_password"],
        "FIELDHOUSE_PIPELINE_SECRET": config.secrets["pipeline_secret"],
        **{
            f"FIELDHOUSE_{role.upper()}_SECRET": config.secrets[f"{role}_secret"]
            for role in ("landing", "ingest", "transform", "ml")
        },
        "MINIO_ROOT_USER": config.secrets["minio_root_user"],
        "MINIO_ROOT_PASSWORD": config.secrets["minio_root_password"],
        "FIELDHOUSE_PUBLIC_DOCS_URL": f"http://127.0.0.1:{config.docs_port}",
        "FIELDHOUSE_PUBLIC_MINIO_CONSOLE_URL": f"http://127.0.0.1:{config.minio_console_port}",
        "FIELDHOUSE_PUBLIC_MLFLOW_URL": config.mlflow_url,
        "FIELDHOUSE_PUBLIC_EVIDENTLY_URL": config.evidently_url,
        "EVIDENTLY_SECRET": config.secrets["evidently_secret"],
        "FIELDHOUSE_PSEUDONYM_KEY": config.secrets["pseudonym_key"],
        # Demo data on, as in the embedded stack; FIELDHOUSE_SIMULATORS=off turns it off.
        "FIELDHOUSE_SIMULATORS": os.environ.get("FIELDHOUSE_SIMULATORS", "on"),
    }


def compose_airflow_environment(config: ClusterConfig) -> dict[str, str]:
    """The Airflow services' environment in docker-compose.yaml, localized."""
    values = compose_values(config)
    env = compose()["x-airflow-common"]["environment"]
    return {
        name: _localize(_interpolate(str(value), values), config) for name, value in env.items()
    }


def cluster_environment(config: ClusterConfig) -> dict[str, str]:
    """Every Airflow process's environment: compose's, plus :data:`LOCAL_OVERRIDES`."""
    bin_dir = Path(sys.executable).parent
    return {
        **compose_airflow_environment(config),
        "AIRFLOW_HOME": str(config.airflow_home),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(config.airflow_port),
        "AIRFLOW__API__BASE_URL": config.airflow_url,
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "fieldhouse.cluster.process_hostname",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT_SECONDS),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "20",
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(config.log_ports[0]),
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": os.environ.get(
            "FIELDHOUSE_DAGS_PAUSED", "False"
        ),
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(REPO_ROOT / "plugins"), os.environ.get("PYTHONPATH")) if p
        ),
        "PATH": os.pathsep.join([str(bin_dir), os.environ.get("PATH", "")]),
    }


def process_hostname() -> str:
    """The name a process reports to Airflow: its worker's name, else the machine's.

    Task instances record where they ran; two workers on one machine would
    otherwise both be the machine.
    """
    return os.environ.get("FIELDHOUSE_WORKER_NAME") or socket.getfqdn()


def minio_drive_count() -> int:
    """How many drives the compose file's MinIO erasure-codes over."""
    command = compose()["services"]["minio"]["command"]
    match = re.search(r"\{1\.\.\.(\d+)\}", " ".join(command))
    if not match:
        raise StackError("docker-compose.yaml's minio does not name its drives as /data{1...N}")
    return int(match.group(1))


def service_command(name: str) -> list[str]:
    command = compose()["services"][name]["command"]
    return [str(part) for part in command]


# --- Redis -----------------------------------------------------------------------------


def redis_binary() -> str:
    return localstack.debian_program(
        "redis-server", "redis-server", "Celery's broker in the cluster profile"
    )


def start_redis(config: ClusterConfig) -> None:
    service = config.service("redis")
    if service.pid() is None:
        if localstack.port_open(config.redis_port):
            raise StackError(
                f"port {config.redis_port} is taken by another program; set FIELDHOUSE_REDIS_PORT"
            )
        data = config.home / "redis"
        data.mkdir(parents=True, exist_ok=True)
        service.start(
            [
                redis_binary(),
                "--port",
                str(config.redis_port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(data),
                # The broker's queue is rebuilt by the scheduler; no snapshots needed.
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            dict(os.environ),
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if service.pid() is None:
            raise StackError(f"Redis exited while starting; see {service.log_file}")
        try:
            with socket.create_connection(("127.0.0.1", config.redis_port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise StackError(f"Redis did not come up within 30s; see {service.log_file}")


# --- Airflow with CeleryExecutor -------------------------------------------------------


def init_airflow(config: ClusterConfig) -> None:
    """Compose's ``airflow-init`` command: migrate the database, create pools, the password."""
    config.airflow_home.mkdir(parents=True, exist_ok=True)
    command = service_command("airflow-init")
    script = _localize(_interpolate(command[-1], compose_values(config)), config)
    env = {
        **os.environ,
        **cluster_environment(config),
        "AIRFLOW_ADMIN_PASSWORD": config.secrets["airflow_password"],
    }
    done = subprocess.run([*command[:-1], script], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise StackError(f"airflow-init failed: {(done.stderr or done.stdout).strip()[-3000:]}")


def start_component(config: ClusterConfig, name: str) -> None:
    """One of :data:`AIRFLOW_COMPONENTS`, with its command from docker-compose.yaml."""
    service = config.service(name)
    if service.pid() is None:
        service.start(service_command(name), {**os.environ, **cluster_environment(config)})


def worker_env(config: ClusterConfig, index: int) -> dict[str, str]:
    return {
        "FIELDHOUSE_WORKER_NAME": config.worker_name(index),
        # Each worker serves its task logs on a port of its own.
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(config.log_ports[index]),
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(WORKER_CONCURRENCY),
    }


def start_worker(config: ClusterConfig, index: int) -> None:
    name = f"airflow-worker-{index}"
    service = config.service(name)
    if service.pid() is not None:
        return
    env = {**os.environ, **cluster_environment(config), **worker_env(config, index)}
    command = [
        *service_command("airflow-worker"),
        "--celery-hostname",
        f"{config.worker_name(index)}@%h",
    ]
    service.start(command, env)


def wait_for_workers(config: ClusterConfig, timeout: float = 180) -> None:
    """Until every Celery worker answers a ping through the broker."""
    names = [f"{config.worker_name(i)}@" for i in range(1, WORKERS + 1)]
    env = {**os.environ, **cluster_environment(config)}
    deadline = time.monotonic() + timeout
    answered = ""
    while time.monotonic() < deadline:
        for index in range(1, WORKERS + 1):
            if config.service(f"airflow-worker-{index}").pid() is None:
                log_file = config.service(f"airflow-worker-{index}").log_file
                raise StackError(f"Celery worker {index} exited; see {log_file}")
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "celery",
                "--app",
                "airflow.providers.celery.executors.celery_executor.app",
                "inspect",
                "ping",
                "--timeout",
                "3",
            ],
            env=env,
            capture_output=True,
            text=True,
        )
        answered = done.stdout
        if all(name in answered for name in names):
            return
        time.sleep(3)
    raise StackError(f"Celery workers did not answer within {timeout:.0f}s: {answered.strip()}")


def mlflow_backend_store(config: ClusterConfig) -> str:
    """The backend store of compose's ``mlflow`` service, on this machine's PostgreSQL.

    Without a password: the server's libpq takes it from ``PGPASSWORD``.
    """
    command = compose()["services"]["mlflow"]["command"]
    return _localize(command[command.index("--backend-store-uri") + 1], config)


def start_cluster(config: ClusterConfig) -> None:
    """Start every part of the cluster profile, in dependency order; reuse what runs."""
    from fieldhouse.lake import install_duckdb_extensions

    install_duckdb_extensions()
    log.info(
        "PostgreSQL on 127.0.0.1:%d (Airflow's metadata, the lake catalog) ...",
        config.postgres_port,
    )
    localstack.start_postgres(config, databases=("airflow", localstack.LAKE_DATABASE, "mlflow"))
    log.info("Redis on 127.0.0.1:%d ...", config.redis_port)
    start_redis(config)
    drives = minio_drive_count()
    log.info("MinIO on 127.0.0.1:%d, erasure-coded over %d drives ...", config.minio_port, drives)
    localstack.start_minio(config, drives=drives)
    localstack.provision_minio(config)
    log.info("MLflow on %s (runs and versions in PostgreSQL) ...", config.mlflow_url)
    localstack.start_mlflow(config, backend_store=mlflow_backend_store(config))
    log.info("Evidently UI on %s ...", config.evidently_url)
    localstack.start_evidently(config)
    log.info("airflow-init: database migration, pools ...")
    init_airflow(config)
    for name in AIRFLOW_COMPONENTS:
        start_component(config, name)
    localstack.wait_for_http(
        f"{config.airflow_url}/api/v2/monitor/health",
        300,
        what="Airflow API server",
        service=config.service("airflow-apiserver"),
    )
    for index in range(1, WORKERS + 1):
        start_worker(config, index)
    wait_for_workers(config)


def cluster_services(config: ClusterConfig) -> list[str]:
    workers = [f"airflow-worker-{i}" for i in range(1, WORKERS + 1)]
    return [
        "dbt-docs",
        *workers,
        *reversed(AIRFLOW_COMPONENTS),
        "evidently",
        "mlflow",
        "minio",
        "redis",
        "postgres",
    ]


def stop_cluster(config: ClusterConfig) -> list[str]:
    stopped = []
    for name in cluster_services(config):
        sig = signal.SIGINT if name == "postgres" else signal.SIGTERM
        if config.service(name).stop(timeout=30, sig=sig):
            stopped.append(name)
    return stopped
