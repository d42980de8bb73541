{#-
  Incremental: a planned build (see macros/incremental.sql) deletes the rows
  of the shipments int_shipments_summarized rebuilt (int_shipments_affected)
  and those whose label the sources' latest news now decides otherwise, then
  inserts every shipment this table lacks, in one lake transaction: a key
  pass over the shipments, not a rebuild of their rows. Otherwise it is
  rebuilt whole.
-#}
-- depends_on: {{ ref('int_shipments_affected') }}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    full_refresh=none if var('incremental', false) else true,
    pre_hook="{{ delete_relabelled_deliveries(ref('int_shipments_affected'), ref('int_shipments_summarized')) }}",
) }}

{%- set horizon_days = var('delivery_label_horizon_days') | int -%}

with

shipments as (

    select * from {{ ref('int_shipments_summarized') }}

),

latest_seen as (

    -- The latest a source has told of any of its shipments. Per source,
    -- because each source's news stops at its own date: a history landed
    -- today ended years ago, and the simulator's scans of today say nothing
    -- of it.
    {{ latest_seen('shipments') }}

),

final as (

    select
        shipments.source,
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
        -- An order placed at least the horizon before its source's latest
        -- news has a known outcome: delivered, or not delivered within the horizon.
        -- Training only on these rows keeps slow deliveries from being
        -- under-represented among recent orders.
        shipments.ordered_at <= latest_seen.latest_seen_at - to_days({{ horizon_days }})
            as label_complete

    from shipments
    inner join latest_seen
        on shipments.source = latest_seen.source
    -- Without an order time there is nothing to describe the order by.
    where shipments.ordered_at is not null
    {%- if planned() %}
        -- The rows the pre-hook deleted, and shipments new to this table.
        and not exists (
            select 1 from {{ this }} as kept
            where kept.source = shipments.source
                and kept.shipment_id = shipments.shipment_id
        )
    {%- endif %}

)

select * from final
