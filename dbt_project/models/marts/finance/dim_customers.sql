{#
  RFM scores are 1-5 quintiles by rank, 5 best: score = 1 + 5 * (rank - 1) //
  customers, ranking from worst to best. Integer arithmetic, so ties share a
  score and the result does not depend on row order. Customers are ranked
  among the customers of their own source.
#}
{%- set window_days = var('rfm_window_days') | int -%}
{%- set as_of = as_of() -%}

with

customers as (

    select * from {{ ref('stg_finance__customers') }}

),

transactions as (

    select * from {{ ref('fct_transactions') }}

),

chargebacks as (

    -- As of the var as_of, a chargeback reported at or after it is not known yet.
    select *
    from {{ ref('stg_finance__chargebacks') }}
    where {{ as_of }} is null or reported_at < {{ as_of }}

),

anchors as (

    -- Each source is measured from its own latest transaction (or as_of), not
    -- the clock, so a rebuild of old data gives the same scores, and not the
    -- lake's latest row, so one source's new transactions never make another
    -- source's customers look lapsed.
    select
        source,
        coalesce({{ as_of }}, max(ts)) as as_of_ts

    from transactions
    group by source

),

activity as (

    select
        transactions.source,
        transactions.customer_id,
        min(transactions.ts) as first_transaction_at,
        max(transactions.ts) as last_transaction_at,
        count(*) as transaction_count,
        sum(transactions.amount) as total_amount,
        avg(transactions.amount) as avg_amount,
        -- The account's currency for a customer the registry does not know.
        arg_max(transactions.currency, transactions.ts) as latest_currency,
        (epoch_us(anchors.as_of_ts) - epoch_us(max(transactions.ts))) / 86400e6
            as recency_days,
        count(*) filter (
            where transactions.ts > anchors.as_of_ts - to_days({{ window_days }})
        ) as frequency,
        coalesce(sum(transactions.amount) filter (
            where transactions.ts > anchors.as_of_ts - to_days({{ window_days }})
        ), 0) as monetary

    from transactions
    inner join anchors
        on transactions.source = anchors.source
    group by transactions.source, transactions.customer_id, anchors.as_of_ts

),

customer_chargebacks as (

    select source, customer_id, count(*) as chargeback_count
    from chargebacks
    group by source, customer_id

),

known as (

    -- Every registered customer, and every customer with transactions: a
    -- source without a registry (a landing file's history) has customers too.
    select
        coalesce(customers.source, activity.source) as source,
        coalesce(customers.customer_id, activity.customer_id) as customer_id,
        customers.customer_id is not null as is_registered_customer,
        customers.home_country,
        coalesce(customers.currency, activity.latest_currency) as currency,
        customers.registered_device_id,
        activity.first_transaction_at,
        activity.last_transaction_at,
        coalesce(activity.transaction_count, 0) as transaction_count,
        coalesce(activity.total_amount, 0) as total_amount,
        activity.avg_amount,
        activity.recency_days,
        coalesce(activity.frequency, 0) as frequency,
        coalesce(activity.monetary, 0) as monetary,
        activity.customer_id is not null as has_transactions

    from customers
    full outer join activity
        on customers.source = activity.source
        and customers.customer_id = activity.customer_id

),

joined as (

    select
        known.*,
        coalesce(customer_chargebacks.chargeback_count, 0) as chargeback_count

    from known
    left join customer_chargebacks
        on known.source = customer_chargebacks.source
        and known.customer_id = customer_chargebacks.customer_id

),

scored as (

    -- Only customers with transactions are ranked, against the customers of
    -- their source. Amounts are in each customer's own currency, so monetary
    -- is ranked within a currency.
    select
        source,
        customer_id,
        1 + 5 * (rank() over (partition by source order by recency_days desc) - 1)
            // count(*) over (partition by source) as r_score,
        1 + 5 * (rank() over (partition by source order by frequency) - 1)
            // count(*) over (partition by source) as f_score,
        1 + 5 * (rank() over (partition by source, currency order by monetary) - 1)
            // count(*) over (partition by source, currency) as m_score

    from joined
    where has_transactions

),

final as (

    select
        joined.source,
        joined.customer_id,
        joined.is_registered_customer,
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
        on joined.source = scored.source
        and joined.customer_id = scored.customer_id

)

select * from final
