{#
  daily_bars(bars): one row per series (source, instrument) and trading day of
  a relation of bars: the day's first open and last close by bar_start, its
  extremes, its volume and its bars. fct_market_daily aggregates every bar
  this way in a full build, and the recomputed days in an incremental one.
#}
{% macro daily_bars(bars) -%}
    select
        source,
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

    from {{ bars }}
    group by source, instrument, trading_day
{%- endmacro %}
