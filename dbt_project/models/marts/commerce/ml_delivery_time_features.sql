{%- set horizon_days = var('delivery_label_horizon_days') | int -%}

with

shipments as (

    select * from {{ ref('int_shipments_summarized') }}

),

latest_seen as (

    -- The latest thing the lake has heard of any shipment: a scan, or the
    -- delivery of a shipment exported whole (those have no scans). Equal to
    -- the latest scan while every shipment is scanned.
    select max(greatest(last_scan_at, delivered_at)) as latest_seen_at
    from shipments

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
        shipments.grain,
        -- An order placed at least the horizon before the latest news has a
        -- known outcome: delivered, or not delivered within the horizon.
        -- Training only on these rows keeps slow deliveries from being
        -- under-represented among recent orders.
        shipments.ordered_at <= latest_seen.latest_seen_at - to_days({{ horizon_days }})
            as label_complete

    from shipments
    cross join latest_seen
    -- Without an order time there is nothing to describe the order by.
    where shipments.ordered_at is not null

)

select * from final
