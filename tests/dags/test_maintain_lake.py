"""maintain_lake: its steps' order and its Params, with their defaults from the environment."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path

import pytest

DAG_FILE = Path(__file__).resolve().parents[2] / "dags" / "maintain_lake.py"


@pytest.fixture(scope="module")
def maintain_lake():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAG_FILE))
    assert bag.import_errors == {}
    return bag.dags["maintain_lake"]


def _load_dag_module():
    spec = importlib.util.spec_from_file_location("maintain_lake_dag", DAG_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.maintain_lake()


def test_compaction_comes_before_expiry_and_expiry_runs_regardless(maintain_lake) -> None:
    expire = maintain_lake.get_task("expire_old_snapshots")
    assert expire.upstream_task_ids == {"compact_lake_files"}
    assert expire.trigger_rule == "all_done"
    # The other two steps wait on nothing.
    for task_id in ("clean_airflow_history", "delete_processed_landing_files"):
        assert maintain_lake.get_task(task_id).upstream_task_ids == set(), task_id


def test_runs_daily_and_keeps_30_days_by_default(maintain_lake, monkeypatch) -> None:
    monkeypatch.delenv("FIELDHOUSE_HISTORY_DAYS", raising=False)
    monkeypatch.delenv("FIELDHOUSE_PROCESSED_DAYS", raising=False)
    assert maintain_lake.timetable.expression == "30 4 * * *"
    assert _load_dag_module().params.dump() == {"history_days": 30, "processed_days": 30}
    for name in ("history_days", "processed_days"):
        assert f"`{name}`" in maintain_lake.doc_md
        assert maintain_lake.params.get_param(name).description


def test_the_environment_sets_the_scheduled_retention(monkeypatch) -> None:
    monkeypatch.setenv("FIELDHOUSE_HISTORY_DAYS", "90")
    monkeypatch.setenv("FIELDHOUSE_PROCESSED_DAYS", "7")
    assert _load_dag_module().params.dump() == {"history_days": 90, "processed_days": 7}


@pytest.mark.parametrize("value", ["0", "-3", "thirty", "1.5"])
def test_a_retention_of_less_than_a_day_or_not_a_number_is_refused(monkeypatch, value) -> None:
    from fieldhouse.config import ConfigError

    monkeypatch.setenv("FIELDHOUSE_HISTORY_DAYS", value)
    with pytest.raises(ConfigError, match="FIELDHOUSE_HISTORY_DAYS"):
        _load_dag_module()


@pytest.mark.parametrize(("name", "value"), [("history_days", 0), ("processed_days", "30")])
def test_params_refuse_what_is_not_a_whole_number_of_days(maintain_lake, name, value) -> None:
    from airflow.exceptions import ParamValidationError

    params = copy.deepcopy(maintain_lake.params)
    with pytest.raises(ParamValidationError):
        params[name] = value
