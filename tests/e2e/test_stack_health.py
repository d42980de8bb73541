"""A dead scheduler is seen as dead, and `make up` brings Airflow back whole.

``airflow standalone`` outlives a killed scheduler: its API still answers, its
process is still there, and nothing gets scheduled. The health checks read
Airflow's own report of each component; starting the stack again restarts an
Airflow that is alive but broken, ending the processes the old one left.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from fieldhouse import localstack
from fieldhouse.stack_health import airflow_health, stack_health
from tests.reliability.record import record

pytestmark = pytest.mark.e2e


def _group_members(group: int) -> list[tuple[int, int, str]]:
    """(pid, parent pid, command line) of every process in the process group ``group``."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        # The fields after the command's closing parenthesis: state, ppid, pgrp, ...
        _, parent, pgrp = stat.rsplit(")", 1)[1].split()[:3]
        if int(pgrp) == group:
            members.append((int(entry.name), int(parent), command))
    return members


def test_every_port_of_the_stack_listens_on_loopback_only(airflow, stack_config) -> None:
    import psutil

    pids: dict[int, str] = {}
    for name in ("airflow", "minio", "postgres", "mlflow", "evidently"):
        pid = stack_config.service(name).pid()
        assert pid is not None, name
        root = psutil.Process(pid)
        for process in [root, *root.children(recursive=True)]:
            pids[process.pid] = name
    listening = [
        (pids[c.pid], c.laddr.ip, c.laddr.port)
        for c in psutil.net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN and c.pid in pids
    ]
    exposed = [entry for entry in listening if entry[1] not in ("127.0.0.1", "::1")]
    assert not exposed, exposed
    # The check saw the ports it should: the services', the scheduler's health check.
    ports = {port for _, _, port in listening}
    expected = {
        stack_config.airflow_port,
        stack_config.minio_port,
        stack_config.minio_console_port,
        stack_config.postgres_port,
        stack_config.mlflow_port,
        stack_config.evidently_port,
        stack_config.scheduler_health_port,
    }
    assert expected <= ports, expected - ports


def test_a_killed_scheduler_is_reported_and_airflow_restarted(airflow, stack_config) -> None:
    service = stack_config.service("airflow")
    standalone = service.pid()
    assert standalone is not None
    assert airflow_health(stack_config).healthy
    # The scheduler standalone started (its own forks carry the same command line).
    [scheduler] = [
        pid
        for pid, parent, command in _group_members(standalone)
        if parent == standalone and "airflow scheduler" in command
    ]

    os.kill(scheduler, signal.SIGKILL)
    deadline = time.monotonic() + 120
    while airflow_health(stack_config).healthy and time.monotonic() < deadline:
        time.sleep(3)
    health = airflow_health(stack_config)
    assert not health.healthy and "scheduler unhealthy" in health.detail, health.detail
    # Still alive as a process, and its API still answers: the check is not fooled.
    assert service.pid() == standalone
    [verdict] = [h for h in stack_health(stack_config) if h.service == "airflow"]
    assert not verdict.healthy

    localstack.start_airflow(stack_config, paused_at_creation=True, timeout=300)

    assert service.pid() not in (None, standalone)
    assert _group_members(standalone) == []  # nothing of the old one is left
    assert airflow_health(stack_config).healthy
    # The REST API works again with the same credentials.
    assert airflow.get("/api/v2/dags")["total_entries"] >= 7
    record(
        "fault",
        "scheduler killed (SIGKILL), Airflow's API still up",
        "status reports it unhealthy; make up restarts Airflow, no old process left",
        rows_lost=None,
        rows_duplicated=None,
        error=f"airflow: {health.detail}",
    )
