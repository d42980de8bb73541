{#
  latest_seen(shipments): per source, the latest it has told of any of its
  shipments (a scan, an order, or the delivery of a shipment exported whole),
  from a relation shaped like int_shipments_summarized. The var as_of stands
  in for it (nothing from as_of on is in the intermediate model).

  delete_relabelled_deliveries(affected, shipments): a pre-hook of
  ml_delivery_time_features deleting, in a planned build, the rows of the
  shipments in `affected` and the rows whose label_complete the sources'
  latest news (from `shipments`, already rebuilt) now decides otherwise.
#}
{% macro latest_seen(shipments) -%}
    select
        source,
        coalesce(
            {{ as_of() }}, max(greatest(last_scan_at, delivered_at, ordered_at))
        ) as latest_seen_at

    from {{ shipments }}
    group by source
{%- endmacro %}

{% macro delete_relabelled_deliveries(affected, shipments) -%}
    {%- if planned() -%}
    delete from {{ this }}
    where shipment_id in (select shipment_id from {{ affected }})
        or label_complete is distinct from (
            ordered_at <= (
                select latest.latest_seen_at
                from ({{ latest_seen(shipments) }}) as latest
                where latest.source = {{ this.identifier }}.source
            ) - to_days({{ var('delivery_label_horizon_days') | int }})
        )
    {%- endif -%}
{%- endmacro %}
