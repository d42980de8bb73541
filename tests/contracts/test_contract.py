"""Contracts: the shipped ones load and fit their datasets; malformed ones are refused clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from fieldhouse.contracts.contract import (
    ContractError,
    contracts_dir,
    load_contracts,
    parse_contract,
)
from fieldhouse.ingest.datasets import DATASETS

MINIMAL = {
    "name": "my_feed",
    "dataset": "sensors.readings",
    "landing": "my_feed",
    "fields": {"event_id": "id", "device_id": "device", "ts": "time", "metric": "m", "value": "v"},
}


def test_every_shipped_contract_fits_its_dataset() -> None:
    contracts = load_contracts()
    assert {"sensor_readings", "nab_machine_temperature", "scms_shipments"} <= set(contracts)
    for contract in contracts.values():
        schema = DATASETS[contract.dataset].schema
        unknown = set(contract.fields) - set(schema.field_names)
        assert not unknown, f"{contract.path}: fields {unknown} are not in {contract.dataset}"
        required = {f.name for f in schema.fields if f.required}
        melted = {"metric", "value"} if contract.layout == "wide" else set()
        missing = required - set(contract.fields) - melted
        assert not missing, f"{contract.path}: required fields {missing} have no source"


def test_every_built_in_landing_folder_has_a_contract() -> None:
    landings = {c.landing for c in load_contracts().values()}
    builtin = {
        "sensors",
        "market_prices",
        "commerce_orders",
        "commerce_shipments",
        "finance_transactions",
        "finance_chargebacks",
    }
    assert builtin <= landings


def test_contracts_folder_can_be_moved_by_environment(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FIELDHOUSE_CONTRACTS_DIR", str(tmp_path))
    assert contracts_dir() == tmp_path


def test_a_minimal_contract_reads_columns_by_name() -> None:
    contract = parse_contract(MINIMAL)
    assert contract.file_columns == ("id", "device", "time", "m", "v")
    assert contract.layout == "long"


def test_a_contract_names_its_source_or_takes_its_own_name() -> None:
    assert parse_contract(MINIMAL).source == MINIMAL["name"]
    assert parse_contract({**MINIMAL, "source": "plant_a"}).source == "plant_a"


def test_aliases_map_to_the_declared_column() -> None:
    document = {
        **MINIMAL,
        "fields": {
            **MINIMAL["fields"],
            "ts": {"column": "Time", "aliases": ["Timestamp", " datetime "]},
        },
    }
    assert parse_contract(document).aliases == {"timestamp": "time", "datetime": "time"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"colour": "blue"}, "unknown keys ['colour']"),
        ({"name": "My Feed"}, "lower-case"),
        ({"layout": "diagonal"}, "layout 'diagonal'"),
        ({"layout": "wide"}, "needs 'melt'"),
        ({"fields": {"ts": {"column": "t", "constant": "x"}}}, "at most one of"),
        ({"fields": {"ts": {"column": "t", "timezone": "Mars/Olympus"}}}, "unknown time zone"),
        (
            {"fields": {"ts": {"column": "t", "sentinels": {"values": ["-"], "action": "drop"}}}},
            "sentinel action",
        ),
        ({"fields": {"event_id": {"hash": ["device_id", "colour"]}}}, "hash names 'colour'"),
        ({"fields": {"device_id": {"file_name": "no-group"}}}, "exactly one group"),
        ({"fields": {"device_id": {}}}, "say where it comes from"),
        ({"file": {"delimiter": ";;"}}, "single characters"),
        ({"source": "simulator"}, "which simulated rows carry"),
        ({"source": "Plant A"}, "source 'Plant A' must be lower-case"),
    ],
)
def test_malformed_contracts_are_refused_with_the_file_and_entry(change, message) -> None:
    document = {**MINIMAL, **change}
    if "fields" in change:
        document["fields"] = {**MINIMAL["fields"], **change["fields"]}
    with pytest.raises(ContractError, match=r"my\.yaml") as error:
        parse_contract(document, Path("my.yaml"))
    assert message in str(error.value)


def test_two_contracts_cannot_share_a_name_or_a_landing_folder(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "name: a\ndataset: sensors.readings\nlanding: shared\nfields: {}\n"
    )
    (tmp_path / "b.yaml").write_text(
        "name: b\ndataset: sensors.readings\nlanding: shared\nfields: {}\n"
    )
    with pytest.raises(ContractError, match="landing folder 'shared' is also used"):
        load_contracts(tmp_path)


def test_a_file_that_is_not_yaml_names_itself(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("name: [unclosed\n")
    with pytest.raises(ContractError, match=r"broken\.yaml: not valid YAML"):
        load_contracts(tmp_path)
