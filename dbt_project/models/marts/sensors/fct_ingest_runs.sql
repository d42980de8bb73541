with

runs as (

    select * from {{ ref('stg_sensors__ingest_runs') }}

),

final as (

    select
        dataset,
        interval_start,
        interval_end,
        rows_in,
        rows_written,
        rows_quarantined,
        rows_in = rows_written + rows_quarantined as reconciles,
        case when rows_in > 0 then rows_quarantined / rows_in end as quarantined_share,
        quarantine_reasons,
        landing_files_read,
        landing_files_rejected,
        ingested_at,
        run_at

    from runs

)

select * from final
