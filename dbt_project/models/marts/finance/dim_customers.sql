{#
  RFM scores are 1-5 quintiles by rank, 5 best: score = 1 + 5 * (rank - 1) //
  customers, ranking from worst to best. Integer arithmetic, so ties share a
  score and the result does not depend on row order.
#}
{%- set window_days = var('rfm_window_days') | int -%}

with

customers as (

    select * from {{ ref('stg_finance__customers') }}

),

transactions as (

    select * from {{ ref('fct_transactions') }}

),

chargebacks as (

    select * from {{ ref('stg_finance__chargebacks') }}

),

as_of as (

    -- Measured from the latest transaction in the lake, not the clock, so a
    -- rebuild of old data gives the same scores.
    select max(ts) as as_of_ts
    from transactions

),

activity as (

    select
        transactions.customer_id,
        min(transactions.ts) as first_transaction_at,
        max(transactions.ts) as last_transaction_at,
        count(*) as transaction_count,
        sum(transactions.amount) as total_amount,
        avg(transactions.amount) as avg_amount,
        (epoch_us(as_of.as_of_ts) - epoch_us(max(transactions.ts))) / 86400e6
            as recency_days,
        count(*) filter (
            where transactions.ts > as_of.as_of_ts - to_days({{ window_days }})
        ) as frequency,
        coalesce(sum(transactions.amount) filter (
            where transactions.ts > as_of.as_of_ts - to_days({{ window_days }})
        ), 0) as monetary

    from transactions
    cross join as_of
    group by transactions.customer_id, as_of.as_of_ts

),

customer_chargebacks as (

    select customer_id, count(*) as chargeback_count
    from chargebacks
    group by customer_id

),

joined as (

    select
        customers.customer_id,
        customers.home_country,
        customers.currency,
        customers.registered_device_id,
        activity.first_transaction_at,
        activity.last_transaction_at,
        coalesce(activity.transaction_count, 0) as transaction_count,
        coalesce(activity.total_amount, 0) as total_amount,
        activity.avg_amount,
        activity.recency_days,
        coalesce(activity.frequency, 0) as frequency,
        coalesce(activity.monetary, 0) as monetary,
        coalesce(customer_chargebacks.chargeback_count, 0) as chargeback_count,
        activity.customer_id is not null as has_transactions

    from customers
    left join activity
        on customers.customer_id = activity.customer_id
    left join customer_chargebacks
        on customers.customer_id = customer_chargebacks.customer_id

),

scored as (

    -- Only customers with transactions are ranked. Amounts are in each
    -- customer's own currency, so monetary is ranked within a currency.
    select
        customer_id,
        1 + 5 * (rank() over (order by recency_days desc) - 1)
            // count(*) over () as r_score,
        1 + 5 * (rank() over (order by frequency) - 1)
            // count(*) over () as f_score,
        1 + 5 * (rank() over (partition by currency order by monetary) - 1)
            // count(*) over (partition by currency) as m_score

    from joined
    where has_transactions

),

final as (

    select
        joined.customer_id,
        joined.home_country,
        joined.currency,
        joined.registered_device_id,
        joined.first_transaction_at,
        joined.last_transaction_at,
        joined.transaction_count,
        joined.total_amount,
        joined.avg_amount,
        joined.recency_days,
        joined.frequency,
        joined.monetary,
        scored.r_score,
        scored.f_score,
        scored.m_score,
        case
            when not joined.has_transactions then 'inactive'
            when scored.r_score >= 4 and scored.f_score >= 4 and scored.m_score >= 4
                then 'champions'
            when scored.r_score >= 3 and scored.f_score >= 3 then 'loyal'
            when scored.r_score >= 4 then 'new'
            when scored.f_score >= 3 then 'at_risk'
            else 'hibernating'
        end as rfm_segment,
        joined.chargeback_count

    from joined
    left join scored
        on joined.customer_id = scored.customer_id

)

select * from final
