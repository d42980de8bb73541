with

readings as (

    select *
    from {{ ref('stg_sensors__readings_landed') }}
    where {{ chosen_sources('source') }}

),

deduplicated as (

    {{ deduplicate_readings('readings') }}

)

select * from deduplicated
