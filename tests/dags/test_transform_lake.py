"""transform_lake's Params: what a person may choose, and what of it reaches dbt."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

DAG_FILE = Path(__file__).resolve().parents[2] / "dags" / "transform_lake.py"


@pytest.fixture(scope="module")
def dag_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("transform_lake_dag", DAG_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def transform_lake():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAG_FILE))
    assert bag.import_errors == {}
    return bag.dags["transform_lake"]


def test_by_default_every_source_ends_at_its_own_latest_data(transform_lake) -> None:
    assert transform_lake.params.dump() == {"as_of": None, "sources": [], "full_refresh": False}
    # The UI shows the docstring: it explains each.
    for name in ("`as_of`", "`sources`", "`full_refresh`"):
        assert name in transform_lake.doc_md, name


def test_a_date_and_a_list_of_sources_are_accepted(transform_lake) -> None:
    params = copy.deepcopy(transform_lake.params)
    params["as_of"] = "2015-06-30"
    params["sources"] = ["scms_shipments", "simulator"]
    params["full_refresh"] = True

    assert params.dump() == {
        "as_of": "2015-06-30",
        "sources": ["scms_shipments", "simulator"],
        "full_refresh": True,
    }


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("as_of", "June"),
        ("as_of", "2015-13-40"),
        ("as_of", "30/06/2015"),
        ("sources", "scms"),
        ("full_refresh", "yes"),
    ],
)
def test_anything_else_is_refused(transform_lake, name: str, value: str) -> None:
    from airflow.exceptions import ParamValidationError

    params = copy.deepcopy(transform_lake.params)
    with pytest.raises(ParamValidationError):
        params[name] = value


@pytest.mark.parametrize(
    ("params", "dbt_vars"),
    [
        ({"as_of": None, "sources": []}, {}),
        ({"as_of": "2015-06-30", "sources": []}, {"as_of": "2015-06-30"}),
        ({"as_of": None, "sources": ["scms_shipments"]}, {"sources": ["scms_shipments"]}),
    ],
)
def test_only_what_was_chosen_reaches_dbt(dag_module, params: dict, dbt_vars: dict) -> None:
    # Unset Params are not passed, so dbt_project.yml's defaults hold.
    assert dag_module._dbt_vars(params) == dbt_vars
