"""The Airflow tasks of an hourly ingestion DAG, built in one place for every source.

:func:`ingest_source_tasks` wires a whole ingestion DAG: ``plan_hours`` splits
the run's data interval into hours, ``register`` writes the source's registry
entries (when it has any), and each feed of the
:class:`fieldhouse.ingest.feeds.Source` gets a task group: one mapped
``ingest_hour`` per hour of the run, then ``reconcile_counts``, which fails the
run if any hour lost rows and otherwise publishes the feed's asset with the
run's totals. DAG files call it and stay wiring only.

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


@task
def register(source: str, params=None) -> Any:
    """Write the source's registry entries (simulated fleet, customers, catalog, files)."""
    from fieldhouse.config import StorageSettings
    from fieldhouse.ingest.feeds import allowed_options
    from fieldhouse.ingest.sources import SOURCES
    from fieldhouse.storage.objects import ObjectStore

    described = SOURCES[source]
    store = ObjectStore(StorageSettings.for_role("ingest"))
    return described.register(store, allowed_options(described.options_type(**params)))


def ingest_source_tasks(source: str, assets: Mapping[str, Asset], *, registers: bool) -> None:
    """The tasks of one ingestion DAG: plan, register (if ``registers``), a group per feed.

    ``source`` names one of :data:`fieldhouse.ingest.sources.SOURCES`; ``assets``
    maps each of its feeds to the asset that feed's group publishes.
    """
    hours = plan_hours()
    groups = [_feed_group(source, feed_name, asset, hours) for feed_name, asset in assets.items()]
    if registers:
        register.override(task_id="register")(source) >> groups


def _feed_group(source: str, feed_name: str, asset: Asset, hours: Any) -> Any:
    @task_group(group_id=feed_name, tooltip=f"Validate and write {feed_name}, hour by hour")
    def feed():
        @task(max_active_tis_per_dagrun=2)
        def ingest_hour(hour_start: str, claim_landing: bool, params=None) -> dict:
            from fieldhouse.config import StorageSettings
            from fieldhouse.ingest.feeds import ingest_source_hour
            from fieldhouse.ingest.sources import SOURCES
            from fieldhouse.storage.keys import Interval
            from fieldhouse.storage.objects import ObjectStore

            described = SOURCES[source]
            manifest = ingest_source_hour(
                ObjectStore(StorageSettings.for_role("ingest")),
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
