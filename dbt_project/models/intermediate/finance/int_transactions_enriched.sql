{#
  Window features of each transaction against the same customer's earlier
  ones. "Earlier" is the order (ts, transaction_id), so two transactions in the
  same second still have a fixed order. A customer is a customer of one source:
  the same id in two sources is two customers.
#}
{%- set as_of = as_of() -%}

with

transactions as (

    select
        *,
        -- Microseconds since 1970 as an integer: RANGE frames over it need no
        -- time-zone arithmetic.
        epoch_us(ts) as ts_us
    from {{ ref('stg_finance__transactions') }}
    -- As of the var as_of, transactions at or after it had not happened.
    -- Features look only backwards, so leaving them out changes no earlier row.
    where {{ as_of }} is null or ts < {{ as_of }}

),

customers as (

    select * from {{ ref('stg_finance__customers') }}

),

enriched as (

    {{ transaction_features('transactions', 'customers') }}

)

select * from enriched
