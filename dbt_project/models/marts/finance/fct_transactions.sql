{%- set horizon_days = var('chargeback_label_horizon_days') | int -%}
{%- set as_of = as_of() -%}

with

transactions as (

    select * from {{ ref('int_transactions_enriched') }}

),

chargebacks as (

    -- As of the var as_of, a chargeback reported at or after it is not known yet.
    select *
    from {{ ref('stg_finance__chargebacks') }}
    where {{ as_of }} is null or reported_at < {{ as_of }}

),

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
