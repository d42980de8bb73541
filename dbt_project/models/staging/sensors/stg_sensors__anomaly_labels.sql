with

source as (

    {% if has_files(source('sensors', 'anomaly_labels')) -%}
    select * from {{ source('sensors', 'anomaly_labels') }}
    {%- else -%}
    -- Only the simulators write these labels: a lake without them has none.
    select
        cast(null as varchar) as event_id,
        cast(null as varchar) as device_id,
        cast(null as varchar) as metric,
        cast(null as timestamptz) as event_ts,
        cast(null as varchar) as fault,
        cast(null as date) as dt,
        cast(null as integer) as hour
    where false
    {%- endif %}

),

renamed as (

    select
        cast(event_id as varchar) as event_id,
        cast(device_id as varchar) as device_id,
        cast(metric as varchar) as metric,
        cast(event_ts as timestamptz) as event_ts,
        {{ utc_hour('cast(event_ts as timestamptz)') }} as event_hour,
        cast(fault as varchar) as fault,
        cast(dt as date) as ingest_dt,
        cast(hour as integer) as ingest_hour

    from source

),

keyed as (

    select
        md5(concat_ws('|', coalesce(event_id, device_id), fault, cast(event_ts as varchar)))
            as label_id,
        *
    from renamed

),

deduplicated as (

    -- A reading delivered twice is labelled twice; one label per fault and reading.
    select * from keyed
    qualify row_number() over (partition by label_id order by ingest_dt, ingest_hour) = 1

)

select * from deduplicated
