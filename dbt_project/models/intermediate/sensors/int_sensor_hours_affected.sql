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

stream as (

    -- Each touched series' distinct readings since the first changed hour, in
    -- event order, with a marker at the end of each of its changed hours. One
    -- sort, however many hours changed (a backfill changes many).
    select distinct
        landed.source, landed.device_id, landed.metric, landed.event_hour,
        landed.event_ts, landed.event_id, false as is_marker
    from {{ ref('stg_sensors__readings_landed') }} as landed
    semi join (select distinct source, device_id, metric from touched_series) as series
        on landed.source = series.source
        and landed.device_id = series.device_id
        and landed.metric = series.metric
    where landed.event_hour > '{{ earliest[0][0] }}'

    union all

    select
        source, device_id, metric, event_hour,
        event_hour + interval 1 hour, null, true
    from touched_series

),

positioned as (

    -- How many readings precede each row, and at the last marker before it.
    select
        *,
        count(event_id) over series_order as readings_so_far,
        max(case when is_marker then count_before end) over series_order as at_marker
    from (
        select *, count(event_id) over series_order - (not is_marker)::integer as count_before
        from stream
        window series_order as (
            partition by source, device_id, metric
            order by event_ts, is_marker desc, event_id
            rows between unbounded preceding and current row
        )
    )
    window series_order as (
        partition by source, device_id, metric
        order by event_ts, is_marker desc, event_id
        rows between unbounded preceding and current row
    )

),

next_readings as (

    -- The first stuck_min_repeats readings after a changed hour of their series.
    select source, event_hour
    from positioned
    where not is_marker and readings_so_far - at_marker <= {{ stuck_repeats }}

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
