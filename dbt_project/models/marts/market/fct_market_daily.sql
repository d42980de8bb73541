{#-
  Incremental: a planned build (see macros/incremental.sql) deletes the rows
  of each series in int_market_days_affected from its from_day on and
  recomputes them: the days from from_day on are aggregated again from the
  landed bars, the earlier days are the series' own rows kept in this table
  (a daily row holds the day's OHLCV), and the returns, spans, running
  maximum and volatility are computed over both, in one lake transaction.
  Otherwise it is rebuilt whole from stg_market__price_bars.

  Ratios are rounded to 12 decimal places: far below any price's precision, and
  it makes them exact decimals that the unit tests can state.
-#}
-- depends_on: {{ ref('stg_market__price_bars_landed') }}
-- depends_on: {{ ref('int_market_days_affected') }}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    full_refresh=none if var('incremental', false) else true,
    pre_hook="{{ delete_affected_series(ref('int_market_days_affected')) }}",
) }}

{%- set window_days = var('volatility_window_days') | int -%}

with

instruments as (

    select instrument_id as instrument, calendar
    from {{ ref('stg_market__instruments') }}

),

quarantined as (

    select source, instrument, trading_day
    from {{ ref('stg_market__quarantined_bars') }}
    where trading_day is not null

),

{% if planned() -%}
{%- set first_day = plan_rows(
    "select coalesce(min(from_day), date '9999-12-31') from " ~ ref('int_market_days_affected')
)[0][0] -%}

affected as (

    select * from {{ ref('int_market_days_affected') }}

),

recent_bars as (

    -- The bars of the affected series' instruments from each one's first
    -- recomputed day, every copy of each (they compete for the one kept),
    -- then once each: the copy ingested first, as stg_market__price_bars
    -- keeps it. The date bound lets the lake skip older files.
    select landed.*
    from {{ ref('stg_market__price_bars_landed') }} as landed
    inner join (
        select instrument, min(from_day) as from_day from affected group by instrument
    ) as reach
        on landed.instrument = reach.instrument
        and landed.trading_day >= reach.from_day
    where landed.trading_day >= date '{{ first_day }}'
    {{ first_ingested('event_id', relation='landed') }}

),

bars as (

    select recent_bars.*
    from recent_bars
    semi join affected
        on recent_bars.source = affected.source
        and recent_bars.instrument = affected.instrument
        and recent_bars.trading_day >= affected.from_day

),

daily as (

    -- The affected series' days before from_day as this table holds them (the
    -- pre-hook deleted the later ones), and the later days aggregated again.
    select
        kept.source,
        kept.instrument,
        kept.trading_day,
        kept.open,
        kept.high,
        kept.low,
        kept.close,
        kept.volume,
        kept.bar_count,
        kept.first_bar_start,
        kept.last_bar_start

    from {{ this }} as kept
    semi join affected
        on kept.source = affected.source
        and kept.instrument = affected.instrument

    union all

    {{ daily_bars('bars') }}

),

{%- else %}

bars as (

    select * from {{ ref('stg_market__price_bars') }}
    -- With as_of set the mart is what was known then: a bar starting at or after
    -- it is left out (a date's end is the next day's 00:00, a daily bar's stamp).
    where {{ as_of() }} is null or bar_start < {{ as_of() }}

),

daily as (

    {{ daily_bars('bars') }}

),

{%- endif %}

with_previous as (

    -- A series is one instrument of one source: a user's instrument and a
    -- simulated one of the same name never share a window.
    select
        daily.*,
        instruments.calendar,
        lag(daily.trading_day) over by_day as previous_trading_day,
        lag(daily.close) over by_day as previous_close,
        max(daily.close) over (
            partition by daily.source, daily.instrument order by daily.trading_day
            rows between unbounded preceding and current row
        ) as running_max_close

    from daily
    left join instruments on daily.instrument = instruments.instrument
    window by_day as (partition by daily.source, daily.instrument order by daily.trading_day)

),

listings as (

    -- The days each series was listed: from its first bar to its last.
    select source, instrument, calendar, min(trading_day) as first_day, max(trading_day) as last_day
    from with_previous
    group by all

),

traded_days as (

    -- The days on which any instrument of a source and calendar has a bar.
    select distinct source, calendar, trading_day as day
    from with_previous
    where calendar is not null

),

spanned_days as (

    -- Every calendar day a return spans: (previous bar's day, this day].
    select
        source,
        instrument,
        calendar,
        trading_day,
        cast(unnest(generate_series(
            cast(previous_trading_day as timestamp) + interval 1 day,
            cast(trading_day as timestamp),
            interval 1 day
        )) as date) as day

    from with_previous
    where previous_trading_day is not null

),

expected_days as (

    -- Without a holiday calendar, the market itself says which days it was open:
    -- a day another instrument of the same source and calendar traded on is a
    -- trading day (a holiday nobody trades is none). Where no other instrument
    -- of the series' calendar was listed, the calendar's weekdays stand in.
    select
        spanned.source,
        spanned.instrument,
        spanned.trading_day,
        spanned.day,
        spanned.day = spanned.trading_day
        or traded.day is not null
        or (
            not exists (
                select 1
                from listings as peer
                where peer.source = spanned.source
                    and peer.calendar = spanned.calendar
                    and peer.instrument <> spanned.instrument
                    and spanned.day between peer.first_day and peer.last_day
            )
            and case
                -- isodow: Monday 1 .. Sunday 7. An instrument missing from the
                -- registry has no calendar and no peers: weekdays, as most trade.
                when spanned.calendar is null or spanned.calendar in ('equity', 'daily')
                    then isodow(spanned.day) <= 5
                -- Sunday 22:00 to Friday 22:00 UTC: only Saturday has no bar.
                when spanned.calendar = 'fx' then isodow(spanned.day) <> 6
                -- Any other calendar is a market that never closes.
                else true
            end
        ) as is_expected

    from spanned_days as spanned
    left join traded_days as traded
        on spanned.source = traded.source
        and spanned.calendar = traded.calendar
        and spanned.day = traded.day

),

spans as (

    select
        source,
        instrument,
        trading_day,
        count(*) filter (where is_expected) as trading_days_spanned

    from expected_days
    group by source, instrument, trading_day

),

quarantine_spans as (

    -- Returns across a day whose bar was quarantined: the day has no kept bar
    -- of the series, yet a bar for it arrived and failed validation.
    select distinct
        series.source,
        series.instrument,
        series.trading_day,
        true as spans_quarantined_bar

    from with_previous as series
    inner join quarantined
        on series.source = quarantined.source
        and series.instrument = quarantined.instrument
        and quarantined.trading_day > series.previous_trading_day
        and quarantined.trading_day < series.trading_day

),

with_returns as (

    select
        with_previous.*,
        with_previous.close / with_previous.previous_close - 1 as daily_return,
        ln(with_previous.close / with_previous.previous_close) as log_return,
        cast(
            with_previous.trading_day - with_previous.previous_trading_day as integer
        ) as calendar_days_spanned,
        spans.trading_days_spanned,
        spans.trading_days_spanned > 1 as spans_missing_bar,
        case
            when with_previous.previous_trading_day is not null
                then coalesce(quarantine_spans.spans_quarantined_bar, false)
        end as spans_quarantined_bar

    from with_previous
    left join spans
        on with_previous.source = spans.source
        and with_previous.instrument = spans.instrument
        and with_previous.trading_day = spans.trading_day
    left join quarantine_spans
        on with_previous.source = quarantine_spans.source
        and with_previous.instrument = quarantine_spans.instrument
        and with_previous.trading_day = quarantine_spans.trading_day

),

with_volatility as (

    select
        *,
        count(log_return) over last_days as returns_in_window,
        stddev_samp(log_return) over last_days as volatility_in_window

    from with_returns
    window last_days as (
        partition by source, instrument order by trading_day
        rows between {{ window_days - 1 }} preceding and current row
    )

)

select
    source,
    instrument,
    trading_day,
    calendar,
    open,
    high,
    low,
    close,
    volume,
    bar_count,
    first_bar_start,
    last_bar_start,
    previous_trading_day,
    previous_close,
    round(daily_return, 12) as daily_return,
    round(log_return, 12) as log_return,
    calendar_days_spanned,
    trading_days_spanned,
    spans_missing_bar,
    spans_quarantined_bar,
    case
        when returns_in_window = {{ window_days }} then round(volatility_in_window, 12)
    end as rolling_volatility,
    running_max_close,
    round(close / running_max_close - 1, 12) as drawdown

from with_volatility
{%- if planned() %}
semi join affected
    on with_volatility.source = affected.source
    and with_volatility.instrument = affected.instrument
    and with_volatility.trading_day >= affected.from_day
{%- endif %}
