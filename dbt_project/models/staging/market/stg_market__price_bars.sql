with

landed as (

    select *
    from {{ ref('stg_market__price_bars_landed') }}
    where {{ chosen_sources('source') }}

),

deduplicated as (

    -- A bar delivered twice (the feed and a landing file) is kept once: the
    -- copy ingested first.
    select *
    from landed
    {{ first_ingested('event_id') }}

)

select * from deduplicated
