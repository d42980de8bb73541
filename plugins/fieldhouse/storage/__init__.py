"""Object storage: key layout (``keys``), MinIO access (``objects``), Parquet I/O."""
