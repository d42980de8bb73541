{#-
  Incremental: a planned build (see macros/incremental.sql) deletes and
  recomputes only the hours of int_sensor_hours_affected, from the readings of
  those hours and the 23 before them (the sparse-hour pools), plus the last
  hours of each series before that (the stuck flags' previous readings), all
  in one lake transaction. Otherwise it is rebuilt whole.
-#}
-- depends_on: {{ ref('stg_sensors__readings_landed') }}
-- depends_on: {{ ref('int_sensor_hours_affected') }}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    full_refresh=none if var('incremental', false) else true,
    pre_hook="{{ delete_affected_hours(ref('int_sensor_hours_affected')) }}",
) }}

{%- set bounds = plan_rows(
    "select min(event_hour) - interval 23 hour, max(event_hour) from "
    ~ ref('int_sensor_hours_affected')
) -%}

with

{% if bounds and bounds[0][0] is not none -%}

{%- set stuck_repeats = var('stuck_min_repeats') | int -%}
{%- set context_start = bounds[0][0] -%}
{%- set context_end = bounds[0][1] -%}
{%- set prior_sql -%}
    select source, device_id, metric, event_hour
    from {{ this }}
    where event_hour < '{{ context_start }}'
    qualify row_number() over (
        partition by source, device_id, metric order by event_hour desc
    ) <= {{ stuck_repeats }}
{%- endset -%}
{%- set prior_start = plan_rows("select min(event_hour) from (" ~ prior_sql ~ ")")[0][0] -%}

context_readings as (

    select *
    from {{ ref('stg_sensors__readings_landed') }}
    where event_hour between '{{ context_start }}' and '{{ context_end }}'

    {% if prior_start is not none -%}
    union all

    -- The last hours of each series before the context: the previous readings
    -- that the stuck flags of the first readings in it compare with.
    select landed.*
    from {{ ref('stg_sensors__readings_landed') }} as landed
    semi join ({{ prior_sql }}) as prior_hours
        on landed.source = prior_hours.source
        and landed.device_id = prior_hours.device_id
        and landed.metric = prior_hours.metric
        and landed.event_hour = prior_hours.event_hour
    where landed.event_hour >= '{{ prior_start }}'
        and landed.event_hour < '{{ context_start }}'
    {%- endif %}

),

deduplicated as (

    {{ deduplicate_readings('context_readings') }}

),

flagged as (

    {{ flag_readings('deduplicated') }}

),

readings as (

    select flagged.*
    from flagged
    semi join {{ ref('int_sensor_hours_affected') }} as affected
        on flagged.source = affected.source
        and flagged.event_hour = affected.event_hour

),

{%- else -%}

readings as (

    select * from {{ ref('int_sensor_readings_flagged') }}
    {%- if planned() %}
    -- A planned build with no affected hour: nothing to recompute.
    where false
    {%- endif %}

),

{%- endif %}

hourly as (

    -- Grouped by the hour the reading was taken, not the partition it arrived in:
    -- a late reading counts towards the hour it describes.
    select
        source,
        device_id,
        metric,
        event_hour,
        count(*) as reading_count,
        avg(value) as value_mean,
        min(value) as value_min,
        max(value) as value_max,
        quantile_cont(value, 0.95) as value_p95,
        stddev_samp(value) as value_stddev,
        avg(cast(is_flagged as integer)) as flagged_share,
        count_if(is_spike) as spike_count,
        count_if(is_stuck) as stuck_count,
        min(event_ts) as first_event_at,
        max(event_ts) as last_event_at,
        max(ingested_at) as last_ingested_at

    from readings
    group by source, device_id, metric, event_hour

)

select * from hourly
