with

source as (

    select * from {{ source('finance', 'chargebacks') }}
    -- Files written before rows carried their source lack the column: it reads
    -- as null there, and row_source() derives it from the origin.
    union all by name
    select cast(null as varchar) as source where false

),

renamed as (

    select
        cast(chargeback_id as varchar) as chargeback_id,
        cast(transaction_id as varchar) as transaction_id,
        pseudonym(cast(customer_id as varchar)) as customer_id,
        cast(reported_at as timestamptz) as reported_at,
        cast(amount as double) as amount,
        cast(currency as varchar) as currency,
        cast(reason_code as varchar) as reason_code,
        {{ row_source() }} as source,
        cast(origin as varchar) as origin,
        cast(ingested_at as timestamptz) as ingested_at,
        cast(dt as date) as ingest_dt,
        cast(hour as integer) as ingest_hour

    from source
    where {{ chosen_sources(row_source()) }}

),

deduplicated as (

    -- A chargeback reported twice is kept once: the copy ingested first.
    select *
    from renamed
    {{ first_ingested('chargeback_id') }}

)

select * from deduplicated
