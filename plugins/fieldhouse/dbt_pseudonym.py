"""dbt-duckdb plugin: the ``pseudonym(text)`` SQL function staging models call.

Registered on every connection dbt opens (``plugins:`` in dbt_project/profiles.yml),
so the key stays in this process's environment and never appears in compiled
SQL, dbt's artifacts or the docs site. See :mod:`fieldhouse.pseudonym`.
"""

from __future__ import annotations

from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection

from fieldhouse import pseudonym


class Plugin(BasePlugin):
    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        pseudonym.register(conn)  # fails the build at once, with what to set, when no key
