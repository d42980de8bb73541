"""The Airflow tasks of an hourly multi-feed ingestion DAG, built in one place.

:func:`plan_hours` splits a run's data interval into hours. Each feed of a
:class:`fieldhouse.ingest.feeds.Source` gets a task group: one
mapped ``ingest_hour`` per hour of the run, then ``reconcile_counts``, which
fails the run if any hour lost rows and otherwise publishes the feed's asset
with the run's totals. DAG files call :func:`feed_groups` and stay wiring only.

Nothing heavy is imported here: the source (pandas, the validation rules) is
imported by name inside the tasks, so DAG files parse in milliseconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow.sdk import Asset, task, task_group


@task
def plan_hours(data_interval_start=None, data_interval_end=None) -> list[dict]:
    """The hours of the run's data interval, as ``ingest_hour`` arguments."""
    from fieldhouse.ingest import partitions

    return partitions.plan_hours(data_interval_start, data_interval_end)


def feed_groups(source: str, hours: Any, assets: Mapping[str, Asset]) -> list[Any]:
    """One task group per feed of ``source`` (``"module:ATTRIBUTE"``), over ``hours``.

    ``hours`` is the output of a ``plan_hours`` task; ``assets`` maps each feed
    name to the asset its group publishes. Returns the groups, to wire upstream
    tasks to.
    """
    return [_feed_group(source, feed_name, asset, hours) for feed_name, asset in assets.items()]


def _feed_group(source: str, feed_name: str, asset: Asset, hours: Any) -> Any:
    @task_group(group_id=feed_name, tooltip=f"Validate and write {feed_name}, hour by hour")
    def feed():
        @task(max_active_tis_per_dagrun=2)
        def ingest_hour(hour_start: str, claim_landing: bool, params=None) -> dict:
            import importlib

            from fieldhouse.config import StorageSettings
            from fieldhouse.ingest.feeds import ingest_source_hour
            from fieldhouse.storage.keys import Interval
            from fieldhouse.storage.objects import ObjectStore

            module, attribute = source.split(":")
            described = getattr(importlib.import_module(module), attribute)
            manifest = ingest_source_hour(
                ObjectStore(StorageSettings.from_airflow()),
                described,
                feed_name,
                Interval.parse(hour_start),
                described.options_type(**params),
                claim_landing=claim_landing,
            )
            return manifest.as_dict()

        @task(outlets=[asset])
        def reconcile_counts(manifests: list[dict], outlet_events=None) -> dict:
            from fieldhouse.ingest.partitions import summarize

            summary = summarize(manifests)
            outlet_events[asset].extra = summary
            return summary

        reconcile_counts(ingest_hour.expand_kwargs(hours))

    return feed()
