with

landed as (

    select *
    from {{ ref('stg_commerce__orders_landed') }}
    where {{ chosen_sources('source') }}

),

deduplicated as (

    -- An order delivered twice (the shop's feed and a landing file) is kept
    -- once: the copy ingested first.
    select *
    from landed
    {{ first_ingested('order_id') }}

)

select * from deduplicated
