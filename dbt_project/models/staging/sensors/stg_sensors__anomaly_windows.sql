with

source as (

    {% if has_files(source('sensors', 'anomaly_windows')) -%}
    select * from {{ source('sensors', 'anomaly_windows') }}
    {%- else -%}
    -- Windows land only when someone sends labels; most lakes start without any.
    select
        cast(null as varchar) as window_id,
        cast(null as varchar) as device_id,
        cast(null as varchar) as metric,
        cast(null as timestamptz) as window_start,
        cast(null as timestamptz) as window_end,
        cast(null as varchar) as label,
        cast(null as varchar) as source,
        cast(null as varchar) as origin,
        cast(null as timestamptz) as ingested_at,
        cast(null as date) as dt,
        cast(null as integer) as hour
    where false
    {%- endif %}

),

renamed as (

    select
        cast(window_id as varchar) as window_id,
        cast(device_id as varchar) as device_id,
        cast(metric as varchar) as metric,
        cast(window_start as timestamptz) as window_start,
        cast(window_end as timestamptz) as window_end,
        cast(label as varchar) as label,
        {{ row_source() }} as source,
        cast(origin as varchar) as origin,
        cast(ingested_at as timestamptz) as ingested_at,
        cast(dt as date) as ingest_dt,
        cast(hour as integer) as ingest_hour

    from source
    where {{ chosen_sources(row_source()) }}

),

deduplicated as (

    -- A labels file sent twice is kept once: the copy ingested first.
    select *
    from renamed
    {{ first_ingested('window_id') }}

)

select * from deduplicated
