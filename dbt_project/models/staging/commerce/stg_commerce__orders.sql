with

source as (

    select * from {{ source('commerce', 'orders') }}
    -- Files written before rows carried their source lack the column: it reads
    -- as null there, and row_source() derives it from the origin.
    union all by name
    select cast(null as varchar) as source where false

),

renamed as (

    select
        cast(order_id as varchar) as order_id,
        pseudonym(cast(customer_id as varchar)) as customer_id,
        cast(ordered_at as timestamptz) as ordered_at,
        -- The UTC calendar day the order was placed on.
        cast(timezone('UTC', cast(ordered_at as timestamptz)) as date) as order_date,
        cast(destination_country as varchar) as destination_country,
        cast(destination_region as varchar) as destination_region,
        cast(currency as varchar) as currency,
        cast(amount as double) as amount,
        cast(item_count as integer) as item_count,
        cast(promised_at as timestamptz) as promised_at,
        {{ row_source() }} as source,
        cast(origin as varchar) as origin,
        cast(ingested_at as timestamptz) as ingested_at,
        cast(dt as date) as ingest_dt,
        cast(hour as integer) as ingest_hour

    from source
    where {{ chosen_sources(row_source()) }}

),

deduplicated as (

    -- An order delivered twice (the shop's feed and a landing file) is kept
    -- once: the copy ingested first.
    select *
    from renamed
    {{ first_ingested('order_id') }}

)

select * from deduplicated
