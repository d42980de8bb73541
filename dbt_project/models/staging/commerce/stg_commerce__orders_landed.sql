{#-
  Every copy of every order in raw, typed, kept one ingest partition at a time,
  like stg_sensors__readings_landed: a planned incremental build deletes the
  rows of the partitions its plan lists and reads only those partitions'
  objects again, in one lake transaction.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    full_refresh=none if var('incremental', false) else true,
    pre_hook="{{ delete_pending_partitions('commerce/orders') }}",
) }}

with

source as (

    {{ landed_source(
        'commerce/orders',
        source('commerce', 'orders'),
        ['order_id', 'customer_id', 'ordered_at', 'destination_country', 'destination_region',
         'currency', 'amount', 'item_count', 'promised_at', 'origin', 'ingested_at', 'dt', 'hour'],
    ) }}

),

renamed as (

    select
        cast(order_id as varchar) as order_id,
        pseudonym(cast(customer_id as varchar)) as customer_id,
        cast(ordered_at as timestamptz) as ordered_at,
        -- The UTC calendar day the order was placed on.
        cast(timezone('UTC', cast(ordered_at as timestamptz)) as date) as order_date,
        cast(destination_country as varchar) as destination_country,
        cast(destination_region as varchar) as destination_region,
        cast(currency as varchar) as currency,
        cast(amount as double) as amount,
        cast(item_count as integer) as item_count,
        cast(promised_at as timestamptz) as promised_at,
        {{ row_source() }} as source,
        cast(origin as varchar) as origin,
        cast(ingested_at as timestamptz) as ingested_at,
        cast(dt as date) as ingest_dt,
        cast(hour as integer) as ingest_hour

    from source

)

select * from renamed
