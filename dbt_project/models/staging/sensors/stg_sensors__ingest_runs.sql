with

source as (

    select * from {{ source('sensors', 'ingest_manifests') }}

),

renamed as (

    select
        cast(dataset as varchar) as dataset,
        cast(interval_start as timestamptz) as interval_start,
        cast(interval_end as timestamptz) as interval_end,
        cast(rows_in as bigint) as rows_in,
        cast(rows_written as bigint) as rows_written,
        cast(rows_quarantined as bigint) as rows_quarantined,
        cast(reasons as map(varchar, bigint)) as quarantine_reasons,
        cast(coalesce(len(files), 0) as integer) as landing_files_read,
        cast(coalesce(cardinality(files_rejected), 0) as integer) as landing_files_rejected,
        cast(ingested_at as timestamptz) as ingested_at,
        cast(run_at as timestamptz) as run_at,
        cast(dt as date) as ingest_dt,
        cast(hour as integer) as ingest_hour

    from source

)

select * from renamed
