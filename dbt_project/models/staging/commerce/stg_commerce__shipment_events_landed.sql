{#-
  Every copy of every scan in raw, typed, kept one ingest partition at a time,
  like stg_sensors__readings_landed: a planned incremental build deletes the
  rows of the partitions its plan lists and reads only those partitions'
  objects again, in one lake transaction.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    full_refresh=none if var('incremental', false) else true,
    pre_hook="{{ delete_pending_partitions('commerce/shipment_events') }}",
) }}

with

source as (

    {{ landed_source(
        'commerce/shipment_events',
        source('commerce', 'shipment_events'),
        ['event_id', 'shipment_id', 'order_id', 'carrier', 'event_type', 'event_ts', 'location',
         'origin', 'ingested_at', 'dt', 'hour'],
    ) }}

),

renamed as (

    select
        cast(event_id as varchar) as event_id,
        cast(shipment_id as varchar) as shipment_id,
        cast(order_id as varchar) as order_id,
        cast(carrier as varchar) as carrier,
        cast(event_type as varchar) as event_type,
        cast(event_ts as timestamptz) as event_ts,
        cast(location as varchar) as location,
        {{ row_source() }} as source,
        cast(origin as varchar) as origin,
        cast(ingested_at as timestamptz) as ingested_at,
        cast(dt as date) as ingest_dt,
        cast(hour as integer) as ingest_hour

    from source

)

select * from renamed
