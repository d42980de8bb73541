with

devices as (

    select * from {{ ref('stg_sensors__devices') }}

),

hourly as (

    select * from {{ ref('fct_sensor_readings_hourly') }}

),

activity as (

    -- From the hourly mart rather than the readings: the same numbers for a
    -- fraction of the scan.
    select
        device_id,
        min(first_event_at) as first_seen_at,
        max(last_event_at) as last_seen_at,
        cast(sum(reading_count) as bigint) as reading_count,
        count(distinct metric) as metric_count

    from hourly
    group by device_id

),

joined as (

    -- Devices that reported but have since left the registry are kept, so every
    -- reading's device has a row here.
    select
        coalesce(devices.device_id, activity.device_id) as device_id,
        devices.device_kind,
        devices.site,
        devices.latitude,
        devices.longitude,
        devices.installed_on,
        devices.device_id is not null as is_registered,
        activity.first_seen_at,
        activity.last_seen_at,
        coalesce(activity.reading_count, 0) as reading_count,
        coalesce(activity.metric_count, 0) as metric_count

    from devices
    full outer join activity
        on devices.device_id = activity.device_id

)

select * from joined
