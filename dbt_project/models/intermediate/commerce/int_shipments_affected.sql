{#-
  The shipments an incremental build recomputes in int_shipments_summarized
  (in every source: copies of a scan or a record in two sources compete for
  the one kept). A shipment is affected when a reloaded partition holds, or
  held before this build, one of its scans or its record, or the order it
  ships (a scan of a nine-day-old order recomputes that shipment alone).
  Empty outside a planned incremental build.
-#}
-- depends_on: {{ ref('stg_commerce__shipment_events_landed') }}
-- depends_on: {{ ref('stg_commerce__shipments_landed') }}
-- depends_on: {{ ref('stg_commerce__orders_landed') }}
{{ config(materialized='table') }}

{%- set active = execute and var('incremental', false) and not flags.FULL_REFRESH
    and adapter.get_relation(this.database, 'intermediate', 'int_shipments_summarized') is not none -%}

with

{% if active -%}

reloaded_shipments as (

    -- Shipments whose scans or record a reloaded partition held before this
    -- build (staged by the plan) or holds now.
    select key as shipment_id
    from lake.meta.pending_keys
    where dataset in ('commerce/shipment_events', 'commerce/shipments')

    union all

    select landed.shipment_id
    from {{ ref('stg_commerce__shipment_events_landed') }} as landed
    semi join lake.meta.pending_partitions as pending
        on pending.dataset = 'commerce/shipment_events'
        and landed.ingest_dt = pending.dt
        and landed.ingest_hour = pending.hour

    union all

    select landed.shipment_id
    from {{ ref('stg_commerce__shipments_landed') }} as landed
    semi join lake.meta.pending_partitions as pending
        on pending.dataset = 'commerce/shipments'
        and landed.ingest_dt = pending.dt
        and landed.ingest_hour = pending.hour

),

reloaded_orders as (

    select key as order_id
    from lake.meta.pending_keys
    where dataset = 'commerce/orders'

    union all

    select landed.order_id
    from {{ ref('stg_commerce__orders_landed') }} as landed
    semi join lake.meta.pending_partitions as pending
        on pending.dataset = 'commerce/orders'
        and landed.ingest_dt = pending.dt
        and landed.ingest_hour = pending.hour

),

shipping_orders as (

    -- The shipments of those orders the lake holds (a shipment the reloaded
    -- partitions bring is among reloaded_shipments already).
    select built.shipment_id
    from lake.intermediate.int_shipments_summarized as built
    semi join reloaded_orders
        on built.order_id = reloaded_orders.order_id

),

final as (

    select distinct shipment_id
    from (select * from reloaded_shipments union all select * from shipping_orders)
    where shipment_id is not null

)

select * from final

{%- else -%}

final as (

    select cast(null as varchar) as shipment_id
    where false

)

select * from final

{%- endif %}
