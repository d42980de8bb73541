{#-
  Every copy of every chargeback in raw, typed, kept one ingest partition at a
  time (see stg_finance__transactions_landed).
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    full_refresh=none if var('incremental', false) else true,
    pre_hook="{{ delete_pending_partitions('finance/chargebacks') }}",
) }}

with

source as (

    {{ landed_source(
        'finance/chargebacks',
        source('finance', 'chargebacks'),
        ['chargeback_id', 'transaction_id', 'customer_id', 'reported_at', 'amount', 'currency',
         'reason_code', 'origin', 'ingested_at', 'dt', 'hour'],
    ) }}

),

renamed as (

    select
        cast(chargeback_id as varchar) as chargeback_id,
        cast(transaction_id as varchar) as transaction_id,
        pseudonym(cast(customer_id as varchar)) as customer_id,
        cast(reported_at as timestamptz) as reported_at,
        cast(amount as double) as amount,
        cast(currency as varchar) as currency,
        cast(reason_code as varchar) as reason_code,
        {{ row_source() }} as source,
        cast(origin as varchar) as origin,
        cast(ingested_at as timestamptz) as ingested_at,
        cast(dt as date) as ingest_dt,
        cast(hour as integer) as ingest_hour

    from source

)

select * from renamed
