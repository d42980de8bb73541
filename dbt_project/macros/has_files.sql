{#
  has_files(relation): whether an external source's read_parquet glob matches a file.

  DuckDB fails on a glob that matches nothing, and some raw data only exists
  once something was written there: the quarantine holds files only after a
  row failed validation, a registry only after a writer registered. A model
  reading such a source selects typed empty rows instead:

      {% if has_files(source('market', 'price_bars_quarantined')) %} ...

  It is true while parsing (nothing is read then) and in unit tests, where the
  source renders as a fixture rather than a read_parquet call: a model's unit
  tests read their fixtures whatever the buckets hold.
#}
{% macro has_files(relation) -%}
    {%- set location = modules.re.search("read_parquet\\(\\s*'([^']+)'", relation | string) -%}
    {%- if not execute or location is none -%}
        {{ return(true) }}
    {%- endif -%}
    {%- set pattern = location.group(1) | replace("'", "''") -%}
    {%- set found = run_query("select count(*) from glob('" ~ pattern ~ "')") -%}
    {{ return(found.columns[0].values()[0] > 0) }}
{%- endmacro %}
