with

hourly as (

    select
        *,
        -- Hours since 1970 as an integer: RANGE frames over it need no
        -- time-zone arithmetic.
        epoch_us(event_hour) // 3600000000 as hour_number
    from {{ ref('fct_sensor_readings_hourly') }}

),

labels as (

    select * from {{ ref('stg_sensors__anomaly_labels') }}

),

with_history as (

    select
        *,
        -- RANGE frames on the hour, not row offsets: a device that skipped an hour
        -- has no "previous hour", rather than an older one posing as it.
        max(value_mean) over previous_hour as prev_hour_value_mean,
        max(reading_count) over previous_hour as prev_hour_reading_count,
        sum(value_mean * reading_count) over trailing_day
            / sum(reading_count) over trailing_day as trailing_24h_value_mean,
        avg(reading_count) over trailing_day as trailing_24h_reading_count_mean,
        count(*) over trailing_day as trailing_24h_hours

    from hourly
    window
        previous_hour as (
            partition by device_id, metric
            order by hour_number
            range between 1 preceding and 1 preceding
        ),
        trailing_day as (
            partition by device_id, metric
            order by hour_number
            range between 24 preceding and 1 preceding
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

final as (

    select
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
        hour_labels.injected_faults is not null as has_injected_anomaly,
        coalesce(hour_labels.injected_faults, cast([] as varchar[])) as injected_faults

    from with_history
    left join hour_labels
        on with_history.device_id = hour_labels.device_id
        and with_history.metric = hour_labels.metric
        and with_history.event_hour = hour_labels.event_hour

)

select * from final
