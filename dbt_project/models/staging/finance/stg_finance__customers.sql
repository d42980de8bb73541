with

source as (

    select * from {{ source('finance', 'customers') }}

),

renamed as (

    select
        pseudonym(cast(customer_id as varchar)) as customer_id,
        cast(home_country as varchar) as home_country,
        cast(currency as varchar) as currency,
        cast(device_id as varchar) as registered_device_id,
        cast(registered_by as varchar) as registered_by,
        cast(registered_at as timestamptz) as registered_at,
        -- The registry has no source column; its writer (an origin such as
        -- `landing:<file>`) tells the namespace as row_source() tells a row's:
        -- files are `landing`, the rest is the simulator's.
        case
            when starts_with(cast(registered_by as varchar), 'landing') then 'landing'
            else 'simulator'
        end as source

    from source

),

deduplicated as (

    -- Each writer keeps its own entries, so a customer registered by two
    -- writers is there twice: the latest registration is the one that holds.
    select *
    from renamed
    where {{ chosen_sources('source') }}
    {{ latest_registration('customer_id') }}

)

select * from deduplicated
