{#
  Namespaces. Every raw row carries its source: `simulator`, or the source of the
  feed contract whose file brought it. Marts keep sources apart (each series is
  keyed by its source too), and a build can be limited to chosen sources:

      dbt build --vars '{sources: [nab, scms]}'

  row_source(): the row's source. Rows written before sources were recorded
  have none: a landing file's rows become `landing`, the rest `simulator`.

  chosen_sources(expression): a filter keeping rows whose source is in the var
  `sources` (a list, or a comma-separated string); true when it is unset.
#}
{% macro row_source(relation='source') -%}
    coalesce(
        cast({{ relation }}.source as varchar),
        case when {{ relation }}.origin like 'landing:%' then 'landing' else 'simulator' end
    )
{%- endmacro %}

{% macro chosen_sources(expression) -%}
    {%- set chosen = var('sources', none) -%}
    {%- if chosen is string -%}
        {%- set chosen = chosen.split(',') | map('trim') | reject('equalto', '') | list -%}
    {%- endif -%}
    {%- if not chosen -%}
        true
    {%- else -%}
        {{ expression }} in (
            {%- for name in chosen -%}
                '{{ name | replace("'", "''") }}'{{ ", " if not loop.last }}
            {%- endfor -%}
        )
    {%- endif -%}
{%- endmacro %}

{#
  As-of dates. Trailing windows (delivery percentiles, RFM, volatility) end at
  each series' own latest data, so one source's newer rows never hide another's
  history. The var `as_of` (a date or timestamp, UTC) ends every window there
  instead, and leaves out what happened after it:

      dbt build --vars '{as_of: "2015-06-30"}'

  as_of(): the var as a timestamptz, or `null` when it is unset. A date alone
  means the end of that day (UTC); a timestamp without an offset is UTC.
#}
{% macro as_of() -%}
    {%- set value = var('as_of', none) -%}
    {%- if value is none or value | string | trim == '' -%}
        cast(null as timestamptz)
    {%- else -%}
        {%- set text = value | string | trim -%}
        {%- set parts = modules.re.match('^([0-9]{4}-[0-9]{2}-[0-9]{2})([ T][0-9:.]+)?(Z|[+-][0-9:]+)?$', text) -%}
        {%- if parts is none -%}
            {{ exceptions.raise_compiler_error("var as_of must be a date or a timestamp, like 2015-06-30 or 2015-06-30T12:00:00Z; got " ~ text) }}
        {%- elif parts.group(2) is none -%}
            timezone('UTC', cast('{{ parts.group(1) }}' as timestamp) + interval 1 day)
        {%- elif parts.group(3) is none -%}
            timezone('UTC', cast('{{ text }}' as timestamp))
        {%- else -%}
            cast('{{ text }}' as timestamptz)
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
