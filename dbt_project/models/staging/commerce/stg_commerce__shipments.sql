with

source as (

    select * from {{ source('commerce', 'shipments') }}
    -- Files written before rows carried their source lack the column: it reads
    -- as null there, and row_source() derives it from the origin.
    union all by name
    select cast(null as varchar) as source where false

),

renamed as (

    select
        cast(shipment_id as varchar) as shipment_id,
        cast(order_id as varchar) as order_id,
        cast(destination_country as varchar) as destination_country,
        cast(destination_region as varchar) as destination_region,
        cast(carrier as varchar) as carrier,
        cast(shipment_mode as varchar) as shipment_mode,
        cast(ordered_at as timestamptz) as ordered_at,
        cast(promised_at as timestamptz) as promised_at,
        cast(delivered_at as timestamptz) as delivered_at,
        {{ row_source() }} as source,
        cast(origin as varchar) as origin,
        cast(ingested_at as timestamptz) as ingested_at,
        cast(dt as date) as ingest_dt,
        cast(hour as integer) as ingest_hour

    from source
    where {{ chosen_sources(row_source()) }}

),

deduplicated as (

    -- A shipment exported twice (a file sent again) is kept once: the copy
    -- ingested first, as for orders.
    select *
    from renamed
    {{ first_ingested('shipment_id') }}

)

select * from deduplicated
