{#-
  Every copy of every price bar in raw, typed, kept one ingest partition at a
  time, like stg_sensors__readings_landed: a planned incremental build deletes
  the rows of the partitions its plan lists and reads only those partitions'
  objects again, in one lake transaction.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    full_refresh=none if var('incremental', false) else true,
    pre_hook="{{ delete_pending_partitions('market/price_bars') }}",
) }}

with

source as (

    {{ landed_source(
        'market/price_bars',
        source('market', 'price_bars'),
        ['event_id', 'instrument', 'bar_start', 'open', 'high', 'low', 'close', 'volume',
         'origin', 'ingested_at', 'dt', 'hour'],
    ) }}

),

renamed as (

    select
        cast(event_id as varchar) as event_id,
        cast(instrument as varchar) as instrument,
        cast(bar_start as timestamptz) as bar_start,
        -- The UTC calendar day the bar started on.
        cast(timezone('UTC', cast(bar_start as timestamptz)) as date) as trading_day,
        cast(open as double) as open,
        cast(high as double) as high,
        cast(low as double) as low,
        cast(close as double) as close,
        cast(volume as bigint) as volume,
        {{ row_source() }} as source,
        cast(origin as varchar) as origin,
        cast(ingested_at as timestamptz) as ingested_at,
        cast(dt as date) as ingest_dt,
        cast(hour as integer) as ingest_hour

    from source

)

select * from renamed
