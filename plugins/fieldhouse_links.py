"""Links from the Airflow UI to the rest of the platform: dbt docs and the MinIO console."""

from __future__ import annotations

import os

from airflow.plugins_manager import AirflowPlugin


class FieldhouseLinks(AirflowPlugin):
    """Adds "dbt docs" and "MinIO console" to the navigation bar of the Airflow UI."""

    name = "fieldhouse_links"
    external_views = [
        {
            "name": "dbt docs",
            "href": os.environ.get("FIELDHOUSE_DOCS_URL", "http://127.0.0.1:8081"),
            "destination": "nav",
            "category": "browse",
        },
        {
            "name": "MinIO console",
            "href": os.environ.get("FIELDHOUSE_MINIO_CONSOLE_URL", "http://127.0.0.1:9001"),
            "destination": "nav",
            "category": "browse",
        },
    ]
