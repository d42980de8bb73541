{#
  Incremental: a planned build (see macros/incremental.sql) deletes the rows of
  the shipments in int_shipments_affected (in every source) and builds them
  again from their own scans and records and the orders those name, read from
  the landed tables, in one lake transaction. Otherwise it is rebuilt whole.

  As of the var `as_of` (as_of() is null when it is unset), the lake is read as
  it stood then: scans and orders made at or after it are left out (a date's
  as_of is the next day's 00:00), and a shipment record ordered then too; one
  delivered then is not delivered yet. Event times, not ingestion times: real
  histories are landed long after.
#}
-- depends_on: {{ ref('stg_commerce__shipment_events_landed') }}
-- depends_on: {{ ref('stg_commerce__shipments_landed') }}
-- depends_on: {{ ref('stg_commerce__orders_landed') }}
-- depends_on: {{ ref('int_shipments_affected') }}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    full_refresh=none if var('incremental', false) else true,
    pre_hook="{{ delete_affected_shipments(ref('int_shipments_affected')) }}",
) }}

{%- set as_of = as_of() -%}

with

{% if planned() -%}

affected as (

    select shipment_id from {{ ref('int_shipments_affected') }}

),

scan_copies as (

    -- The affected shipments' scans, once each (the copy ingested first), as
    -- stg_commerce__shipment_events keeps them; copies of a scan share its
    -- shipment, so they all compete here.
    select landed.*
    from {{ ref('stg_commerce__shipment_events_landed') }} as landed
    semi join affected
        on landed.shipment_id = affected.shipment_id
    {{ first_ingested('event_id', relation='landed') }}

),

record_copies as (

    select landed.*
    from {{ ref('stg_commerce__shipments_landed') }} as landed
    semi join affected
        on landed.shipment_id = affected.shipment_id
    {{ first_ingested('shipment_id', relation='landed') }}

),

order_copies as (

    -- The orders those scans and records name, once each.
    select landed.*
    from {{ ref('stg_commerce__orders_landed') }} as landed
    semi join (
        select order_id from scan_copies
        union
        select order_id from record_copies
    ) as named
        on landed.order_id = named.order_id
    {{ first_ingested('order_id', relation='landed') }}

),

{%- set scan_relation, order_relation, record_relation = 'scan_copies', 'order_copies', 'record_copies' %}
{%- else %}
{%- set scan_relation = ref('stg_commerce__shipment_events') %}
{%- set order_relation = ref('stg_commerce__orders') %}
{%- set record_relation = ref('stg_commerce__shipments') %}
{%- endif %}

scans as (

    select *
    from {{ scan_relation }}
    where {{ as_of }} is null or event_ts < {{ as_of }}

),

orders as (

    select *
    from {{ order_relation }}
    where {{ as_of }} is null or ordered_at < {{ as_of }}

),

shipment_records as (

    select
        * replace (
            case
                when {{ as_of }} is null or delivered_at < {{ as_of }} then delivered_at
            end as delivered_at
        )
    from {{ record_relation }}
    where {{ as_of }} is null or ordered_at is null or ordered_at < {{ as_of }}

),

scanned as (

    -- One row per shipment of a source from its scans. A step scanned twice
    -- under two ids (a landing file) counts from its first scan.
    select
        source,
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
    group by source, shipment_id

),

from_scans as (

    -- Scans of orders placed before the lake's first ingested hour have no
    -- order: they are kept, with the order's columns null.
    select
        scanned.source,
        scanned.shipment_id,
        scanned.order_id,
        orders.customer_id,
        orders.ordered_at,
        orders.destination_country,
        orders.destination_region,
        orders.currency,
        orders.amount,
        orders.item_count,
        scanned.carrier,
        scanned.picked_up_at,
        scanned.out_for_delivery_at,
        orders.promised_at,
        scanned.delivered_at,
        scanned.had_exception,
        scanned.cleared_customs,
        scanned.scan_count,
        scanned.first_scan_at,
        scanned.last_scan_at,
        orders.order_id is not null as has_order,
        'scans' as grain

    from scanned
    left join orders
        on scanned.source = orders.source
        and scanned.order_id = orders.order_id

),

from_records as (

    -- Shipments an ERP exported whole. The record carries its own order time,
    -- destination and promise; its order, when in the lake, fills in what the
    -- record leaves out. What only scans tell (pick-up, customs, delays) is
    -- unknown here. A shipment that also has scans in the same source is left
    -- to them: scans are the finer account of the same shipment.
    select
        shipment_records.source,
        shipment_records.shipment_id,
        shipment_records.order_id,
        orders.customer_id,
        coalesce(shipment_records.ordered_at, orders.ordered_at) as ordered_at,
        coalesce(shipment_records.destination_country, orders.destination_country)
            as destination_country,
        coalesce(shipment_records.destination_region, orders.destination_region)
            as destination_region,
        orders.currency,
        orders.amount,
        orders.item_count,
        shipment_records.carrier,
        null::timestamptz as picked_up_at,
        null::timestamptz as out_for_delivery_at,
        coalesce(shipment_records.promised_at, orders.promised_at) as promised_at,
        shipment_records.delivered_at,
        false as had_exception,
        false as cleared_customs,
        0 as scan_count,
        null::timestamptz as first_scan_at,
        null::timestamptz as last_scan_at,
        orders.order_id is not null as has_order,
        'shipment' as grain

    from shipment_records
    left join orders
        on shipment_records.source = orders.source
        and shipment_records.order_id = orders.order_id
    anti join scanned
        on shipment_records.source = scanned.source
        and shipment_records.shipment_id = scanned.shipment_id

),

unioned as (

    select * from from_scans
    union all by name
    select * from from_records

),

final as (

    select
        source,
        shipment_id,
        order_id,
        customer_id,
        ordered_at,
        cast(timezone('UTC', ordered_at) as date) as order_date,
        destination_country,
        destination_region,
        currency,
        amount,
        item_count,
        carrier,
        picked_up_at,
        out_for_delivery_at,
        promised_at,
        delivered_at,
        -- Integer microseconds, then days: exact to the microsecond, and no
        -- interval arithmetic across month lengths.
        (epoch_us(delivered_at) - epoch_us(ordered_at)) / 86400e6 as delivery_days,
        delivered_at is not null as is_delivered,
        had_exception,
        cleared_customs,
        scan_count,
        first_scan_at,
        last_scan_at,
        has_order,
        grain

    from unioned

)

select * from final
