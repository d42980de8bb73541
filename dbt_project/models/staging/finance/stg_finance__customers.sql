with

source as (

    select * from {{ source('finance', 'customers') }}

),

renamed as (

    select
        cast(customer_id as varchar) as customer_id,
        cast(home_country as varchar) as home_country,
        cast(currency as varchar) as currency,
        cast(device_id as varchar) as registered_device_id

    from source

)

select * from renamed
