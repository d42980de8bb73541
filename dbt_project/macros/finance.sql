{#
  transaction_features(transactions, customers): each row of `transactions`
  (typed transactions with ts_us, the time in microseconds) with the window
  features of int_transactions_enriched, computed against the same customer's
  earlier rows in `transactions`, and the customer's registry entry from
  `customers`. Used by int_transactions_enriched over every transaction, and by
  an incremental build of fct_transactions over the customers it recomputes.
#}
{% macro transaction_features(transactions, customers) -%}
with

windowed as (

    select
        *,
        -- RANGE frames on the time, not row offsets: the transactions at most
        -- one hour (one day) before, this one excluded.
        count(*) over (
            partition by source, customer_id order by ts_us
            range between 3600000000 preceding and current row
            exclude current row
        ) as tx_count_1h,
        count(*) over (
            partition by source, customer_id order by ts_us
            range between 86400000000 preceding and current row
            exclude current row
        ) as tx_count_24h,
        (ts_us - lag(ts_us) over in_order) / 1e6 as seconds_since_prev_tx,
        median(amount) over (
            partition by source, customer_id order by ts, transaction_id
            rows between 50 preceding and 1 preceding
        ) as usual_amount,
        row_number() over (
            partition by source, customer_id, country order by ts, transaction_id
        ) = 1 as is_first_in_country,
        row_number() over (
            partition by source, customer_id, device_id order by ts, transaction_id
        ) = 1 as is_first_on_device

    from {{ transactions }}
    window in_order as (partition by source, customer_id order by ts, transaction_id)

),

enriched as (

    select
        windowed.source,
        windowed.transaction_id,
        windowed.customer_id,
        windowed.ts,
        windowed.transaction_date,
        windowed.amount,
        windowed.currency,
        windowed.merchant_category,
        windowed.channel,
        windowed.country,
        windowed.device_id,
        customers.home_country,
        customers.registered_device_id,
        customers.customer_id is not null as is_registered_customer,
        hour(timezone('UTC', windowed.ts)) as hour_of_day,
        -- Unknown (false) for a customer missing from the registry.
        coalesce(windowed.country <> customers.home_country, false) as is_foreign,
        windowed.is_first_in_country as is_new_country,
        windowed.is_first_on_device
            and windowed.device_id is distinct from customers.registered_device_id
            as is_new_device,
        windowed.usual_amount,
        coalesce(windowed.amount / windowed.usual_amount, 1.0) as amount_to_usual_ratio,
        ln(windowed.amount) as log_amount,
        windowed.tx_count_1h,
        windowed.tx_count_24h,
        windowed.seconds_since_prev_tx,
        windowed.origin,
        windowed.ingested_at

    from windowed
    left join {{ customers }} as customers
        on windowed.source = customers.source
        and windowed.customer_id = customers.customer_id

)

select * from enriched
{%- endmacro %}
