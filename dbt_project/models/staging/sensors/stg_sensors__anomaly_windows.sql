with

windows as (

    select *
    from {{ ref('stg_sensors__anomaly_windows_landed') }}
    where {{ chosen_sources('source') }}

),

deduplicated as (

    -- A labels file sent twice is kept once: the copy ingested first.
    select *
    from windows
    {{ first_ingested('window_id') }}

)

select * from deduplicated
