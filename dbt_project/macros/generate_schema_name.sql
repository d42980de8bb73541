{#
  Use a model's configured schema as is (staging, intermediate, main) instead of
  dbt's default "<target schema>_<custom schema>", so the lake's layout does not
  depend on the target: the marts are always lake.main.<name>.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
