{#
  The sensor readings logic, written once for the two ways the marts are built:
  over every reading (a full build, through stg_sensors__readings and
  int_sensor_readings_flagged) and over the few hours an incremental build
  recomputes (fct_sensor_readings_hourly reads those hours of
  stg_sensors__readings_landed itself).

  deduplicate_readings(relation): one row per reading. The same event can land
  twice (a re-sent reading, a repeated landing file); of the copies of one
  source, event id and event hour, the one ingested first is kept. The event
  hour is part of the key so that every copy of a reading sits in the hour an
  incremental build recomputes.

  flag_readings(relation): the readings of a deduplicated relation with their
  spike and stuck flags (see int_sensor_readings_flagged for the rules).
#}
{% macro deduplicate_readings(relation) -%}
    with

    copies as (

        select * from {{ relation }}

    ),

    repeated_events as (

        -- Repeats are rare, so only they are ranked: a hash aggregation over all
        -- readings instead of sorting them all by event id.
        select source, event_hour, event_id
        from copies
        group by source, event_hour, event_id
        having count(*) > 1

    ),

    first_copies as (

        select copies.*
        from copies
        semi join repeated_events
            on copies.source = repeated_events.source
            and copies.event_hour = repeated_events.event_hour
            and copies.event_id = repeated_events.event_id
        qualify row_number() over (
            partition by copies.source, copies.event_hour, copies.event_id
            order by copies.ingested_at, copies.ingest_dt, copies.ingest_hour, copies.origin
        ) = 1

    )

    select copies.*
    from copies
    anti join repeated_events
        on copies.source = repeated_events.source
        and copies.event_hour = repeated_events.event_hour
        and copies.event_id = repeated_events.event_id

    union all

    select * from first_copies
{%- endmacro %}

{% macro flag_readings(relation) -%}
    {%- set mad_multiplier = var('spike_mad_multiplier') -%}
    {%- set mad_floor = var('spike_mad_floor') -%}
    {%- set stuck_repeats = var('stuck_min_repeats') | int -%}
    {%- set min_readings = var('spike_min_readings') | int -%}
    {%- if stuck_repeats < 1 -%}
        {{ exceptions.raise_compiler_error("var stuck_min_repeats must be at least 1, got " ~ stuck_repeats) }}
    {%- endif -%}
    with

    readings as (

        select * from {{ relation }}

    ),

    hours as (

        -- Each device, metric and event hour's values as one list. The median and
        -- the MAD are computed from these lists: one hash aggregation, where window
        -- functions would sort every reading twice.
        select
            source,
            device_id,
            metric,
            event_hour,
            list(value) as hour_values

        from readings
        group by source, device_id, metric, event_hour

    ),

    sparse_pools as (

        -- An hour with fewer than spike_min_readings readings (a series that reports
        -- once an hour, or a quiet hour) has no spread of its own to judge a value
        -- by: its readings are judged against the series' last 24 hours instead.
        -- Only sparse hours enter the window, so dense series cost nothing here.
        select
            source,
            device_id,
            metric,
            event_hour,
            flatten(list(hour_values) over (
                partition by source, device_id, metric
                order by event_hour
                range between interval 23 hour preceding and current row
            )) as pool_values

        from hours
        where len(hour_values) < {{ min_readings }}

    ),

    hour_medians as (

        select
            hours.source,
            hours.device_id,
            hours.metric,
            hours.event_hour,
            coalesce(sparse_pools.pool_values, hours.hour_values) as hour_values,
            list_median(coalesce(sparse_pools.pool_values, hours.hour_values)) as hour_median

        from hours
        left join sparse_pools
            on hours.source = sparse_pools.source
            and hours.device_id = sparse_pools.device_id
            and hours.metric = sparse_pools.metric
            and hours.event_hour = sparse_pools.event_hour

    ),

    hour_spreads as (

        select
            source,
            device_id,
            metric,
            event_hour,
            hour_median,
            -- Median absolute deviation: a spread that the spikes themselves cannot inflate.
            list_median(list_transform(hour_values, lambda v: abs(v - hour_median))) as hour_mad

        from hour_medians

    ),

    with_spread as (

        select
            readings.*,
            hour_spreads.hour_median,
            hour_spreads.hour_mad

        from readings
        inner join hour_spreads
            on readings.source = hour_spreads.source
            and readings.device_id = hour_spreads.device_id
            and readings.metric = hour_spreads.metric
            and readings.event_hour = hour_spreads.event_hour

    ),

    with_previous as (

        -- The previous stuck_min_repeats values of the same series (source, device
        -- and metric), in event order and across hours (null before the series has
        -- that many).
        select
            *,
            {%- for back in range(1, stuck_repeats + 1) %}
            lag(value, {{ back }}) over series as previous_value_{{ back }}{{ "," if not loop.last }}
            {%- endfor %}

        from with_spread
        window series as (partition by source, device_id, metric order by event_ts, event_id)

    ),

    flagged as (

        select
            event_id,
            device_id,
            metric,
            value,
            event_ts,
            event_hour,
            source,
            origin,
            ingested_at,
            ingest_dt,
            ingest_hour,
            hour_median,
            hour_mad,
            abs(value - hour_median)
                > {{ mad_multiplier }} * greatest(hour_mad, {{ mad_floor }}) as is_spike,
            coalesce(
                {%- for back in range(1, stuck_repeats + 1) %}
                value = previous_value_{{ back }}{{ " and" if not loop.last }}
                {%- endfor %},
                false
            ) as is_stuck

        from with_previous

    )

    select
        *,
        is_spike or is_stuck as is_flagged
    from flagged
{%- endmacro %}
