with

source as (

    select * from {{ source('commerce', 'shipment_events') }}
    -- Files written before rows carried their source lack the column: it reads
    -- as null there, and row_source() derives it from the origin.
    union all by name
    select cast(null as varchar) as source where false

),

renamed as (

    select
        cast(event_id as varchar) as event_id,
        cast(shipment_id as varchar) as shipment_id,
        cast(order_id as varchar) as order_id,
        cast(carrier as varchar) as carrier,
        cast(event_type as varchar) as event_type,
        cast(event_ts as timestamptz) as event_ts,
        cast(location as varchar) as location,
        {{ row_source() }} as source,
        cast(origin as varchar) as origin,
        cast(ingested_at as timestamptz) as ingested_at,
        cast(dt as date) as ingest_dt,
        cast(hour as integer) as ingest_hour

    from source
    where {{ chosen_sources(row_source()) }}

),

deduplicated as (

    -- A scan reported twice (the carrier re-sent it, or a landing file
    -- repeated it) is kept once: the copy ingested first.
    select *
    from renamed
    {{ first_ingested('event_id') }}

)

select * from deduplicated
