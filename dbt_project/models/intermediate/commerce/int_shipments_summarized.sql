with

scans as (

    select * from {{ ref('stg_commerce__shipment_events') }}

),

orders as (

    select * from {{ ref('stg_commerce__orders') }}

),

shipments as (

    -- One row per shipment from its scans. A step scanned twice under two ids
    -- (a landing file) counts from its first scan.
    select
        shipment_id,
        min(order_id) as order_id,
        arg_min(carrier, event_ts) as carrier,
        min(event_ts) filter (where event_type = 'picked_up') as picked_up_at,
        min(event_ts) filter (where event_type = 'out_for_delivery') as out_for_delivery_at,
        min(event_ts) filter (where event_type = 'delivered') as delivered_at,
        coalesce(bool_or(event_type = 'exception'), false) as had_exception,
        coalesce(bool_or(event_type = 'customs'), false) as cleared_customs,
        count(*) as scan_count,
        min(event_ts) as first_scan_at,
        max(event_ts) as last_scan_at

    from scans
    group by shipment_id

),

joined as (

    -- Scans of orders placed before the lake's first ingested hour have no
    -- order: they are kept, with the order's columns null.
    select
        shipments.shipment_id,
        shipments.order_id,
        orders.customer_id,
        orders.ordered_at,
        orders.order_date,
        orders.destination_country,
        orders.currency,
        orders.amount,
        orders.item_count,
        shipments.carrier,
        shipments.picked_up_at,
        shipments.out_for_delivery_at,
        shipments.delivered_at,
        -- Integer microseconds, then days: exact to the microsecond, and no
        -- interval arithmetic across month lengths.
        (epoch_us(shipments.delivered_at) - epoch_us(orders.ordered_at)) / 86400e6
            as delivery_days,
        shipments.delivered_at is not null as is_delivered,
        shipments.had_exception,
        shipments.cleared_customs,
        shipments.scan_count,
        shipments.first_scan_at,
        shipments.last_scan_at,
        orders.order_id is not null as has_order

    from shipments
    left join orders
        on shipments.order_id = orders.order_id

)

select * from joined
