with

source as (

    select * from {{ source('sensors', 'devices') }}

),

renamed as (

    select
        cast(device_id as varchar) as device_id,
        cast(device_kind as varchar) as device_kind,
        cast(site as varchar) as site,
        cast(latitude as double) as latitude,
        cast(longitude as double) as longitude,
        cast(installed_at as date) as installed_on,
        cast(registered_by as varchar) as registered_by,
        cast(registered_at as timestamptz) as registered_at

    from source

),

deduplicated as (

    -- Each writer keeps its own entries, so a device registered by two writers
    -- (the simulator, then a user's file correcting its site) is there twice:
    -- the latest registration is the device's current description.
    select *
    from renamed
    {{ latest_registration('device_id') }}

)

select * from deduplicated
