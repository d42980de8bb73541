with

landed as (

    select * from {{ ref('stg_sensors__anomaly_labels_landed') }}

),

keyed as (

    select
        md5(concat_ws('|', coalesce(event_id, device_id), fault, cast(event_ts as varchar)))
            as label_id,
        *
    from landed

),

deduplicated as (

    -- A reading delivered twice is labelled twice; one label per fault and reading.
    select * from keyed
    qualify row_number() over (partition by label_id order by ingest_dt, ingest_hour) = 1

)

select * from deduplicated
