"""The dbt project's sources and staging models as YAML declares them, for the lake tests."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from fieldhouse.config import dbt_project_dir

STAGING = "models/staging"
_SOURCE_CALL = re.compile(r"source\(\s*'(\w+)'\s*,\s*'(\w+)'\s*\)")
_LANDED_REF = re.compile(r"ref\(\s*'(\w+_landed)'\s*\)")


@dataclass(frozen=True)
class SourceTable:
    """One table of a dbt source: where it reads and the columns it lists."""

    source: str
    name: str
    location: str  # the external_location, as written
    columns: tuple[dict[str, Any], ...]
    loaded_at_query: str | None = None

    @property
    def uri(self) -> str:
        """The s3:// URI (or glob) that the external location reads."""
        return quoted_uri(self.location)

    @property
    def column_names(self) -> list[str]:
        return [column["name"] for column in self.columns]


@dataclass(frozen=True)
class AcceptedValues:
    """One accepted_values test: on a source table's column or a staging model's."""

    owner: str  # "source:<source>.<table>" or "model:<name>"
    column: str
    values: tuple[Any, ...]


def quoted_uri(location: str) -> str:
    """The single-quoted s3:// URI inside an external location or query."""
    match = re.search(r"'(s3://[^']+)'", location)
    assert match, f"no s3:// URI in {location!r}"
    return match.group(1)


def source_tables() -> list[SourceTable]:
    """Every table of every `_<source>__sources.yml` under the staging models."""
    tables = []
    for path in sorted((dbt_project_dir() / STAGING).glob("*/_*__sources.yml")):
        for source in yaml.safe_load(path.read_text())["sources"]:
            for table in source["tables"]:
                config = table.get("config", {})
                tables.append(
                    SourceTable(
                        source=source["name"],
                        name=table["name"],
                        location=config["meta"]["external_location"],
                        columns=tuple(table.get("columns", ())),
                        loaded_at_query=config.get("loaded_at_query"),
                    )
                )
    return tables


def source_locations(name: str) -> dict[str, str]:
    """The external location of each table of source ``name``."""
    return {t.name: t.location for t in source_tables() if t.source == name}


def staging_source(model: str) -> tuple[str, str]:
    """The (source, table) a staging model selects from, read from its SQL.

    A view over a landed copy (``ref('..._landed')``) reads what that copy reads.
    """
    (path,) = (dbt_project_dir() / STAGING).glob(f"*/{model}.sql")
    sql = path.read_text()
    calls = set(_SOURCE_CALL.findall(sql))
    landed = set(_LANDED_REF.findall(sql))
    if not calls and len(landed) == 1:
        return staging_source(landed.pop())
    assert len(calls) == 1, f"{model} should read exactly one source table, reads {calls}"
    return calls.pop()


def accepted_values_tests() -> list[AcceptedValues]:
    """Every accepted_values test declared on a source column or a staging model column."""
    found = [
        test
        for table in source_tables()
        for test in _accepted_values(f"source:{table.source}.{table.name}", table.columns)
    ]
    for path in sorted((dbt_project_dir() / STAGING).glob("*/_*__models.yml")):
        for model in yaml.safe_load(path.read_text()).get("models", []):
            found.extend(_accepted_values(f"model:{model['name']}", model.get("columns", ())))
    return found


def _accepted_values(owner: str, columns: Any) -> Iterator[AcceptedValues]:
    for column in columns:
        for test in column.get("data_tests", ()):
            if isinstance(test, dict) and "accepted_values" in test:
                spec = test["accepted_values"]
                values = spec.get("arguments", spec)["values"]
                yield AcceptedValues(owner, column["name"], tuple(values))
