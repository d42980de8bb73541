with

source as (

    {% if has_files(source('market', 'price_bars_quarantined')) -%}
    select * from {{ source('market', 'price_bars_quarantined') }}
    {%- else -%}
    -- Nothing was ever quarantined: no file to read, so no row.
    select
        cast(null as varchar) as event_id,
        cast(null as varchar) as instrument,
        cast(null as varchar) as bar_start,
        cast(null as varchar) as origin,
        cast(null as varchar) as reason,
        cast(null as timestamptz) as ingested_at,
        cast(null as date) as dt,
        cast(null as integer) as hour
    where false
    {%- endif %}

),

kept_bars as (

    -- The landed copies, not raw: the lake's table reads a few columns of
    -- every bar without listing and opening every raw object.
    select origin, source, ingest_dt, ingest_hour
    from {{ ref('stg_market__price_bars_landed') }}
    where origin like 'landing:%'

),

file_sources as (

    -- Quarantined rows carry no source (ingestion stamps it on valid rows), but
    -- every row of a landing file has its contract's source: the file's rows
    -- that passed in the same ingest hour name it. A file none of whose rows
    -- passed, or a name two contracts' files shared that hour, names none.
    select origin, ingest_dt, ingest_hour, min(source) as source
    from kept_bars
    group by all
    having count(distinct source) = 1

),

renamed as (

    select
        cast(event_id as varchar) as event_id,
        cast(instrument as varchar) as instrument,
        -- Text as sent: a timestamp that does not parse becomes null.
        try_cast(bar_start as timestamptz) as bar_start,
        cast(timezone('UTC', try_cast(bar_start as timestamptz)) as date) as trading_day,
        cast(reason as varchar) as reason,
        cast(origin as varchar) as origin,
        cast(ingested_at as timestamptz) as ingested_at,
        cast(dt as date) as ingest_dt,
        cast(hour as integer) as ingest_hour

    from source

),

with_source as (

    select
        renamed.*,
        -- The fallbacks are row_source()'s for rows without a source.
        coalesce(
            file_sources.source,
            case when renamed.origin like 'landing:%' then 'landing' else 'simulator' end
        ) as source

    from renamed
    left join file_sources
        on renamed.origin = file_sources.origin
        and renamed.ingest_dt = file_sources.ingest_dt
        and renamed.ingest_hour = file_sources.ingest_hour

)

select
    event_id,
    instrument,
    bar_start,
    trading_day,
    reason,
    source,
    origin,
    ingested_at,
    ingest_dt,
    ingest_hour

from with_source
where {{ chosen_sources('source') }}
