{#-
  Every copy of every transaction in raw, typed, kept one ingest partition at
  a time, like stg_sensors__readings_landed: a planned incremental build
  deletes the rows of the partitions its plan lists and reads only those
  partitions' objects again, in one lake transaction.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    full_refresh=none if var('incremental', false) else true,
    pre_hook="{{ delete_pending_partitions('finance/transactions') }}",
) }}

with

source as (

    {{ landed_source(
        'finance/transactions',
        source('finance', 'transactions'),
        ['transaction_id', 'customer_id', 'ts', 'amount', 'currency', 'merchant_category',
         'channel', 'country', 'device_id', 'origin', 'ingested_at', 'dt', 'hour'],
    ) }}

),

renamed as (

    select
        cast(transaction_id as varchar) as transaction_id,
        pseudonym(cast(customer_id as varchar)) as customer_id,
        cast(ts as timestamptz) as ts,
        -- The UTC calendar day of the transaction.
        cast(timezone('UTC', cast(ts as timestamptz)) as date) as transaction_date,
        cast(amount as double) as amount,
        cast(currency as varchar) as currency,
        cast(merchant_category as varchar) as merchant_category,
        cast(channel as varchar) as channel,
        cast(country as varchar) as country,
        cast(device_id as varchar) as device_id,
        {{ row_source() }} as source,
        cast(origin as varchar) as origin,
        cast(ingested_at as timestamptz) as ingested_at,
        cast(dt as date) as ingest_dt,
        cast(hour as integer) as ingest_hour

    from source

)

select * from renamed
