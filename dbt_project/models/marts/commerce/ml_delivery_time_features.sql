{%- set horizon_days = var('delivery_label_horizon_days') | int -%}

with

shipments as (

    select * from {{ ref('int_shipments_summarized') }}

),

scans as (

    select * from {{ ref('stg_commerce__shipment_events') }}

),

latest_scan as (

    select max(event_ts) as latest_scan_at
    from scans

),

final as (

    select
        shipments.shipment_id,
        shipments.order_id,
        shipments.customer_id,
        shipments.ordered_at,
        shipments.order_date,
        shipments.destination_country,
        shipments.carrier,
        shipments.destination_country = 'US' as is_domestic,
        month(timezone('UTC', shipments.ordered_at)) as order_month,
        isodow(timezone('UTC', shipments.ordered_at)) as order_day_of_week,
        hour(timezone('UTC', shipments.ordered_at)) as order_hour,
        shipments.item_count,
        shipments.amount,
        shipments.currency,
        shipments.delivered_at,
        shipments.delivery_days,
        shipments.is_delivered,
        shipments.had_exception,
        -- An order placed at least the horizon before the latest scan has a
        -- known outcome: delivered, or not delivered within the horizon.
        -- Training only on these rows keeps slow deliveries from being
        -- under-represented among recent orders.
        shipments.ordered_at <= latest_scan.latest_scan_at - to_days({{ horizon_days }})
            as label_complete

    from shipments
    cross join latest_scan
    where shipments.has_order

)

select * from final
