"""Dagster wiring only: resources, partitions, and one folder of assets per domain."""
