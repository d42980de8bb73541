with

source as (

    select * from {{ source('market', 'price_bars') }}
    -- Files written before rows carried their source lack the column: it reads
    -- as null there, and row_source() derives it from the origin.
    union all by name
    select cast(null as varchar) as source where false

),

renamed as (

    select
        cast(event_id as varchar) as event_id,
        cast(instrument as varchar) as instrument,
        cast(bar_start as timestamptz) as bar_start,
        -- The UTC calendar day the bar started on.
        cast(timezone('UTC', cast(bar_start as timestamptz)) as date) as trading_day,
        cast(open as double) as open,
        cast(high as double) as high,
        cast(low as double) as low,
        cast(close as double) as close,
        cast(volume as bigint) as volume,
        {{ row_source() }} as source,
        cast(origin as varchar) as origin,
        cast(ingested_at as timestamptz) as ingested_at,
        cast(dt as date) as ingest_dt,
        cast(hour as integer) as ingest_hour

    from source
    where {{ chosen_sources(row_source()) }}

),

deduplicated as (

    -- A bar delivered twice (the feed and a landing file) is kept once: the
    -- copy ingested first.
    select *
    from renamed
    {{ first_ingested('event_id') }}

)

select * from deduplicated
