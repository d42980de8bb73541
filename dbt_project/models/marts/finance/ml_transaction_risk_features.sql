with

transactions as (

    select * from {{ ref('fct_transactions') }}

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
