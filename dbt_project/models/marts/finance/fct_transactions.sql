{#-
  Incremental: a planned build (see macros/incremental.sql) deletes the rows of
  the customers in int_transactions_affected from each one's first changed
  transaction on, and recomputes them from those customers' transactions alone
  (their whole history, as the features look back over it) and the
  chargebacks that name them, in one lake transaction. Otherwise it is rebuilt
  whole.
-#}
-- depends_on: {{ ref('stg_finance__transactions_landed') }}
-- depends_on: {{ ref('stg_finance__chargebacks_landed') }}
-- depends_on: {{ ref('stg_finance__customers') }}
-- depends_on: {{ ref('int_transactions_affected') }}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    full_refresh=none if var('incremental', false) else true,
    pre_hook="{{ delete_affected_customers(ref('int_transactions_affected')) }}",
) }}

{%- set horizon_days = var('chargeback_label_horizon_days') | int -%}
{%- set as_of = as_of() -%}

with

{% if planned() -%}

affected as (

    select * from {{ ref('int_transactions_affected') }}

),

customer_transactions as (

    -- Every transaction of the affected customers, once, with the time in
    -- microseconds the window features need.
    select landed.*, epoch_us(landed.ts) as ts_us
    from {{ ref('stg_finance__transactions_landed') }} as landed
    semi join affected
        on landed.source = affected.source
        and landed.customer_id = affected.customer_id
    {{ first_ingested('transaction_id', relation='landed') }}

),

customers as (

    select * from {{ ref('stg_finance__customers') }}

),

customer_features as (

    {{ transaction_features('customer_transactions', 'customers') }}

),

transactions as (

    select customer_features.*
    from customer_features
    inner join affected
        on customer_features.source = affected.source
        and customer_features.customer_id = affected.customer_id
    where customer_features.ts >= affected.from_ts

),

chargebacks as (

    select landed.*
    from {{ ref('stg_finance__chargebacks_landed') }} as landed
    semi join transactions
        on landed.source = transactions.source
        and landed.transaction_id = transactions.transaction_id
    {{ first_ingested('chargeback_id', relation='landed') }}

),

latest as (

    select distinct source, latest_ts from affected

),

{%- else %}

transactions as (

    select * from {{ ref('int_transactions_enriched') }}

),

chargebacks as (

    -- As of the var as_of, a chargeback reported at or after it is not known yet.
    select *
    from {{ ref('stg_finance__chargebacks') }}
    where {{ as_of }} is null or reported_at < {{ as_of }}

),

latest as (

    -- Labels mature against the source's own latest transaction (or as_of),
    -- not the lake's: a history that ended years ago has no news of the
    -- chargebacks of its last weeks, whatever another source brought today.
    select
        source,
        coalesce({{ as_of }}, max(ts)) as latest_ts

    from transactions
    group by source

),

{%- endif %}

charged_back as (

    -- One row per disputed transaction, however many chargebacks name it.
    select
        source,
        transaction_id,
        min(reported_at) as charged_back_at,
        count(*) as chargeback_count

    from chargebacks
    group by source, transaction_id

),

final as (

    select
        transactions.source,
        transactions.transaction_id,
        transactions.customer_id,
        transactions.ts,
        transactions.transaction_date,
        transactions.amount,
        transactions.currency,
        transactions.merchant_category,
        transactions.channel,
        transactions.country,
        transactions.device_id,
        transactions.home_country,
        transactions.is_registered_customer,
        transactions.hour_of_day,
        transactions.is_foreign,
        transactions.is_new_country,
        transactions.is_new_device,
        transactions.amount_to_usual_ratio,
        transactions.log_amount,
        transactions.tx_count_1h,
        transactions.tx_count_24h,
        transactions.seconds_since_prev_tx,
        charged_back.transaction_id is not null as is_charged_back,
        charged_back.charged_back_at,
        (epoch_us(charged_back.charged_back_at) - epoch_us(transactions.ts)) / 86400e6
            as days_to_chargeback,
        -- Chargebacks come up to 20 days after the fraud: only a transaction
        -- older than the horizon has had time to get one, so only those rows
        -- have a final label.
        transactions.ts <= latest.latest_ts - to_days({{ horizon_days }}) as label_complete,
        transactions.origin,
        transactions.ingested_at

    from transactions
    inner join latest
        on transactions.source = latest.source
    left join charged_back
        on transactions.source = charged_back.source
        and transactions.transaction_id = charged_back.transaction_id

)

select * from final
