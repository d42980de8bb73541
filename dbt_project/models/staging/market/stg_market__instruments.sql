with

source as (

    {% if has_files(source('market', 'instruments')) -%}
    select * from {{ source('market', 'instruments') }}
    {%- else -%}
    -- Nothing registered yet (bars of catalog instruments can arrive through a
    -- feed that registers nothing): no instrument, rather than a failed read.
    select
        cast(null as varchar) as instrument_id,
        cast(null as varchar) as name,
        cast(null as varchar) as asset_class,
        cast(null as varchar) as currency,
        cast(null as varchar) as calendar,
        cast(null as boolean) as has_volume,
        cast(null as varchar) as registered_by,
        cast(null as timestamptz) as registered_at
    where false
    {%- endif %}

),

renamed as (

    select
        cast(instrument_id as varchar) as instrument_id,
        cast(name as varchar) as name,
        cast(asset_class as varchar) as asset_class,
        cast(currency as varchar) as currency,
        cast(calendar as varchar) as calendar,
        -- As validation reads it: only an explicit false means no volume (an
        -- index); registries written from files may hold the flag as text.
        coalesce(
            lower(trim(cast(has_volume as varchar))) not in ('false', '0', 'no'), true
        ) as has_volume,
        cast(registered_by as varchar) as registered_by,
        cast(registered_at as timestamptz) as registered_at

    from source

),

deduplicated as (

    -- Each writer keeps its own entries (the catalog, a feed registering tickers
    -- on first sight), so an instrument can be listed twice: the latest
    -- registration describes it.
    select *
    from renamed
    {{ latest_registration('instrument_id') }}

)

select * from deduplicated
