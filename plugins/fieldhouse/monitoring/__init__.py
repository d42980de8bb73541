"""Monitoring of data the platform produces: drift of features against a reference."""
