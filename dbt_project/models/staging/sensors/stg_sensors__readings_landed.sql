{#-
  Every copy of every reading in raw, typed, kept one ingest partition at a
  time. A full build reads every partition; an incremental build (the
  transform DAG's, with the var `incremental`) replaces only the partitions
  its plan lists in meta.pending_partitions: the rows those partitions held
  are deleted and what they hold now is read, from those partitions' objects
  alone, in one lake transaction.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    full_refresh=none if var('incremental', false) else true,
    pre_hook="{{ delete_pending_partitions('sensors/readings') }}",
) }}

with

source as (

    {{ landed_source(
        'sensors/readings',
        source('sensors', 'readings'),
        ['event_id', 'device_id', 'metric', 'value', 'event_ts', 'origin', 'ingested_at', 'dt', 'hour'],
    ) }}

),

renamed as (

    select
        cast(event_id as varchar) as event_id,
        cast(device_id as varchar) as device_id,
        cast(metric as varchar) as metric,
        cast(value as double) as value,
        cast(event_ts as timestamptz) as event_ts,
        {{ utc_hour('cast(event_ts as timestamptz)') }} as event_hour,
        {{ row_source() }} as source,
        cast(origin as varchar) as origin,
        cast(ingested_at as timestamptz) as ingested_at,
        cast(dt as date) as ingest_dt,
        cast(hour as integer) as ingest_hour

    from source

)

select * from renamed
