{#-
  Labelled anomaly windows as raw holds them, typed, every copy, kept one
  ingest partition at a time like stg_sensors__readings_landed. The windows
  view on it keeps the chosen sources and one copy of each window.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    full_refresh=none if var('incremental', false) else true,
    pre_hook="{{ delete_pending_partitions('sensors/anomaly_windows') }}",
) }}

with

source as (

    -- Windows land only when someone sends labels; most lakes start without any.
    {{ landed_source(
        'sensors/anomaly_windows',
        source('sensors', 'anomaly_windows'),
        [
            'window_id', 'device_id', 'metric', 'window_start timestamptz',
            'window_end timestamptz', 'label', 'origin', 'ingested_at timestamptz',
            'dt date', 'hour integer',
        ],
        optional=true,
    ) }}

),

renamed as (

    select
        cast(window_id as varchar) as window_id,
        cast(device_id as varchar) as device_id,
        cast(metric as varchar) as metric,
        cast(window_start as timestamptz) as window_start,
        cast(window_end as timestamptz) as window_end,
        cast(label as varchar) as label,
        {{ row_source() }} as source,
        cast(origin as varchar) as origin,
        cast(ingested_at as timestamptz) as ingested_at,
        cast(dt as date) as ingest_dt,
        cast(hour as integer) as ingest_hour

    from source

)

select * from renamed
