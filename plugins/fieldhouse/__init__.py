"""Fieldhouse: the library behind the DAGs (storage, sources, quality, lake, ML)."""
