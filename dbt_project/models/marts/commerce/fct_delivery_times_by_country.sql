{#
  Delivery days are rounded to 9 decimal places (under a tenth of a
  millisecond): far below the scans' one-second precision, and it makes the
  interpolated percentiles exact decimals that the unit tests can state.
#}
{%- set window_days = var('delivery_window_days') | int -%}
{%- set late_after_days = var('late_after_days') -%}

with

shipments as (

    select * from {{ ref('int_shipments_summarized') }}

),

series_ends as (

    -- Each series (a source's deliveries to one country) ends at its own latest
    -- delivery, not at the clock or the lake's latest row: a rebuild of old
    -- data gives the same table, and one source's newer deliveries never
    -- empty another's window. The var as_of ends every window there instead
    -- (the intermediate model has already left out what came at or after it).
    select
        source,
        destination_country,
        coalesce({{ as_of() }}, max(delivered_at)) as window_end

    from shipments
    where delivered_at is not null
    group by source, destination_country

),

bounds as (

    select
        source,
        destination_country,
        window_end - to_days({{ window_days }}) as window_start,
        window_end

    from series_ends

),

delivered as (

    -- Deliveries in (window_start, window_end] whose order time is known:
    -- without it there is nothing to measure from.
    select
        shipments.*,
        bounds.window_start,
        bounds.window_end,
        -- Late against the seller's own promise when there is one, else
        -- against the shop's standard promise.
        case
            when shipments.promised_at is not null
                then shipments.delivered_at > shipments.promised_at
            else shipments.delivery_days > {{ late_after_days }}
        end as is_late

    from shipments
    inner join bounds
        on shipments.source = bounds.source
        and shipments.destination_country = bounds.destination_country
    where shipments.delivery_days is not null
        and shipments.delivered_at > bounds.window_start
        and shipments.delivered_at <= bounds.window_end

),

summarized as (

    select
        source,
        destination_country,
        -- The country rows (every carrier together) carry carrier = 'all'.
        case when grouping(carrier) = 1 then 'all' else carrier end as carrier,
        grouping(carrier) = 1 as is_country_row,
        any_value(window_start) as window_start,
        any_value(window_end) as window_end,
        count(*) as shipments_delivered,
        round(quantile_cont(delivery_days, 0.1), 9) as p10_delivery_days,
        round(quantile_cont(delivery_days, 0.5), 9) as p50_delivery_days,
        round(quantile_cont(delivery_days, 0.9), 9) as p90_delivery_days,
        round(avg(delivery_days), 9) as mean_delivery_days,
        count_if(had_exception) as exceptions,
        count_if(is_late) as late_shipments,
        count_if(promised_at is not null) as deliveries_with_promise

    from delivered
    group by grouping sets (
        (source, destination_country, carrier), (source, destination_country)
    )

),

final as (

    select
        source,
        destination_country,
        carrier,
        window_start,
        window_end,
        shipments_delivered,
        p10_delivery_days,
        p50_delivery_days,
        p90_delivery_days,
        mean_delivery_days,
        exceptions,
        late_shipments,
        late_shipments / shipments_delivered as late_share,
        deliveries_with_promise,
        -- Eight in ten deliveries fall inside the promise.
        'arrives in ' || cast(floor(p10_delivery_days) as integer)
            || ' to ' || cast(ceil(p90_delivery_days) as integer) || ' days' as promise

    from summarized
    -- Shipments whose carrier is not known count in their country's row only.
    where is_country_row or carrier is not null

)

select * from final
