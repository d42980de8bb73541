"""
### Transform the lake

Runs `dbt build` over `dbt_project/` whenever new raw data lands (only the
domains, sensors, market, commerce and finance, that have raw data): staging views
type and deduplicate the raw Parquet in MinIO, intermediate models flag spikes and
stuck sensors, and the marts are written as DuckLake tables (Parquet in
`s3://lake/`, catalog in PostgreSQL). Every model's tests run as part of the
build, so a mart that fails a test is not published. The build takes a slot in
the `lake_writers` pool; training, drift checks and people's queries go on while
it runs.

* Starts on any update of a raw asset (**raw.sensor_readings**,
  **raw.price_bars**, **raw.orders**, **raw.shipment_events**,
  **raw.transactions**, **raw.chargebacks**); no clock schedule.
* Regenerates the **dbt docs** after each build, so the served docs always
  describe what is in the lake.
* Publishes the mart assets (`lake.fct_sensor_readings_hourly`,
  `lake.fct_market_daily`, …) that the ML DAGs follow.
* Builds incrementally: the raw partitions new or rewritten since the last
  build are reloaded, and only what they touch is recomputed: event hours in
  the sensor marts, customers from their first changed transaction on in the
  finance marts, series (with their calendar's peers) from the first day a
  change reaches in the market mart, shipments whose scans, record or order
  changed in the commerce tables (the per-country delivery summary is rebuilt
  from them). Where each
  raw dataset stands is logged and kept in `lake.meta.watermarks`.
* Leaves compaction and snapshot expiry to `maintain_lake` (daily).

Every source (namespace: `simulator`, or a feed contract's `source`) is kept
apart in the marts, and each trailing window (delivery percentiles, RFM) and
label horizon ends at its own series' latest data, never at the latest row
anywhere in the lake.

**Trigger by hand** to rebuild with, under *Params*:

* `as_of`: a date (UTC, `2015-06-30`; the window ends at the end of that day).
  The marts are built as the lake stood then: every window and label horizon
  ends at as_of, and what happened from then on is left out. Empty: each series
  ends at its own latest data.
* `sources`: the sources to build (e.g. `scms_shipments`); the others' rows are
  left out of every model. Empty: all of them.

* `full_refresh`: rebuild every model from all raw data (`dbt build
  --full-refresh` by hand). The first build, and any build with as_of or
  sources (and the build after it), is a full one anyway.

as_of and sources are passed to dbt as vars (see `dbt_project/dbt_project.yml`). The marts
then stay that way, and the ML DAGs follow them, until the next run rebuilds
them with the defaults (any new raw data starts one).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import AssetAny, Param, dag, task

from fieldhouse.assets import ALL_MARTS, RAW_ASSETS
from fieldhouse.config import LAKE_WRITERS_POOL


def _dbt_vars(params: dict) -> dict:
    """The run's Params as dbt vars: only those set, so dbt_project.yml's defaults hold."""
    chosen = {"as_of": params.get("as_of") or None, "sources": list(params.get("sources") or [])}
    return {name: value for name, value in chosen.items() if value}


@dag(
    schedule=AssetAny(*RAW_ASSETS),
    start_date=datetime(2026, 11, 1, tzinfo=UTC),
    catchup=False,
    # One build at a time: two would replace the same tables. Other writers
    # (training, drift checks) and readers go on while it runs.
    max_active_runs=1,
    doc_md=__doc__,
    tags=["transform", "dbt", "lake"],
    default_args={
        "owner": "data-platform",
        "retries": 2,
        "retry_delay": timedelta(seconds=30),
    },
    params={
        "as_of": Param(
            None,
            type=["null", "string"],
            format="date",
            description=(
                "Build the marts as of the end of this UTC date: windows and label horizons "
                "end there, later rows are left out. Empty: each series' own latest data."
            ),
        ),
        "sources": Param(
            [],
            type="array",
            items={"type": "string"},
            description=(
                "Build only these sources (simulator, or a feed contract's source such as "
                "scms_shipments). Empty: all of them."
            ),
        ),
        "full_refresh": Param(
            False,
            type="boolean",
            description=(
                "Rebuild every model from all raw data instead of only what changed since "
                "the last build."
            ),
        ),
    },
)
def transform_lake():
    @task
    def check_source_freshness() -> str:
        from fieldhouse.config import StorageSettings
        from fieldhouse.lake import run_dbt

        # Stale sources warn in the log; only a build failure stops the run.
        result = run_dbt(
            ["source", "freshness"], StorageSettings.for_role("transform"), check=False
        )
        return "ok" if result.success else "stale or unreachable sources (see log)"

    @task(outlets=ALL_MARTS, pool=LAKE_WRITERS_POOL)
    def build_models(params=None) -> list[str]:
        from fieldhouse.config import StorageSettings
        from fieldhouse.lake import build_lake, domains_with_data
        from fieldhouse.storage.objects import ObjectStore

        params = params or {}
        settings = StorageSettings.for_role("transform")
        store = ObjectStore(settings)
        domains = domains_with_data(store)
        build_lake(
            settings,
            store,
            domains,
            vars=_dbt_vars(params),
            full_refresh=bool(params.get("full_refresh")),
        )
        return domains

    @task
    def generate_docs() -> None:
        from fieldhouse.config import StorageSettings
        from fieldhouse.lake import run_dbt

        run_dbt(["docs", "generate"], StorageSettings.for_role("transform"))

    check_source_freshness() >> build_models() >> generate_docs()


transform_lake()
