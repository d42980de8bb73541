with

landed as (

    select *
    from {{ ref('stg_finance__transactions_landed') }}
    where {{ chosen_sources('source') }}

),

deduplicated as (

    -- A transaction delivered twice (the issuer's feed and a landing file) is
    -- kept once: the copy ingested first.
    select *
    from landed
    {{ first_ingested('transaction_id') }}

)

select * from deduplicated
