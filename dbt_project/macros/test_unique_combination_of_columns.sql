{#
  Passes when no two rows share the same values in all of combination_of_columns:
  the grain test of a model whose key spans several columns.

      data_tests:
        - unique_combination_of_columns:
            arguments:
              combination_of_columns: [device_id, metric, event_hour]
#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

select
    {{ combination_of_columns | join(', ') }},
    count(*) as n_rows
from {{ model }}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1

{% endtest %}
