with

readings as (

    select * from {{ ref('int_sensor_readings_flagged') }}

),

hourly as (

    -- Grouped by the hour the reading was taken, not the partition it arrived in:
    -- a late reading counts towards the hour it describes.
    select
        source,
        device_id,
        metric,
        event_hour,
        count(*) as reading_count,
        avg(value) as value_mean,
        min(value) as value_min,
        max(value) as value_max,
        quantile_cont(value, 0.95) as value_p95,
        stddev_samp(value) as value_stddev,
        avg(cast(is_flagged as integer)) as flagged_share,
        count_if(is_spike) as spike_count,
        count_if(is_stuck) as stuck_count,
        min(event_ts) as first_event_at,
        max(event_ts) as last_event_at,
        max(ingested_at) as last_ingested_at

    from readings
    group by source, device_id, metric, event_hour

)

select * from hourly
