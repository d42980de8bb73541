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
        cast(installed_at as date) as installed_on

    from source

)

select * from renamed
