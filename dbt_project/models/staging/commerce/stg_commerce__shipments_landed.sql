{#-
  Every copy of every shipment record in raw, typed, kept one ingest partition at
  a time, like stg_sensors__readings_landed: a planned incremental build deletes the
  rows of the partitions its plan lists and reads only those partitions'
  objects again, in one lake transaction.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    full_refresh=none if var('incremental', false) else true,
    pre_hook="{{ delete_pending_partitions('commerce/shipments') }}",
) }}

with

source as (

    {{ landed_source(
        'commerce/shipments',
        source('commerce', 'shipments'),
        ['shipment_id', 'order_id', 'destination_country', 'destination_region', 'carrier',
         'shipment_mode', 'ordered_at', 'promised_at', 'delivered_at', 'origin', 'ingested_at',
         'dt', 'hour'],
    ) }}

),

renamed as (

    select
        cast(shipment_id as varchar) as shipment_id,
        cast(order_id as varchar) as order_id,
        cast(destination_country as varchar) as destination_country,
        cast(destination_region as varchar) as destination_region,
        cast(carrier as varchar) as carrier,
        cast(shipment_mode as varchar) as shipment_mode,
        cast(ordered_at as timestamptz) as ordered_at,
        cast(promised_at as timestamptz) as promised_at,
        cast(delivered_at as timestamptz) as delivered_at,
        {{ row_source() }} as source,
        cast(origin as varchar) as origin,
        cast(ingested_at as timestamptz) as ingested_at,
        cast(dt as date) as ingest_dt,
        cast(hour as integer) as ingest_hour

    from source

)

select * from renamed
