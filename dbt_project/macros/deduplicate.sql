{#
  The QUALIFY clauses the staging models deduplicate with: one row per key.

  first_ingested(key): of a fact delivered more than once (a re-sent record, a
  landing file repeating the feed), the copy ingested first. Ties go to the
  earlier partition, then the origin's name, so every read keeps the same copy.

  latest_registration(key): of a registry entry that several writers
  registered, the latest registration; on a tie, the greatest registered_by.

  `relation` qualifies the columns when the select joins another relation:

      select renamed.*
      from renamed
      semi join repeated_events on ...
      {{ first_ingested('event_id', relation='renamed') }}
#}
{% macro first_ingested(key, relation=none) -%}
    {%- set on = relation ~ '.' if relation else '' -%}
    qualify row_number() over (
        partition by {{ on }}{{ key }}
        order by {{ on }}ingested_at, {{ on }}ingest_dt, {{ on }}ingest_hour, {{ on }}origin
    ) = 1
{%- endmacro %}

{% macro latest_registration(key) -%}
    qualify row_number() over (
        partition by {{ key }}
        order by registered_at desc nulls last, registered_by desc nulls last
    ) = 1
{%- endmacro %}
