{#-
  The customers an incremental build recomputes in fct_transactions, each from
  the time of their first changed transaction on, and each source's latest
  transaction after this build (labels mature against it). A customer is
  affected when a reloaded partition holds, or held before this build, one of
  their transactions or a chargeback of one (features look back over the
  customer's earlier transactions, so only later rows change); and when one of
  their transactions crosses the label horizon because the source's latest
  transaction moved. Empty outside a planned incremental build.
-#}
-- depends_on: {{ ref('stg_finance__transactions_landed') }}
-- depends_on: {{ ref('stg_finance__chargebacks_landed') }}
{{ config(materialized='table') }}

{%- set horizon_days = var('chargeback_label_horizon_days') | int -%}
{%- set active = execute and var('incremental', false) and not flags.FULL_REFRESH
    and adapter.get_relation(this.database, 'main', 'fct_transactions') is not none -%}

with

{% if active -%}

transactions_landed as (

    select * from {{ ref('stg_finance__transactions_landed') }}

),

reloaded_transactions as (

    -- Transactions a reloaded partition held before this build (staged by the
    -- plan) and those it holds now.
    select source, key as customer_id, ts
    from lake.meta.pending_keys
    where dataset = 'finance/transactions'

    union all

    select landed.source, landed.customer_id, landed.ts
    from transactions_landed as landed
    semi join lake.meta.pending_partitions as pending
        on pending.dataset = 'finance/transactions'
        and landed.ingest_dt = pending.dt
        and landed.ingest_hour = pending.hour

),

reloaded_chargebacks as (

    select source, key as transaction_id
    from lake.meta.pending_keys
    where dataset = 'finance/chargebacks'

    union all

    select landed.source, landed.transaction_id
    from {{ ref('stg_finance__chargebacks_landed') }} as landed
    semi join lake.meta.pending_partitions as pending
        on pending.dataset = 'finance/chargebacks'
        and landed.ingest_dt = pending.dt
        and landed.ingest_hour = pending.hour

),

disputed as (

    -- The transactions those chargebacks name, wherever they landed.
    select landed.source, landed.customer_id, landed.ts
    from transactions_landed as landed
    semi join reloaded_chargebacks as reloaded
        on landed.source = reloaded.source
        and landed.transaction_id = reloaded.transaction_id

),

changed as (

    select source, customer_id, min(ts) as from_ts
    from (select * from reloaded_transactions union all select * from disputed)
    group by source, customer_id

),

recomputed as (

    -- The changed customers' transactions from their first change on, once
    -- each (the copy ingested first), as the rebuilt mart will hold them.
    select landed.source, landed.ts
    from transactions_landed as landed
    inner join changed
        on landed.source = changed.source
        and landed.customer_id = changed.customer_id
    where landed.ts >= changed.from_ts
    {{ first_ingested('transaction_id', relation='landed') }}

),

previous_latest as (

    select source, max(ts) as latest_ts
    from lake.main.fct_transactions
    group by source

),

latest as (

    -- Each source's latest transaction after this build: of the rows the
    -- build keeps and those it recomputes.
    select source, max(ts) as latest_ts
    from (
        select kept.source, kept.ts
        from lake.main.fct_transactions as kept
        anti join changed
            on kept.source = changed.source
            and kept.customer_id = changed.customer_id
            and kept.ts >= changed.from_ts
        union all
        select source, ts from recomputed
    )
    group by source

),

horizon_moved as (

    -- Where a source's label horizon moved: its transactions between the old
    -- and the new horizon change label_complete.
    select
        latest.source,
        least(latest.latest_ts, previous_latest.latest_ts) - to_days({{ horizon_days }}) as low,
        greatest(latest.latest_ts, previous_latest.latest_ts) - to_days({{ horizon_days }}) as high
    from latest
    inner join previous_latest
        on latest.source = previous_latest.source
    where latest.latest_ts <> previous_latest.latest_ts

),

matured as (

    select kept.source, kept.customer_id, min(kept.ts) as from_ts
    from lake.main.fct_transactions as kept
    inner join horizon_moved
        on kept.source = horizon_moved.source
        and kept.ts > horizon_moved.low
        and kept.ts <= horizon_moved.high
    group by kept.source, kept.customer_id

),

affected as (

    select source, customer_id, min(from_ts) as from_ts
    from (select * from changed union all select * from matured)
    group by source, customer_id

),

final as (

    select affected.source, affected.customer_id, affected.from_ts, latest.latest_ts
    from affected
    left join latest
        on affected.source = latest.source

)

select * from final

{%- else -%}

final as (

    select
        cast(null as varchar) as source,
        cast(null as varchar) as customer_id,
        cast(null as timestamptz) as from_ts,
        cast(null as timestamptz) as latest_ts
    where false

)

select * from final

{%- endif %}
