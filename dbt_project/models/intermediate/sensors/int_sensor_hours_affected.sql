{#-
  The (source, event hour) pairs an incremental build recomputes in
  fct_sensor_readings_hourly: the hours whose readings changed (the plan's
  meta.pending_hours), the 23 hours after each (their sparse hours are judged
  against a pool of the last 24 hours), and the hours of the first
  stuck_min_repeats readings after a changed hour of each series it touched
  (their stuck flags compare with the readings before them). Empty outside a
  planned incremental build.
-#}
-- depends_on: {{ ref('stg_sensors__readings_landed') }}
{{ config(materialized='table') }}

{%- set stuck_repeats = var('stuck_min_repeats') | int -%}
{%- set active = execute and var('incremental', false) and not flags.FULL_REFRESH
    and adapter.get_relation(this.database, 'main', 'fct_sensor_readings_hourly') is not none -%}
{%- set earliest = run_query(
    "select min(event_hour) from (select event_hour from lake.meta.pending_hours "
    ~ "union all select min(landed.event_hour) from " ~ ref('stg_sensors__readings_landed')
    ~ " as landed semi join lake.meta.pending_partitions as pending"
    ~ " on pending.dataset = 'sensors/readings' and landed.ingest_dt = pending.dt"
    ~ " and landed.ingest_hour = pending.hour)"
).rows if active else [] -%}

with

{% if active and earliest[0][0] is not none -%}

changed as (

    -- Hours whose rows a reloaded partition held before this build (staged by
    -- the plan), and hours of the rows it holds now.
    select source, event_hour from lake.meta.pending_hours

    union

    select landed.source, landed.event_hour
    from {{ ref('stg_sensors__readings_landed') }} as landed
    semi join lake.meta.pending_partitions as pending
        on pending.dataset = 'sensors/readings'
        and landed.ingest_dt = pending.dt
        and landed.ingest_hour = pending.hour

),

touched_series as (

    -- The series with readings in a changed hour, now or before this build.
    select distinct landed.source, landed.device_id, landed.metric, landed.event_hour
    from {{ ref('stg_sensors__readings_landed') }} as landed
    semi join changed
        on landed.source = changed.source and landed.event_hour = changed.event_hour
    where landed.event_hour >= '{{ earliest[0][0] }}'

    union

    select distinct hourly.source, hourly.device_id, hourly.metric, hourly.event_hour
    from lake.main.fct_sensor_readings_hourly as hourly
    semi join changed
        on hourly.source = changed.source and hourly.event_hour = changed.event_hour

),

next_readings as (

    -- The first readings of each touched series after its changed hour.
    select landed.source, landed.event_hour
    from {{ ref('stg_sensors__readings_landed') }} as landed
    inner join touched_series
        on landed.source = touched_series.source
        and landed.device_id = touched_series.device_id
        and landed.metric = touched_series.metric
        and landed.event_hour > touched_series.event_hour
    where landed.event_hour > '{{ earliest[0][0] }}'
    qualify dense_rank() over (
        partition by touched_series.source, touched_series.device_id,
            touched_series.metric, touched_series.event_hour
        order by landed.event_ts, landed.event_id
    ) <= {{ stuck_repeats }}

),

affected as (

    select changed.source, changed.event_hour + to_hours(later.step) as event_hour
    from changed
    cross join range(0, 24) as later(step)

    union

    select source, event_hour from next_readings

)

select source, event_hour from affected

{%- else -%}

affected as (

    select cast(null as varchar) as source, cast(null as timestamptz) as event_hour

)

select * from affected where false

{%- endif %}
