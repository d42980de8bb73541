with

landed as (

    select *
    from {{ ref('stg_commerce__shipments_landed') }}
    where {{ chosen_sources('source') }}

),

deduplicated as (

    -- A shipment exported twice (a file sent again) is kept once: the copy
    -- ingested first, as for orders.
    select *
    from landed
    {{ first_ingested('shipment_id') }}

)

select * from deduplicated
