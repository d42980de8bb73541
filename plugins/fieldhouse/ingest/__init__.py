"""Ingestion: from sources to validated raw/ partitions with quarantine and manifests."""
