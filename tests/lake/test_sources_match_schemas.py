"""dbt sources list what ingestion writes: the wire schemas' columns and vocabularies.

A raw dataset's Parquet holds its wire schema's valid columns, plus the Hive
partition columns of its path; its quarantine holds the wire columns (text), the
reason and when, under the same partitions; a registry object holds the
registry's columns plus who registered each entry and when. A source listing
other columns documents data that is not there, or hides data that is. An accepted_values test
narrower than what the schema accepts (with the catalog files, for vocabularies
the catalog holds) fails rows ingestion keeps; a wider one names values that can
never arrive.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from fieldhouse.ingest.datasets import DATASETS, RawDataset
from fieldhouse.ingest.registries import REGISTRIES, Registry
from fieldhouse.quality.core import Field, WireSchema
from fieldhouse.storage.keys import Bucket, Interval
from tests.lake.dbt_sources import (
    AcceptedValues,
    SourceTable,
    accepted_values_tests,
    source_tables,
    staging_source,
)

# Written beside the registry's own columns by every registration.
REGISTRATION_COLUMNS = ("registered_by", "registered_at")


def _path_columns(key: str) -> set[str]:
    """The Hive partition columns (``name=value`` segments) of an object key."""
    return set(re.findall(r"(\w+)=", key))


def _partition_columns() -> set[str]:
    """dt and hour: what hive_partitioning adds to every raw dataset's rows."""
    return _path_columns(Interval.hour_of(datetime(2026, 1, 1, tzinfo=UTC)).partition)


def _classify(table: SourceTable) -> tuple[str, RawDataset | Registry]:
    """What the table reads: a raw dataset, its quarantine or labels, a registry or manifests."""
    for raw in DATASETS.values():
        if table.uri == raw.dataset.glob():
            return "dataset", raw
        if table.uri == raw.dataset.glob(Bucket.QUARANTINE):
            return "quarantine", raw
        if raw.labels is not None and table.uri == raw.labels.glob():
            return "labels", raw
        if table.uri == raw.dataset.manifest_glob():
            return "manifests", raw
    for registry in REGISTRIES.values():
        if table.uri == registry.reference.glob():
            return "registry", registry
    raise AssertionError(
        f"source {table.source}.{table.name} reads {table.uri}, which ingestion does not write"
    )


def _table_reading(uri: str) -> SourceTable:
    tables = [t for t in source_tables() if t.uri == uri]
    assert len(tables) == 1, f"expected one dbt source table reading {uri}, found {tables}"
    return tables[0]


def _schema(raw: RawDataset) -> WireSchema:
    try:
        return raw.schema
    except (ImportError, AttributeError) as error:
        pytest.fail(f"{raw.name}: its wire schema {raw.schema_path} cannot be loaded: {error}")


def _assert_lists_exactly(table: SourceTable, expected: set[str]) -> None:
    listed = table.column_names
    where = f"source {table.source}.{table.name}"
    assert len(listed) == len(set(listed)), f"{where} lists a column twice: {listed}"
    assert set(listed) == expected, (
        f"{where}: written but not listed {sorted(expected - set(listed))}, "
        f"listed but not written {sorted(set(listed) - expected)}"
    )
    undescribed = [c["name"] for c in table.columns if not str(c.get("description", "")).strip()]
    assert not undescribed, f"{where}: columns without a description {undescribed}"


def test_every_dbt_source_reads_what_ingestion_writes() -> None:
    kinds = {(t.source, t.name): _classify(t)[0] for t in source_tables()}

    assert set(kinds.values()) == {"dataset", "quarantine", "labels", "registry", "manifests"}, (
        kinds
    )


def test_every_raw_dataset_and_registry_has_a_dbt_source() -> None:
    read = {t.uri for t in source_tables()}
    written = {raw.name: raw.dataset.glob() for raw in DATASETS.values()} | {
        name: registry.reference.glob() for name, registry in REGISTRIES.items()
    }

    assert not {name for name, uri in written.items() if uri not in read}


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_source_columns_are_the_wire_schemas_valid_columns(name: str) -> None:
    raw = DATASETS[name]
    table = _table_reading(raw.dataset.glob())

    _assert_lists_exactly(table, set(_schema(raw).lake_columns) | _partition_columns())


def _quarantine_sources() -> list[tuple[SourceTable, RawDataset]]:
    found = [(t, _classify(t)) for t in source_tables()]
    return [(table, raw) for table, (kind, raw) in found if kind == "quarantine"]


def test_quarantine_source_columns_are_the_wire_schemas_quarantine_columns() -> None:
    quarantines = _quarantine_sources()

    assert quarantines, "no dbt source reads a quarantine"
    for table, raw in quarantines:
        _assert_lists_exactly(table, set(_schema(raw).quarantine_columns) | _partition_columns())


def test_registry_source_columns_are_the_registries_columns() -> None:
    assert REGISTRIES, "no registries to check"
    for registry in REGISTRIES.values():
        table = _table_reading(registry.reference.glob())
        # The writer's slug is both a column of the file and the path's partition.
        assert _path_columns(registry.reference.registered("writer").key) == {"registered_by"}
        _assert_lists_exactly(table, {*registry.columns, *REGISTRATION_COLUMNS})


def _accepted(field: Field) -> set[str] | None:
    """The values ``field`` accepts with the catalog files; None if no fixed list holds them."""
    if field.allowed is None:
        return None
    if not callable(field.allowed):
        return set(field.allowed)
    try:
        # An empty context: the vocabulary comes from the catalog files.
        return set(field.allowed({}))
    except KeyError:
        return None  # ids of a registry, which grows with every registration


def _problems(test: AcceptedValues, tables: dict[tuple[str, str], SourceTable]) -> list[str]:
    """Why ``test`` disagrees with the wire schema of the data it checks; [] if it agrees."""
    kind, _, name = test.owner.partition(":")
    key = tuple(name.split(".")) if kind == "source" else staging_source(name)
    what, read = _classify(tables[key])
    where = f"{test.owner}.{test.column}"
    if what == "labels":
        return []  # a simulator's ground truth: its vocabulary is the simulator's
    if what != "dataset":
        return [f"{where}: {what} columns have no fixed vocabulary to test against"]
    schema = _schema(read)
    field = next((f for f in schema.fields if f.output_name == test.column), None)
    accepted = None if field is None else _accepted(field)
    if accepted is None:
        return [f"{where}: {schema.name} accepts values no fixed list holds"]
    listed = set(test.values)
    problems = []
    if listed - accepted:
        problems.append(f"{where}: lists {sorted(listed - accepted)}, which {schema.name} rejects")
    if accepted - listed:
        problems.append(f"{where}: fails {sorted(accepted - listed)}, which {schema.name} keeps")
    return problems


def test_accepted_values_are_what_the_wire_schemas_accept() -> None:
    tables = {(t.source, t.name): t for t in source_tables()}
    tests = accepted_values_tests()

    problems = [problem for test in tests for problem in _problems(test, tables)]

    assert tests, "found no accepted_values test: is the YAML still where this test looks?"
    assert not problems, "\n".join(problems)
