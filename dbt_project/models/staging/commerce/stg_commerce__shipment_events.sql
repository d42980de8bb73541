with

landed as (

    select *
    from {{ ref('stg_commerce__shipment_events_landed') }}
    where {{ chosen_sources('source') }}

),

deduplicated as (

    -- A scan reported twice (the carrier re-sent it, or a landing file
    -- repeated it) is kept once: the copy ingested first.
    select *
    from landed
    {{ first_ingested('event_id') }}

)

select * from deduplicated
