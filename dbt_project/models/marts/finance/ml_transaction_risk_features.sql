{#-
  Incremental: a planned build replaces the rows fct_transactions recomputed
  (the customers of int_transactions_affected from their first change on), in
  one lake transaction. Otherwise it is rebuilt whole.
-#}
-- depends_on: {{ ref('int_transactions_affected') }}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    full_refresh=none if var('incremental', false) else true,
    pre_hook="{{ delete_affected_customers(ref('int_transactions_affected')) }}",
) }}

with

transactions as (

    {% if planned() -%}
    select fct.*
    from {{ ref('fct_transactions') }} as fct
    inner join {{ ref('int_transactions_affected') }} as affected
        on fct.source = affected.source
        and fct.customer_id = affected.customer_id
    where fct.ts >= affected.from_ts
    {%- else -%}
    select * from {{ ref('fct_transactions') }}
    {%- endif %}

),

final as (

    -- The risk model's inputs: keys, time, features, the label and whether it
    -- is final. Nothing here is known only after the transaction but the label.
    select
        source,
        transaction_id,
        customer_id,
        ts,
        transaction_date,
        amount,
        currency,
        merchant_category,
        channel,
        country,
        device_id,
        home_country,
        hour_of_day,
        is_foreign,
        is_new_country,
        is_new_device,
        amount_to_usual_ratio,
        log_amount,
        tx_count_1h,
        tx_count_24h,
        seconds_since_prev_tx,
        is_charged_back,
        label_complete

    from transactions

)

select * from final
