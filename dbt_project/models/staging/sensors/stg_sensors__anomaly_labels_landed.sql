{#-
  The simulator's labels as raw holds them, typed, kept one ingest partition at
  a time like stg_sensors__readings_landed: an incremental build replaces only
  the partitions its plan lists, so neither this table nor the labels view on
  it reads every partition of raw again.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    full_refresh=none if var('incremental', false) else true,
    pre_hook="{{ delete_pending_partitions('sensors/anomaly_labels') }}",
) }}

with

source as (

    -- Only the simulators write these labels: a lake without them has none.
    {{ landed_source(
        'sensors/anomaly_labels',
        source('sensors', 'anomaly_labels'),
        [
            'event_id', 'device_id', 'metric', 'event_ts timestamptz', 'fault', 'dt date',
            'hour integer',
        ],
        optional=true,
    ) }}

),

renamed as (

    select
        cast(event_id as varchar) as event_id,
        cast(device_id as varchar) as device_id,
        cast(metric as varchar) as metric,
        cast(event_ts as timestamptz) as event_ts,
        {{ utc_hour('cast(event_ts as timestamptz)') }} as event_hour,
        cast(fault as varchar) as fault,
        cast(dt as date) as ingest_dt,
        cast(hour as integer) as ingest_hour

    from source

)

select * from renamed
