{#-
  Incremental: a planned build (see macros/incremental.sql) recomputes, for
  each source, the hours from its first affected hour to a week after its last
  (every frame below looks back at most 168 hours), from the hourly rows of a
  week before that on, and replaces them in one lake transaction. Otherwise it
  is rebuilt whole.
-#}
-- depends_on: {{ ref('int_sensor_hours_affected') }}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    full_refresh=none if var('incremental', false) else true,
    pre_hook="{{ delete_feature_hours(ref('int_sensor_hours_affected')) }}",
) }}

{%- set ranges = affected_hour_ranges(ref('int_sensor_hours_affected')) -%}

with

hourly as (

    select
        *,
        -- Hours since 1970 as an integer: RANGE frames over it need no
        -- time-zone arithmetic.
        epoch_us(event_hour) // 3600000000 as hour_number,
        hour(timezone('UTC', event_hour)) as hour_of_day

    from {{ ref('fct_sensor_readings_hourly') }}
    {%- if ranges %}
    where {{ hour_ranges_predicate(ranges, before=168, after=168) }}
    {%- elif planned() %}
    -- A planned build with no affected hour: nothing to recompute.
    where false
    {%- endif %}

),

labels as (

    select * from {{ ref('stg_sensors__anomaly_labels') }}

),

windows as (

    select * from {{ ref('stg_sensors__anomaly_windows') }}

),

with_history as (

    -- Every frame is a RANGE over the hour number of one series (source, device,
    -- metric): a series that skipped an hour has no "previous hour", rather than
    -- an older one posing as it. Levels are compared with the series' own past,
    -- never with other devices: what is normal for one machine is not for another.
    select
        *,
        max(value_mean) over previous_hour as prev_hour_value_mean,
        max(reading_count) over previous_hour as prev_hour_reading_count,
        max(value_mean) over six_hours_ago as six_hours_ago_value_mean,
        max(value_mean) over one_day_ago as one_day_ago_value_mean,
        sum(value_mean * reading_count) over trailing_day
            / sum(reading_count) over trailing_day as trailing_24h_value_mean,
        stddev_samp(value_mean) over trailing_day as trailing_24h_value_stddev,
        avg(reading_count) over trailing_day as trailing_24h_reading_count_mean,
        count(*) over trailing_day as trailing_24h_hours,
        avg(value_mean) over trailing_week as trailing_7d_value_mean,
        stddev_samp(value_mean) over trailing_week as trailing_7d_value_stddev,
        median(value_stddev) over trailing_week as trailing_7d_spread_median,
        -- The same hour of the day over the previous seven days: the daily cycle.
        avg(value_mean) over same_hour_last_week as seasonal_value_mean

    from hourly
    window
        previous_hour as (
            partition by source, device_id, metric
            order by hour_number
            range between 1 preceding and 1 preceding
        ),
        six_hours_ago as (
            partition by source, device_id, metric
            order by hour_number
            range between 6 preceding and 6 preceding
        ),
        one_day_ago as (
            partition by source, device_id, metric
            order by hour_number
            range between 24 preceding and 24 preceding
        ),
        trailing_day as (
            partition by source, device_id, metric
            order by hour_number
            range between 24 preceding and 1 preceding
        ),
        trailing_week as (
            partition by source, device_id, metric
            order by hour_number
            range between 168 preceding and 1 preceding
        ),
        same_hour_last_week as (
            partition by source, device_id, metric, hour_of_day
            order by hour_number
            range between 168 preceding and 24 preceding
        )

),

reading_labels as (

    select device_id, metric, event_hour, fault
    from labels
    where metric is not null

),

dropout_labels as (

    -- A dropout silences every metric of the device.
    select hourly.device_id, hourly.metric, hourly.event_hour, labels.fault
    from labels
    inner join hourly
        on labels.device_id = hourly.device_id
        and labels.event_hour = hourly.event_hour
    where labels.metric is null

),

hour_labels as (

    select
        device_id,
        metric,
        event_hour,
        list_sort(list_distinct(list(fault))) as injected_faults

    from (
        select * from reading_labels
        union all
        select * from dropout_labels
    )
    group by device_id, metric, event_hour

),

window_hours as (

    -- The hours a labelled window overlaps; a window without a metric covers
    -- every metric of its device.
    select distinct
        hourly.source,
        hourly.device_id,
        hourly.metric,
        hourly.event_hour

    from hourly
    inner join windows
        on hourly.device_id = windows.device_id
        and (windows.metric is null or windows.metric = hourly.metric)
        and hourly.event_hour + interval 1 hour > windows.window_start
        and hourly.event_hour <= windows.window_end

),

labelled_devices as (

    select distinct device_id from windows

),

final as (

    select
        with_history.source,
        with_history.device_id,
        with_history.metric,
        with_history.event_hour,
        with_history.reading_count,
        with_history.value_mean,
        with_history.value_min,
        with_history.value_max,
        with_history.value_p95,
        with_history.value_stddev,
        with_history.value_max - with_history.value_min as value_range,
        with_history.flagged_share,
        with_history.spike_count,
        with_history.stuck_count,
        with_history.value_mean - with_history.prev_hour_value_mean
            as value_mean_delta_prev_hour,
        with_history.reading_count - with_history.prev_hour_reading_count
            as reading_count_delta_prev_hour,
        with_history.trailing_24h_value_mean,
        with_history.value_mean - with_history.trailing_24h_value_mean
            as value_mean_delta_trailing_24h,
        with_history.reading_count - with_history.trailing_24h_reading_count_mean
            as reading_count_delta_trailing_24h,
        coalesce(with_history.trailing_24h_hours, 0) as trailing_24h_hours,
        with_history.trailing_7d_value_mean,
        with_history.trailing_7d_value_stddev,
        (with_history.value_mean - with_history.trailing_24h_value_mean)
            / nullif(with_history.trailing_24h_value_stddev, 0) as value_level_z_24h,
        (with_history.value_mean - with_history.trailing_7d_value_mean)
            / nullif(with_history.trailing_7d_value_stddev, 0) as value_level_z_7d,
        (with_history.value_mean - with_history.seasonal_value_mean)
            / nullif(with_history.trailing_7d_value_stddev, 0) as value_seasonal_delta,
        (with_history.value_mean - with_history.one_day_ago_value_mean)
            / nullif(with_history.trailing_7d_value_stddev, 0) as value_day_delta,
        (with_history.value_mean - with_history.six_hours_ago_value_mean)
            / 6 / nullif(with_history.trailing_7d_value_stddev, 0) as value_trend_6h,
        with_history.value_stddev
            / nullif(with_history.trailing_7d_spread_median, 0) as value_spread_ratio,
        hour_labels.injected_faults is not null as has_injected_anomaly,
        coalesce(hour_labels.injected_faults, cast([] as varchar[])) as injected_faults,
        window_hours.event_hour is not null as in_labelled_window,
        with_history.source = 'simulator'
            or labelled_devices.device_id is not null as is_labelled,
        hour_labels.injected_faults is not null
            or window_hours.event_hour is not null as has_anomaly

    from with_history
    left join hour_labels
        on with_history.device_id = hour_labels.device_id
        and with_history.metric = hour_labels.metric
        and with_history.event_hour = hour_labels.event_hour
        and with_history.source = 'simulator'
    left join window_hours
        on with_history.source = window_hours.source
        and with_history.device_id = window_hours.device_id
        and with_history.metric = window_hours.metric
        and with_history.event_hour = window_hours.event_hour
    left join labelled_devices
        on with_history.device_id = labelled_devices.device_id
    {%- if ranges %}
    where {{ hour_ranges_predicate(ranges, before=0, after=168, relation='with_history') }}
    {%- endif %}

)

select * from final
