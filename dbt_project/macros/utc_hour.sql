{#
  The start of the UTC hour of a TIMESTAMPTZ (after 1970), as a TIMESTAMPTZ.

  The same value as date_trunc('hour', ts) in a UTC session, by integer
  arithmetic on microseconds: date_trunc on TIMESTAMPTZ goes through the ICU
  calendar, which costs seconds per ten million readings.
#}
{% macro utc_hour(ts) -%}
    make_timestamptz(epoch_us({{ ts }}) // 3600000000 * 3600000000)
{%- endmacro %}
