"""Is each service of the embedded stack doing its job, not just alive?

A live process is not a healthy service: after ``kill -9`` of Airflow's
scheduler, the API server still answers and ``airflow standalone`` still runs,
but nothing gets scheduled. Each check here asks the service itself (its
health endpoint, or for Airflow every component of ``/api/v2/monitor/health``).
``make status`` prints them; ``make up`` restarts Airflow when a component of
it is down and stops with the names of what did not come back.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from fieldhouse.localstack import StackConfig, port_open

AIRFLOW_COMPONENTS = ("metadatabase", "scheduler", "dag_processor", "triggerer")


@dataclass(frozen=True)
class Health:
    """One service's verdict, with what was seen."""

    service: str
    healthy: bool
    detail: str

    def line(self) -> str:
        return f"{self.service:9} {'healthy' if self.healthy else 'UNHEALTHY'}  {self.detail}"


def _get(url: str, timeout: float = 5) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _http_check(service: str, url: str) -> Health:
    try:
        code, _ = _get(url)
    except (OSError, urllib.error.URLError) as exc:
        return Health(service, False, f"{url} did not answer ({exc})")
    return Health(service, code < 400, f"{url} answered {code}")


def airflow_health(config: StackConfig) -> Health:
    """Healthy when every component Airflow reports on is."""
    url = f"{config.airflow_url}/api/v2/monitor/health"
    try:
        code, body = _get(url)
        report = json.loads(body)
    except (OSError, urllib.error.URLError, ValueError) as exc:
        return Health("airflow", False, f"{url} did not answer ({exc})")
    if code >= 400:
        return Health("airflow", False, f"{url} answered {code}")
    states = {
        name: (report.get(name) or {}).get("status") or "not reported"
        for name in AIRFLOW_COMPONENTS
    }
    down = sorted(name for name, state in states.items() if state != "healthy")
    detail = ", ".join(f"{name} {state}" for name, state in states.items())
    return Health("airflow", not down, detail)


def stack_health(config: StackConfig) -> list[Health]:
    """Every service of the embedded stack, as it answers now."""
    postgres = port_open(config.postgres_port)
    return [
        Health(
            "postgres",
            postgres,
            f"127.0.0.1:{config.postgres_port} {'accepts' if postgres else 'refuses'} connections",
        ),
        _http_check("minio", f"http://127.0.0.1:{config.minio_port}/minio/health/live"),
        _http_check("mlflow", f"{config.mlflow_url}/health"),
        _http_check("evidently", f"{config.evidently_url}/api/version"),
        airflow_health(config),
        _http_check("dbt-docs", f"{config.docs_url}/"),
    ]


def wait_for_airflow(config: StackConfig, timeout: float) -> Health:
    """Airflow's health once every component is healthy, or as it stands at ``timeout``."""
    deadline = time.monotonic() + timeout
    health = airflow_health(config)
    while not health.healthy and time.monotonic() < deadline:
        time.sleep(2)
        health = airflow_health(config)
    return health
