with

source as (

    select * from {{ source('sensors', 'readings') }}
    -- Files written before rows carried their source lack the column: it reads
    -- as null there, and row_source() derives it from the origin.
    union all by name
    select cast(null as varchar) as source where false

),

renamed as (

    select
        cast(event_id as varchar) as event_id,
        cast(device_id as varchar) as device_id,
        cast(metric as varchar) as metric,
        cast(value as double) as value,
        cast(event_ts as timestamptz) as event_ts,
        {{ utc_hour('cast(event_ts as timestamptz)') }} as event_hour,
        {{ row_source() }} as source,
        cast(origin as varchar) as origin,
        cast(ingested_at as timestamptz) as ingested_at,
        cast(dt as date) as ingest_dt,
        cast(hour as integer) as ingest_hour

    from source
    where {{ chosen_sources(row_source()) }}

),

repeated_events as (

    -- The same event can arrive in two ingest partitions (a re-sent reading, a
    -- repeated landing file). That is rare, so only those events are ranked: a
    -- hash aggregation over all readings instead of sorting them all by event_id.
    select event_id
    from renamed
    group by event_id
    having count(*) > 1

),

first_copies as (

    -- Of a repeated event, keep the copy that was ingested first.
    select renamed.*
    from renamed
    semi join repeated_events
        on renamed.event_id = repeated_events.event_id
    {{ first_ingested('event_id', relation='renamed') }}

),

deduplicated as (

    select renamed.*
    from renamed
    anti join repeated_events
        on renamed.event_id = repeated_events.event_id

    union all

    select * from first_copies

)

select * from deduplicated
