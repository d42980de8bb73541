{#-
  One row per ingested hour, kept one manifest at a time: an incremental build
  replaces only the hours whose manifest is new or rewritten since the last
  build (as stg_sensors__readings_landed does with readings), so this table and
  its tests do not read every manifest again.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    full_refresh=none if var('incremental', false) else true,
    pre_hook="{{ delete_pending_partitions('_manifests/sensors/readings') }}",
) }}

with

source as (

    {% if planned() -%}
    {{ pending_partitions_read(
        '_manifests/sensors/readings',
        source('sensors', 'ingest_manifests'),
        [
            'dataset', 'interval_start timestamptz', 'interval_end timestamptz',
            'rows_in bigint', 'rows_written bigint', 'rows_quarantined bigint',
            'reasons map(varchar, bigint)', 'files varchar[]',
            'files_rejected map(varchar, varchar)', 'ingested_at timestamptz',
            'run_at timestamptz', 'dt date', 'hour integer',
        ],
    ) }}
    {%- else -%}
    select * from {{ source('sensors', 'ingest_manifests') }}
    {%- endif %}

),

renamed as (

    select
        cast(dataset as varchar) as dataset,
        cast(interval_start as timestamptz) as interval_start,
        cast(interval_end as timestamptz) as interval_end,
        cast(rows_in as bigint) as rows_in,
        cast(rows_written as bigint) as rows_written,
        cast(rows_quarantined as bigint) as rows_quarantined,
        cast(reasons as map(varchar, bigint)) as quarantine_reasons,
        cast(coalesce(len(files), 0) as integer) as landing_files_read,
        cast(coalesce(cardinality(files_rejected), 0) as integer) as landing_files_rejected,
        cast(ingested_at as timestamptz) as ingested_at,
        cast(run_at as timestamptz) as run_at,
        cast(dt as date) as ingest_dt,
        cast(hour as integer) as ingest_hour

    from source

)

select * from renamed
