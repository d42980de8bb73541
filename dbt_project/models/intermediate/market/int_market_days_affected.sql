{#-
  The series an incremental build recomputes in fct_market_daily, each from
  a day on. A bar in a reloaded partition (as it is now, or as the lake held
  it before this build) changes its instrument's day in every source (copies
  of a bar in two sources compete for the one kept); a series changes from
  the day after its last unchanged trading day before that, as its listing
  and the spans of its returns reach back to there. Days a peer traded on,
  and the days peers were listed, decide which days each series of the same
  source and calendar missed, so the whole group is recomputed from the
  earliest such day. A series without a calendar has no peers. A return
  whose quarantined-bar flag no longer agrees with the quarantine is
  recomputed from its own day. Empty outside a planned incremental build.
-#}
-- depends_on: {{ ref('stg_market__price_bars_landed') }}
-- depends_on: {{ ref('stg_market__instruments') }}
-- depends_on: {{ ref('stg_market__quarantined_bars') }}
{{ config(materialized='table') }}

{%- set active = execute and var('incremental', false) and not flags.FULL_REFRESH
    and adapter.get_relation(this.database, 'main', 'fct_market_daily') is not none -%}

with

{% if active -%}

built as (

    select source, instrument, trading_day, previous_trading_day, spans_quarantined_bar
    from lake.main.fct_market_daily

),

reloaded as (

    -- Bars a reloaded partition held before this build (staged by the plan)
    -- and those it holds now.
    select source, key as instrument, cast(timezone('UTC', ts) as date) as trading_day
    from lake.meta.pending_keys
    where dataset = 'market/price_bars'

    union all

    select landed.source, landed.instrument, landed.trading_day
    from {{ ref('stg_market__price_bars_landed') }} as landed
    semi join lake.meta.pending_partitions as pending
        on pending.dataset = 'market/price_bars'
        and landed.ingest_dt = pending.dt
        and landed.ingest_hour = pending.hour

),

changed_instruments as (

    select instrument, min(trading_day) as first_day
    from reloaded
    group by instrument

),

series as (

    -- Every series the lake holds or this build brings, with its calendar.
    select series.source, series.instrument, instruments.calendar
    from (
        select distinct source, instrument from built
        union
        select distinct source, instrument from reloaded
    ) as series
    left join {{ ref('stg_market__instruments') }} as instruments
        on series.instrument = instruments.instrument_id

),

quarantine_flag as (

    -- Returns whose flag the current quarantine would set otherwise.
    select built.source, built.instrument, built.trading_day as first_day
    from built
    where built.previous_trading_day is not null
        and coalesce(built.spans_quarantined_bar, false) <> exists (
            select 1
            from {{ ref('stg_market__quarantined_bars') }} as quarantined
            where quarantined.source = built.source
                and quarantined.instrument = built.instrument
                and quarantined.trading_day > built.previous_trading_day
                and quarantined.trading_day < built.trading_day
        )

),

changed_series as (

    select source, instrument, min(first_day) as first_day
    from (
        select series.source, series.instrument, changed.first_day
        from series
        inner join changed_instruments as changed
            on series.instrument = changed.instrument
        union all
        select source, instrument, first_day from quarantine_flag
    )
    group by source, instrument

),

changed_from as (

    -- From the day after the series' last trading day before its first change.
    select
        changed.source,
        changed.instrument,
        coalesce(
            (
                select max(built.trading_day)
                from built
                where built.source = changed.source
                    and built.instrument = changed.instrument
                    and built.trading_day < changed.first_day
            ) + 1,
            changed.first_day
        ) as from_day

    from changed_series as changed

),

groups as (

    -- A source and calendar; a series without a calendar is a group alone.
    select
        series.source,
        series.calendar,
        case when series.calendar is null then series.instrument end as alone,
        min(changed_from.from_day) as from_day

    from changed_from
    inner join series
        on changed_from.source = series.source
        and changed_from.instrument = series.instrument
    group by all

),

final as (

    select series.source, series.instrument, groups.from_day
    from series
    inner join groups
        on series.source = groups.source
        and series.calendar is not distinct from groups.calendar
        and (case when series.calendar is null then series.instrument end)
            is not distinct from groups.alone

)

select * from final

{%- else -%}

final as (

    select
        cast(null as varchar) as source,
        cast(null as varchar) as instrument,
        cast(null as date) as from_day
    where false

)

select * from final

{%- endif %}
