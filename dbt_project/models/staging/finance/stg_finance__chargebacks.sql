with

landed as (

    select *
    from {{ ref('stg_finance__chargebacks_landed') }}
    where {{ chosen_sources('source') }}

),

deduplicated as (

    -- A chargeback reported twice is kept once: the copy ingested first.
    select *
    from landed
    {{ first_ingested('chargeback_id') }}

)

select * from deduplicated
