"""Links from the Airflow UI to the rest of the platform: models, drift, dbt docs, MinIO."""

from __future__ import annotations

import os

from airflow.plugins_manager import AirflowPlugin

# (name, environment variable holding its public URL, default URL)
LINKS = (
    ("MLflow models", "FIELDHOUSE_MLFLOW_URL", "http://127.0.0.1:5000"),
    ("Evidently drift", "FIELDHOUSE_EVIDENTLY_UI_URL", "http://127.0.0.1:8000"),
    ("dbt docs", "FIELDHOUSE_DOCS_URL", "http://127.0.0.1:8081"),
    ("MinIO console", "FIELDHOUSE_MINIO_CONSOLE_URL", "http://127.0.0.1:9001"),
)


class FieldhouseLinks(AirflowPlugin):
    """Adds the platform's other UIs to the Airflow UI's "Browse" menu."""

    name = "fieldhouse_links"
    external_views = [
        {
            "name": name,
            "href": os.environ.get(variable, default),
            "destination": "nav",
            "category": "browse",
        }
        for name, variable, default in LINKS
    ]
