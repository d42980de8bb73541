with

source as (

    select * from {{ source('finance', 'transactions') }}
    -- Files written before rows carried their source lack the column: it reads
    -- as null there, and row_source() derives it from the origin.
    union all by name
    select cast(null as varchar) as source where false

),

renamed as (

    select
        cast(transaction_id as varchar) as transaction_id,
        pseudonym(cast(customer_id as varchar)) as customer_id,
        cast(ts as timestamptz) as ts,
        -- The UTC calendar day of the transaction.
        cast(timezone('UTC', cast(ts as timestamptz)) as date) as transaction_date,
        cast(amount as double) as amount,
        cast(currency as varchar) as currency,
        cast(merchant_category as varchar) as merchant_category,
        cast(channel as varchar) as channel,
        cast(country as varchar) as country,
        cast(device_id as varchar) as device_id,
        {{ row_source() }} as source,
        cast(origin as varchar) as origin,
        cast(ingested_at as timestamptz) as ingested_at,
        cast(dt as date) as ingest_dt,
        cast(hour as integer) as ingest_hour

    from source
    where {{ chosen_sources(row_source()) }}

),

deduplicated as (

    -- A transaction delivered twice (the issuer's feed and a landing file) is
    -- kept once: the copy ingested first.
    select *
    from renamed
    {{ first_ingested('transaction_id') }}

)

select * from deduplicated
