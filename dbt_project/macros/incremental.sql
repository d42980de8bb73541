{#
  Incremental builds. The transform DAG plans each build (fieldhouse.watermarks):
  it compares the raw partitions in MinIO with those the lake was built from,
  writes the partitions that are new or rewritten to meta.pending_partitions
  and the event hours they touch to meta.pending_hours, and runs dbt with the
  var `incremental: true`. The incremental models then read and replace only
  what the plan names. Without that var (dbt by hand) or with --full-refresh,
  they are rebuilt whole, like tables.

  planned(): whether this is a planned incremental build of an existing model.

  plan_rows(sql): the rows of a query on the plan, [] outside a planned build.

  delete_pending_partitions(dataset): a pre-hook deleting the rows that the
  pending partitions of `dataset` held (in the model's own transaction).

  pending_partitions_read(dataset, relation, columns): a select of the pending
  partitions of `dataset`, read from their own objects only; `relation` is the
  dataset's source (read_parquet or read_json), whose glob names the files. No
  pending partition: no_rows(columns).
#}
{% macro planned() -%}
    {{ return(execute and var('incremental', false) and is_incremental()) }}
{%- endmacro %}

{% macro plan_rows(sql) -%}
    {%- if not planned() -%}
        {{ return([]) }}
    {%- endif -%}
    {{ return(run_query(sql).rows) }}
{%- endmacro %}

{% macro delete_pending_partitions(dataset) -%}
    {%- if planned() -%}
    delete from {{ this }}
    where (ingest_dt, ingest_hour) in (
        select (dt, hour) from lake.meta.pending_partitions
        where dataset = '{{ dataset }}'
    )
    {%- endif -%}
{%- endmacro %}

{% macro pending_partitions_read(dataset, relation, columns) -%}
    {%- set partitions = plan_rows(
        "select partition from lake.meta.pending_partitions where dataset = '"
        ~ dataset ~ "' and present order by partition"
    ) -%}
    {%- set location = modules.re.search("(read_parquet|read_json)\\(\\s*'([^']+)/\\*/\\*/([^'/]+)'(.*)\\)\\s*$", relation | string | trim) -%}
    {%- if location is none -%}
        {{ exceptions.raise_compiler_error("cannot read partitions of " ~ relation) }}
    {%- endif -%}
    {%- if partitions | length == 0 -%}
    {{ no_rows(columns) }}
    {%- else -%}
    select * from {{ location.group(1) }}(
        [
            {%- for row in partitions %}
            '{{ location.group(2) }}/{{ row[0] }}/{{ location.group(3) }}'{{ "," if not loop.last }}
            {%- endfor %}
        ]{{ location.group(4) }}
    )
    {%- endif -%}
{%- endmacro %}

{#
  delete_affected_hours(affected): a pre-hook deleting the (source, event_hour)
  rows of a planned build's affected hours (a relation with those columns).
#}
{% macro delete_affected_hours(affected) -%}
    {%- if planned() -%}
    delete from {{ this }}
    where (source, event_hour) in (select (source, event_hour) from {{ affected }})
    {%- endif -%}
{%- endmacro %}

{#
  affected_hour_ranges(affected): in a planned build, [source, first, last]
  of the affected hours of each source; [] otherwise.

  hour_ranges_predicate(ranges, before, after, relation): true for the rows of
  each source whose event_hour lies from `before` hours before its first
  affected hour to `after` hours after its last.

  delete_feature_hours(affected): a pre-hook deleting the rows a planned
  build of ml_sensor_anomaly_features recomputes (a week after each range).
#}
{% macro affected_hour_ranges(affected) -%}
    {{ return(plan_rows(
        "select source, min(event_hour), max(event_hour) from " ~ affected
        ~ " group by source order by source"
    )) }}
{%- endmacro %}

{% macro hour_ranges_predicate(ranges, before, after, relation=none) -%}
    {%- set on = relation ~ '.' if relation else '' -%}
    (
    {%- for row in ranges %}
        ({{ on }}source = '{{ row[0] | replace("'", "''") }}'
         and {{ on }}event_hour between timestamptz '{{ row[1] }}' - interval {{ before }} hour
             and timestamptz '{{ row[2] }}' + interval {{ after }} hour){{ " or" if not loop.last }}
    {%- endfor %}
    )
{%- endmacro %}

{% macro delete_feature_hours(affected) -%}
    {%- set ranges = affected_hour_ranges(affected) -%}
    {%- if ranges -%}
    delete from {{ this }}
    where {{ hour_ranges_predicate(ranges, before=0, after=168) }}
    {%- endif -%}
{%- endmacro %}

{#
  delete_affected_customers(affected): a pre-hook deleting, in a planned build,
  the rows of each (source, customer_id) in `affected` from its from_ts on.
#}
{% macro delete_affected_customers(affected) -%}
    {%- if planned() -%}
    delete from {{ this }}
    where exists (
        select 1 from {{ affected }} as affected
        where affected.source = {{ this.identifier }}.source
            and affected.customer_id = {{ this.identifier }}.customer_id
            and {{ this.identifier }}.ts >= affected.from_ts
    )
    {%- endif -%}
{%- endmacro %}

{#
  no_rows(columns): an empty select with `columns` ("name" is a varchar, "name
  type" of that type).
#}
{% macro no_rows(columns) -%}
    select
        {%- for column in columns %}
        {%- set name_type = column.split(' ', 1) %}
        cast(null as {{ name_type[1] if name_type | length > 1 else 'varchar' }}) as {{ name_type[0] }}{{ "," if not loop.last }}
        {%- endfor %}
    where false
{%- endmacro %}

{#
  landed_source(dataset, relation, columns, optional=false): the raw rows a
  landed model reads: in a planned build the pending partitions of `dataset`
  only (see pending_partitions_read), otherwise every partition of `relation`;
  for an `optional` dataset (one many lakes never receive), no rows while raw
  holds no file of it. Files written before rows carried their source lack
  that column: it reads as null there, and row_source() derives it from the
  origin.
#}
{% macro landed_source(dataset, relation, columns, optional=false) -%}
    {% if planned() -%}
    {{ pending_partitions_read(dataset, relation, columns) }}
    {%- elif optional and not has_files(relation) -%}
    {{ no_rows(columns) }}
    {%- else -%}
    select * from {{ relation }}
    {%- endif %}
    union all by name
    select cast(null as varchar) as source where false
{%- endmacro %}

{#
  delete_affected_series(affected): a pre-hook deleting, in a planned build,
  the rows of each (source, instrument) in `affected` from its from_day on.
#}
{% macro delete_affected_series(affected) -%}
    {%- if planned() -%}
    delete from {{ this }}
    where exists (
        select 1 from {{ affected }} as affected
        where affected.source = {{ this.identifier }}.source
            and affected.instrument = {{ this.identifier }}.instrument
            and {{ this.identifier }}.trading_day >= affected.from_day
    )
    {%- endif -%}
{%- endmacro %}

{#
  delete_affected_shipments(affected): a pre-hook deleting, in a planned
  build, the rows of every shipment in `affected`, in every source.
#}
{% macro delete_affected_shipments(affected) -%}
    {%- if planned() -%}
    delete from {{ this }}
    where shipment_id in (select shipment_id from {{ affected }})
    {%- endif -%}
{%- endmacro %}
