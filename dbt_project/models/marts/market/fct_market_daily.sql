{#
  Ratios are rounded to 12 decimal places: far below any price's precision, and
  it makes them exact decimals that the unit tests can state.
#}
{%- set window_days = var('volatility_window_days') | int -%}

with

bars as (

    select * from {{ ref('stg_market__price_bars') }}

),

daily as (

    select
        instrument,
        trading_day,
        arg_min(open, bar_start) as open,
        max(high) as high,
        min(low) as low,
        arg_max(close, bar_start) as close,
        cast(sum(volume) as bigint) as volume,
        count(*) as bar_count,
        min(bar_start) as first_bar_start,
        max(bar_start) as last_bar_start

    from bars
    group by instrument, trading_day

),

with_previous as (

    select
        *,
        lag(close) over by_day as previous_close,
        max(close) over (
            partition by instrument order by trading_day
            rows between unbounded preceding and current row
        ) as running_max_close

    from daily
    window by_day as (partition by instrument order by trading_day)

),

with_returns as (

    select
        *,
        close / previous_close - 1 as daily_return,
        ln(close / previous_close) as log_return

    from with_previous

),

with_volatility as (

    select
        *,
        count(log_return) over last_days as returns_in_window,
        stddev_samp(log_return) over last_days as volatility_in_window

    from with_returns
    window last_days as (
        partition by instrument order by trading_day
        rows between {{ window_days - 1 }} preceding and current row
    )

)

select
    instrument,
    trading_day,
    open,
    high,
    low,
    close,
    volume,
    bar_count,
    first_bar_start,
    last_bar_start,
    previous_close,
    round(daily_return, 12) as daily_return,
    round(log_return, 12) as log_return,
    case
        when returns_in_window = {{ window_days }} then round(volatility_in_window, 12)
    end as rolling_volatility,
    running_max_close,
    round(close / running_max_close - 1, 12) as drawdown

from with_volatility
