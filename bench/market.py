"""Benchmark one month of commerce and finance: ingestion, dbt, and two baselines.

For each size the script starts its own MinIO (free ports, a temporary folder),
ingests one month of the simulated shop (orders and shipment scans) and card
issuer (transactions and chargebacks) into raw/, then times:

- ``dbt build --select tag:commerce tag:finance`` (models and tests), ``dbt run``
  of the same selection, and ``dbt run`` of the two marts the baselines compute
  with their upstream views only;
- the DuckDB floor: hand-written queries that build ``fct_delivery_times_by_country``
  and the window features of ``fct_transactions`` straight from the raw Parquet
  in MinIO, with the dbt models' deduplication and logic, each source apart;
- plain pandas doing the same two computations.

Stages run as in ``bench/run.py``: each in a fresh spawned process, transform and
baseline stages ``--repeat`` times, the fastest counting. The baselines are checked
against the dbt marts row by row; a disagreement stops the benchmark. Results go
to stdout, ``bench/results-market.md`` and ``bench/results-market.json``.

    python bench/market.py               # small (30 orders/h, 500 customers) and large
    python bench/market.py --quick       # four days at a trickle, to check it all works
    python bench/market.py --sizes large --keep
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from common import (
    machine_facts,
    machine_table,
    own_minio,
    parse_arguments,
    ratio,
    run_stage,
    settings,
    store,
    write_results,
)


@dataclass(frozen=True)
class Size:
    """How much the simulated shop and issuer do, and for how long."""

    orders_per_hour: float
    customers: int
    days: int


SIZES = {
    "quick": Size(orders_per_hour=5, customers=60, days=4),
    "small": Size(orders_per_hour=30, customers=500, days=31),
    "large": Size(orders_per_hour=300, customers=5000, days=31),
}
START = datetime(2026, 10, 1, tzinfo=UTC)
MEMORY_TARGET_MB = 2048
BUILD_TARGET_RATIO = 2.0
RELATIVE_TOLERANCE = 1e-9
SELECTION = ["--select", "tag:commerce", "tag:finance"]
MARTS_ONLY = ["--select", "+fct_delivery_times_by_country", "+fct_transactions"]


@dataclass(frozen=True)
class Check:
    """One mart the baselines rebuild: its key and the columns compared."""

    mart: str
    key: tuple[str, ...]
    exact: tuple[str, ...]
    close: tuple[str, ...]


DELIVERY = Check(
    mart="lake.main.fct_delivery_times_by_country",
    key=("source", "destination_country", "carrier"),
    exact=(
        "window_start",
        "window_end",
        "shipments_delivered",
        "exceptions",
        "late_shipments",
        "deliveries_with_promise",
    ),
    close=("p10_delivery_days", "p50_delivery_days", "p90_delivery_days", "mean_delivery_days"),
)
TRANSACTIONS = Check(
    mart="lake.main.fct_transactions",
    key=("source", "transaction_id"),
    exact=("tx_count_1h", "tx_count_24h", "is_new_country", "is_new_device"),
    close=("amount_to_usual_ratio", "seconds_since_prev_tx"),
)
CHECKS = {"delivery": DELIVERY, "transactions": TRANSACTIONS}


# --- Stages: each runs in a fresh process ------------------------------------------


def stage_ingest(source: str, size: dict[str, Any]) -> dict[str, Any]:
    """Ingest the whole interval of one source (every one of its feeds) into raw/."""
    from fieldhouse.ingest.feeds import ingest_source
    from fieldhouse.ingest.sources import SOURCES, CommerceRunOptions, FinanceRunOptions
    from fieldhouse.storage.keys import Interval

    interval = Interval(START, START + timedelta(days=size["days"]))
    objects = store()
    if source == "commerce":
        options = CommerceRunOptions(orders_per_hour=size["orders_per_hour"])
    else:
        options = FinanceRunOptions(customers=size["customers"])
    started = time.perf_counter()
    manifests = ingest_source(objects, SOURCES[source], interval, options)
    seconds = time.perf_counter() - started
    feeds = {
        feed: {
            "rows_in": sum(m.rows_in for m in runs),
            "rows_written": sum(m.rows_written for m in runs),
            "rows_quarantined": sum(m.rows_quarantined for m in runs),
            "partitions": len(runs),
            "unreconciled": sum(not m.reconciles for m in runs),
        }
        for feed, runs in manifests.items()
    }
    return {
        "seconds": seconds,
        "feeds": feeds,
        **{
            total: sum(feed[total] for feed in feeds.values())
            for total in ("rows_in", "rows_written", "rows_quarantined")
        },
        "raw_mb": _raw_mb(objects, source),
    }


def _raw_mb(objects, source: str) -> float:
    from fieldhouse.storage.keys import Bucket

    return sum(obj.size for obj in objects.list(Bucket.RAW, f"{source}/")) / 2**20


def stage_dbt(args: list[str]) -> dict[str, Any]:
    """One dbt command through fieldhouse.lake.run_dbt, as the transform DAG runs it."""
    # Imported before the clock starts, like every other stage's libraries.
    import dbt.adapters.duckdb
    import dbt.cli.main  # noqa: F401

    from fieldhouse.lake import run_dbt

    started = time.perf_counter()
    result = run_dbt(args, settings())
    seconds = time.perf_counter() - started
    nodes = list(getattr(result.result, "results", None) or [])
    by_type: dict[str, float] = {}
    for node in nodes:
        kind = str(node.node.resource_type)
        by_type[kind] = by_type.get(kind, 0.0) + node.execution_time
    return {
        "seconds": seconds,
        "nodes": len(nodes),
        "node_seconds": by_type,
        "slowest": sorted(
            ((n.node.name, round(n.execution_time, 2)) for n in nodes), key=lambda pair: -pair[1]
        )[:5],
    }


def stage_duckdb(outputs: dict[str, str]) -> dict[str, Any]:
    """The two hand-written queries, each materialized in memory, then saved for checking."""
    from fieldhouse.lake import duckdb_connect

    queries = {"delivery": delivery_sql(), "transactions": transactions_sql()}
    con = duckdb_connect(settings(), attach_lake=False)
    seconds, rows = {}, {}
    try:
        # Hours and dates are UTC, as in the dbt profile, whatever the machine's zone.
        con.execute("SET TimeZone = 'UTC'")
        for name, sql in queries.items():
            started = time.perf_counter()
            con.execute(f"CREATE TABLE {name} AS {sql}")
            seconds[name] = time.perf_counter() - started
            rows[name] = con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
        for name, path in outputs.items():
            con.execute(f"COPY {name} TO '{path}' (FORMAT parquet)")
    finally:
        con.close()
    return {"seconds": sum(seconds.values()), "parts": seconds, "mart_rows": rows}


def stage_pandas(outputs: dict[str, str]) -> dict[str, Any]:
    """Plain pandas: read the raw files, dedup, then the same two computations."""
    knobs = _dbt_vars()
    seconds, rows, read = {}, {}, {}

    started = time.perf_counter()
    orders = _read_raw(
        "COMMERCE_ORDERS",
        ["order_id", "ordered_at", "destination_country", "promised_at"],
        times=("ordered_at", "promised_at"),
    )
    scans = _read_raw(
        "COMMERCE_SHIPMENT_EVENTS",
        ["event_id", "shipment_id", "order_id", "carrier", "event_type", "event_ts"],
        times=("event_ts",),
    )
    records = _read_raw(
        "COMMERCE_SHIPMENTS",
        [
            "shipment_id",
            "order_id",
            "destination_country",
            "carrier",
            "ordered_at",
            "promised_at",
            "delivered_at",
        ],
        times=("ordered_at", "promised_at", "delivered_at"),
    )
    read["orders"], read["shipment_events"] = len(orders), len(scans)
    read["shipments"] = len(records)
    delivery = _pandas_delivery(orders, scans, records, knobs)
    seconds["delivery"] = time.perf_counter() - started
    del orders, scans, records

    started = time.perf_counter()
    tx = _read_raw(
        "FINANCE_TRANSACTIONS",
        ["transaction_id", "customer_id", "ts", "amount", "country", "device_id"],
        times=("ts",),
    )
    read["transactions"] = len(tx)
    features = _pandas_transactions(tx, _read_customers())
    seconds["transactions"] = time.perf_counter() - started

    for name, frame in (("delivery", delivery), ("transactions", features)):
        rows[name] = len(frame)
        frame.to_parquet(outputs[name], index=False)
    return {
        "seconds": sum(seconds.values()),
        "parts": seconds,
        "mart_rows": rows,
        "rows_read": read,
    }


def stage_verify(baselines: dict[str, dict[str, str]]) -> dict[str, Any]:
    """Compare each baseline with the dbt marts row by row; raise on any difference."""
    from fieldhouse.lake import duckdb_connect

    started = time.perf_counter()
    con = duckdb_connect(settings())
    try:
        con.execute("SET TimeZone = 'UTC'")
        totals = {
            "dbt marts": {
                "delivery": _delivery_totals(con, DELIVERY.mart),
                "transactions": _transaction_totals(con, TRANSACTIONS.mart),
            }
        }
        mismatches = {}
        for name, paths in baselines.items():
            delivery = f"read_parquet('{paths['delivery']}')"
            transactions = f"read_parquet('{paths['transactions']}')"
            totals[name] = {
                "delivery": _delivery_totals(con, delivery),
                "transactions": _transaction_totals(con, transactions),
            }
            mismatches[name] = {
                "delivery": _mismatches(con, DELIVERY, delivery),
                "transactions": _mismatches(con, TRANSACTIONS, transactions),
            }
    finally:
        con.close()
    failures = {
        name: {mart: bad for mart, bad in marts.items() if any(bad.values())}
        for name, marts in mismatches.items()
        if any(any(bad.values()) for bad in marts.values())
    }
    if failures:
        raise RuntimeError(
            "baselines disagree with the dbt marts (rows that differ, per column): "
            f"{json.dumps(failures)}; totals: {json.dumps(totals, default=str)}"
        )
    return {"seconds": time.perf_counter() - started, "totals": totals, "mismatches": mismatches}


# --- The SQL of the DuckDB floor -------------------------------------------------------


def _dbt_vars() -> dict[str, Any]:
    """The windows and thresholds, read from dbt_project.yml so the baselines stay in step.

    The baselines build the whole lake as it stands, as the benchmark's dbt
    commands do: a project default for ``as_of`` or ``sources`` would make dbt
    build something else, so it stops the benchmark instead.
    """
    import yaml

    from fieldhouse.config import dbt_project_dir

    knobs = yaml.safe_load((dbt_project_dir() / "dbt_project.yml").read_text())["vars"]
    narrowed = {var: knobs[var] for var in ("as_of", "sources") if knobs.get(var)}
    if narrowed:
        raise RuntimeError(f"the baselines build every source up to its latest data: {narrowed}")
    return knobs


def _raw(dataset_name: str) -> str:
    """A raw dataset's files, columns matched by name (older files lack ``source``)."""
    from fieldhouse.storage import keys

    glob = getattr(keys, dataset_name).glob()
    # An empty typed select supplies the column when no file has it yet, as in
    # the staging models.
    return (
        f"(SELECT * FROM read_parquet('{glob}', hive_partitioning = true, union_by_name = true) "
        "UNION ALL BY NAME SELECT CAST(NULL AS VARCHAR) AS source WHERE false)"
    )


# The row's namespace; rows written before sources were recorded have none.
ROW_SOURCE = (
    "coalesce(CAST(source AS VARCHAR), "
    "CASE WHEN origin LIKE 'landing:%' THEN 'landing' ELSE 'simulator' END)"
)


def _first_copy(key: str) -> str:
    """The staging models' dedup: each id once (whatever its source), the copy ingested first."""
    return (
        f"QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY ingested_at, dt, hour, origin) = 1"
    )


def delivery_sql() -> str:
    """``fct_delivery_times_by_country`` in one query, from the raw orders, scans and shipments.

    The logic of stg_commerce__*, int_shipments_summarized and the mart, keeping
    only the columns the mart needs: shipments of a source are built from its
    scans, or taken whole from its shipment records when it has no scans of
    them; each (source, destination_country) has its own window ending at its
    latest delivery.
    """
    knobs = _dbt_vars()
    window_days = int(knobs["delivery_window_days"])
    return f"""
    WITH orders AS (
        SELECT CAST(order_id AS VARCHAR) AS order_id,
               CAST(ordered_at AS TIMESTAMPTZ) AS ordered_at,
               CAST(destination_country AS VARCHAR) AS destination_country,
               CAST(promised_at AS TIMESTAMPTZ) AS promised_at,
               {ROW_SOURCE} AS source
        FROM {_raw("COMMERCE_ORDERS")}
        {_first_copy("order_id")}
    ),
    scans AS (
        SELECT CAST(shipment_id AS VARCHAR) AS shipment_id,
               CAST(order_id AS VARCHAR) AS order_id,
               CAST(carrier AS VARCHAR) AS carrier,
               CAST(event_type AS VARCHAR) AS event_type,
               CAST(event_ts AS TIMESTAMPTZ) AS event_ts,
               {ROW_SOURCE} AS source
        FROM {_raw("COMMERCE_SHIPMENT_EVENTS")}
        {_first_copy("event_id")}
    ),
    records AS (
        SELECT CAST(shipment_id AS VARCHAR) AS shipment_id,
               CAST(order_id AS VARCHAR) AS order_id,
               CAST(destination_country AS VARCHAR) AS destination_country,
               CAST(carrier AS VARCHAR) AS carrier,
               CAST(ordered_at AS TIMESTAMPTZ) AS ordered_at,
               CAST(promised_at AS TIMESTAMPTZ) AS promised_at,
               CAST(delivered_at AS TIMESTAMPTZ) AS delivered_at,
               {ROW_SOURCE} AS source
        FROM {_raw("COMMERCE_SHIPMENTS")}
        {_first_copy("shipment_id")}
    ),
    scanned AS (
        SELECT source, shipment_id,
               min(order_id) AS order_id,
               arg_min(carrier, event_ts) AS carrier,
               min(event_ts) FILTER (WHERE event_type = 'delivered') AS delivered_at,
               coalesce(bool_or(event_type = 'exception'), false) AS had_exception
        FROM scans GROUP BY source, shipment_id
    ),
    shipments AS (
        SELECT s.source, s.carrier, s.delivered_at, s.had_exception,
               o.ordered_at, o.destination_country, o.promised_at
        FROM scanned s LEFT JOIN orders o ON s.source = o.source AND s.order_id = o.order_id
        UNION ALL
        -- A shipment record counts only when its source has no scans of it.
        SELECT r.source, r.carrier, r.delivered_at, false AS had_exception,
               coalesce(r.ordered_at, o.ordered_at) AS ordered_at,
               coalesce(r.destination_country, o.destination_country) AS destination_country,
               coalesce(r.promised_at, o.promised_at) AS promised_at
        FROM records r LEFT JOIN orders o ON r.source = o.source AND r.order_id = o.order_id
        WHERE NOT EXISTS (
            SELECT 1 FROM scanned s WHERE s.source = r.source AND s.shipment_id = r.shipment_id)
    ),
    timed AS (
        SELECT *,
               (epoch_us(delivered_at) - epoch_us(ordered_at)) / 86400e6 AS delivery_days
        FROM shipments
    ),
    bounds AS (
        -- Every delivery of the series sets its end, measurable or not.
        SELECT source, destination_country,
               max(delivered_at) - to_days({window_days}) AS window_start,
               max(delivered_at) AS window_end
        FROM timed WHERE delivered_at IS NOT NULL
        GROUP BY source, destination_country
    ),
    delivered AS (
        SELECT t.*, b.window_start, b.window_end,
               CASE WHEN t.promised_at IS NOT NULL THEN t.delivered_at > t.promised_at
                    ELSE t.delivery_days > {knobs["late_after_days"]} END AS is_late
        FROM timed t
        JOIN bounds b ON t.source = b.source AND t.destination_country = b.destination_country
        WHERE t.delivery_days IS NOT NULL
          AND t.delivered_at > b.window_start AND t.delivered_at <= b.window_end
    )
    SELECT source, destination_country,
           CASE WHEN grouping(carrier) = 1 THEN 'all' ELSE carrier END AS carrier,
           any_value(window_start) AS window_start,
           any_value(window_end) AS window_end,
           count(*) AS shipments_delivered,
           round(quantile_cont(delivery_days, 0.1), 9) AS p10_delivery_days,
           round(quantile_cont(delivery_days, 0.5), 9) AS p50_delivery_days,
           round(quantile_cont(delivery_days, 0.9), 9) AS p90_delivery_days,
           round(avg(delivery_days), 9) AS mean_delivery_days,
           count_if(had_exception) AS exceptions,
           count_if(is_late) AS late_shipments,
           count_if(promised_at IS NOT NULL) AS deliveries_with_promise
    FROM delivered
    GROUP BY GROUPING SETS ((source, destination_country, carrier), (source, destination_country))
    -- Deliveries of an unknown carrier count in their country's row only.
    HAVING grouping(carrier) = 1 OR carrier IS NOT NULL"""


def transactions_sql() -> str:
    """The window features of ``fct_transactions`` in one query, from the raw transactions.

    The logic of stg_finance__transactions and int_transactions_enriched for
    the six features, each transaction against the same customer's earlier ones;
    a customer is a customer of one source.
    """
    from fieldhouse.storage.keys import FINANCE_CUSTOMERS

    return f"""
    WITH transactions AS (
        SELECT CAST(transaction_id AS VARCHAR) AS transaction_id,
               CAST(customer_id AS VARCHAR) AS customer_id,
               CAST(ts AS TIMESTAMPTZ) AS ts,
               epoch_us(CAST(ts AS TIMESTAMPTZ)) AS ts_us,
               CAST(amount AS DOUBLE) AS amount,
               CAST(country AS VARCHAR) AS country,
               CAST(device_id AS VARCHAR) AS device_id,
               {ROW_SOURCE} AS source
        FROM {_raw("FINANCE_TRANSACTIONS")}
        {_first_copy("transaction_id")}
    ),
    customers AS (
        SELECT CAST(customer_id AS VARCHAR) AS customer_id,
               CAST(device_id AS VARCHAR) AS registered_device_id,
               -- The registry has no source column: its writer tells the namespace.
               CASE WHEN starts_with(CAST(registered_by AS VARCHAR), 'landing') THEN 'landing'
                    ELSE 'simulator' END AS source
        -- Not Hive-partitioned: registered_by is the file's own column, not the folder's slug.
        FROM read_parquet('{FINANCE_CUSTOMERS.glob()}', hive_partitioning = false)
        -- The registry's reading: one row per customer, the latest registration.
        QUALIFY row_number() OVER (
            PARTITION BY customer_id
            ORDER BY registered_at DESC NULLS LAST, registered_by DESC NULLS LAST) = 1
    ),
    windowed AS (
        SELECT *,
               count(*) OVER (PARTITION BY source, customer_id ORDER BY ts_us
                   RANGE BETWEEN 3600000000 PRECEDING AND CURRENT ROW EXCLUDE CURRENT ROW)
                   AS tx_count_1h,
               count(*) OVER (PARTITION BY source, customer_id ORDER BY ts_us
                   RANGE BETWEEN 86400000000 PRECEDING AND CURRENT ROW EXCLUDE CURRENT ROW)
                   AS tx_count_24h,
               (ts_us - lag(ts_us) OVER in_order) / 1e6 AS seconds_since_prev_tx,
               median(amount) OVER (in_order ROWS BETWEEN 50 PRECEDING AND 1 PRECEDING)
                   AS usual_amount,
               row_number() OVER (PARTITION BY source, customer_id, country
                   ORDER BY ts, transaction_id) = 1 AS is_first_in_country,
               row_number() OVER (PARTITION BY source, customer_id, device_id
                   ORDER BY ts, transaction_id) = 1 AS is_first_on_device
        FROM transactions
        WINDOW in_order AS (PARTITION BY source, customer_id ORDER BY ts, transaction_id)
    )
    SELECT w.source, w.transaction_id, w.customer_id, w.tx_count_1h, w.tx_count_24h,
           w.is_first_in_country AS is_new_country,
           w.is_first_on_device AND w.device_id IS DISTINCT FROM c.registered_device_id
               AS is_new_device,
           coalesce(w.amount / w.usual_amount, 1.0) AS amount_to_usual_ratio,
           w.seconds_since_prev_tx
    FROM windowed w
    LEFT JOIN customers c ON w.source = c.source AND w.customer_id = c.customer_id"""


# --- The pandas baseline -----------------------------------------------------------------


def _read_raw(dataset_name: str, columns: list[str], times: tuple[str, ...] = ()):
    """Every raw file of a dataset: ``columns``, the row's source, and the dedup columns.

    Columns are matched by name, one a file lacks reading as null (as
    ``union_by_name`` does); ``times`` are read as UTC timestamps, typed even
    when every file holds them null.
    """
    import io

    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from fieldhouse.storage import keys

    dataset = getattr(keys, dataset_name)
    objects = store()
    wanted = [*columns, "source", "origin", "ingested_at"]
    frames = []
    for obj in objects.list(keys.Bucket.RAW, f"{dataset.path}/"):
        if not obj.key.key.endswith(".parquet"):
            continue
        table = pq.read_table(io.BytesIO(objects.get_bytes(obj.key)))
        table = table.select([column for column in wanted if column in table.column_names])
        # The Hive partition (dt=YYYY-MM-DD/hour=HH) is the dedup's tie-breaker.
        dt, hour = (part.split("=", 1)[1] for part in obj.key.key.split("/")[2:4])
        table = table.append_column("dt", pa.array([dt] * len(table), pa.string()))
        table = table.append_column("hour", pa.array([int(hour)] * len(table), pa.int64()))
        frames.append(table.to_pandas())
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    frame = frame.reindex(columns=[*wanted, "dt", "hour"])
    for column in (*times, "ingested_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    frame["source"] = _row_source(frame)
    return frame


def _row_source(frame):
    """The row's namespace; rows written before sources were recorded have none."""
    import numpy as np

    landing = frame["origin"].fillna("").astype(str).str.startswith("landing:")
    return frame["source"].where(frame["source"].notna(), np.where(landing, "landing", "simulator"))


def _first_copies(frame, key: str):
    """Each id once, whatever its source: the copy ingested first (the staging models' dedup)."""
    ordered = frame.sort_values(["ingested_at", "dt", "hour", "origin"], kind="stable")
    return ordered.drop_duplicates(key)


def _left_join(left, right, on: list[str]):
    """A SQL left join: a null key matches nothing (pandas would pair nulls)."""
    return left.merge(right.dropna(subset=on), on=on, how="left")


def _epoch_us(series):
    return series.dt.as_unit("us").astype("int64")


def _days_between(start, end):
    """Days from ``start`` to ``end`` by integer microseconds, null when either is."""
    start_us, end_us = start.dt.as_unit("us"), end.dt.as_unit("us")
    return (
        end_us.astype("int64").where(end_us.notna())
        - start_us.astype("int64").where(start_us.notna())
    ) / 86400e6


SHIPMENT_COLUMNS = [
    "source",
    "carrier",
    "delivered_at",
    "had_exception",
    "ordered_at",
    "destination_country",
    "promised_at",
]


def _pandas_delivery(orders, scans, records, knobs: dict[str, Any]):
    """The mart from the raw frames: shipments, each series' window, then the percentiles."""
    import numpy as np
    import pandas as pd

    orders = _first_copies(orders, "order_id")[
        ["source", "order_id", "ordered_at", "destination_country", "promised_at"]
    ]
    scanned = _scanned_shipments(_first_copies(scans, "event_id"))
    from_scans = _left_join(scanned.reset_index(), orders, ["source", "order_id"])
    shipments = pd.concat(
        [
            from_scans[SHIPMENT_COLUMNS],
            _recorded_shipments(_first_copies(records, "shipment_id"), orders, scanned.index),
        ],
        ignore_index=True,
    )
    shipments["delivery_days"] = _days_between(shipments["ordered_at"], shipments["delivered_at"])

    # Each (source, country) series ends at its own latest delivery, measurable or not.
    series = ["source", "destination_country"]
    bounds = (
        shipments[shipments["delivered_at"].notna()]
        .groupby(series)["delivered_at"]
        .max()
        .rename("window_end")
        .reset_index()
    )
    bounds["window_start"] = bounds["window_end"] - pd.Timedelta(
        days=int(knobs["delivery_window_days"])
    )
    delivered = shipments.merge(bounds, on=series, how="inner")
    delivered = delivered[
        delivered["delivery_days"].notna()
        & (delivered["delivered_at"] > delivered["window_start"])
        & (delivered["delivered_at"] <= delivered["window_end"])
    ].copy()
    # Late against the promise when there is one, else against the standard promise.
    promised = delivered["promised_at"].notna()
    delivered["has_promise"] = promised
    delivered["late"] = np.where(
        promised,
        delivered["delivered_at"] > delivered["promised_at"],
        delivered["delivery_days"] > float(knobs["late_after_days"]),
    )

    # Carrier rows drop shipments of an unknown carrier (groupby leaves null keys
    # out); the country rows keep them.
    result = pd.concat(
        [_summarize(delivered, [*series, "carrier"]), _summarize(delivered, series)],
        ignore_index=True,
    )
    result["carrier"] = result["carrier"].fillna("all")
    counts = ("exceptions", "late_shipments", "deliveries_with_promise")
    return result.astype(dict.fromkeys(counts, np.int64))


def _scanned_shipments(scans):
    """One row per (source, shipment_id) from its scans."""
    import pandas as pd

    # arg_min(carrier, event_ts): the carrier of the shipment's first scan.
    scans = scans.sort_values(["source", "shipment_id", "event_ts"], kind="stable")
    keys = ["source", "shipment_id"]
    by_shipment = scans.groupby(keys, sort=False)
    delivered = scans[scans["event_type"] == "delivered"]
    return pd.DataFrame(
        {
            "order_id": by_shipment["order_id"].min(),
            "carrier": by_shipment["carrier"].first(),
            "delivered_at": delivered.groupby(keys, sort=False)["event_ts"].min(),
            "had_exception": (scans["event_type"] == "exception")
            .groupby([scans["source"], scans["shipment_id"]], sort=False)
            .any(),
        }
    )


def _recorded_shipments(records, orders, scanned_keys):
    """Shipment records whose source has no scans of them, their order filling the gaps."""
    import pandas as pd

    records = records[
        ~pd.MultiIndex.from_frame(records[["source", "shipment_id"]]).isin(scanned_keys)
    ]
    joined = _left_join(
        records.drop(columns=["ingested_at", "dt", "hour", "origin"]),
        orders.rename(columns=lambda c: c if c in ("source", "order_id") else f"order_{c}"),
        ["source", "order_id"],
    )
    for column in ("ordered_at", "destination_country", "promised_at"):
        joined[column] = joined[column].where(joined[column].notna(), joined[f"order_{column}"])
    joined["had_exception"] = False
    return joined[SHIPMENT_COLUMNS]


def _summarize(delivered, keys: list[str]):
    """The mart's figures for each group of ``keys``."""
    import pandas as pd

    groups = delivered.groupby(keys, sort=False)
    days = groups["delivery_days"]
    return pd.DataFrame(
        {
            "window_start": groups["window_start"].first(),
            "window_end": groups["window_end"].first(),
            "shipments_delivered": days.size(),
            "p10_delivery_days": days.quantile(0.1).round(9),
            "p50_delivery_days": days.quantile(0.5).round(9),
            "p90_delivery_days": days.quantile(0.9).round(9),
            "mean_delivery_days": days.mean().round(9),
            "exceptions": groups["had_exception"].sum(),
            "late_shipments": groups["late"].sum(),
            "deliveries_with_promise": groups["has_promise"].sum(),
        }
    ).reset_index()


def _read_customers():
    """The customer registry, one row per customer, with the namespace its writer tells."""
    import numpy as np

    from fieldhouse.ingest import registries

    registry = registries.load(store(), registries.CUSTOMERS)
    landing = registry["registered_by"].fillna("").astype(str).str.startswith("landing")
    return registry.assign(source=np.where(landing, "landing", "simulator"))[
        ["source", "customer_id", "device_id"]
    ].rename(columns={"device_id": "registered_device_id"})


def _pandas_transactions(tx, customers):
    """The six window features, each transaction against its customer's earlier ones."""
    import numpy as np

    customer_keys = ["source", "customer_id"]
    tx = _first_copies(tx, "transaction_id")
    tx = tx.sort_values([*customer_keys, "ts", "transaction_id"], kind="stable", ignore_index=True)
    ts_us = _epoch_us(tx["ts"]).to_numpy()
    # A customer is a customer of one source. The frame is sorted by the keys,
    # so the groups are numbered in that order.
    customer = tx.groupby(customer_keys, sort=False).ngroup().to_numpy()

    # RANGE frames as binary searches over one sorted key per customer: the
    # customers' time spans are laid end to end, more than a day apart, so no
    # window reaches into the next customer. Peers (the same microsecond) count,
    # the row itself does not, as with EXCLUDE CURRENT ROW.
    start = ts_us.min()
    stride = int(ts_us.max() - start) + 2 * 86_400_000_000
    key = customer.astype(np.int64) * stride + (ts_us - start)
    upper = np.searchsorted(key, key, side="right")
    for name, width in (("tx_count_1h", 3_600_000_000), ("tx_count_24h", 86_400_000_000)):
        tx[name] = upper - np.searchsorted(key, key - width, side="left") - 1

    by_customer = tx.groupby(customer_keys, sort=False)
    previous = by_customer["ts"].shift()
    tx["seconds_since_prev_tx"] = (ts_us - _epoch_us(previous.fillna(tx["ts"]))) / 1e6
    tx.loc[previous.isna(), "seconds_since_prev_tx"] = np.nan
    # The median of up to 50 earlier amounts, the row itself left out.
    usual = by_customer["amount"].transform(
        lambda amounts: amounts.shift().rolling(50, min_periods=1).median()
    )
    tx["amount_to_usual_ratio"] = (tx["amount"] / usual).fillna(1.0)
    tx["is_new_country"] = ~tx.duplicated([*customer_keys, "country"])
    tx = _left_join(tx, customers, customer_keys)
    first_on_device = ~tx.duplicated([*customer_keys, "device_id"])
    same_device = (tx["device_id"] == tx["registered_device_id"]) | (
        tx["device_id"].isna() & tx["registered_device_id"].isna()
    )
    tx["is_new_device"] = first_on_device & ~same_device
    return tx[
        [
            "source",
            "transaction_id",
            "customer_id",
            "tx_count_1h",
            "tx_count_24h",
            "is_new_country",
            "is_new_device",
            "amount_to_usual_ratio",
            "seconds_since_prev_tx",
        ]
    ]


# --- Agreement with the marts ------------------------------------------------------------


def _delivery_totals(con, source: str) -> dict[str, Any]:
    rows, delivered, late, p50 = con.execute(
        "SELECT count(*), sum(shipments_delivered) FILTER (WHERE carrier = 'all'), "
        f"sum(late_shipments) FILTER (WHERE carrier = 'all'), sum(p50_delivery_days) "
        f"FROM {source}"
    ).fetchone()
    return {
        "rows": rows,
        "shipments_delivered": int(delivered or 0),
        "late_shipments": int(late or 0),
        "sum_p50_delivery_days": p50,
    }


def _transaction_totals(con, source: str) -> dict[str, Any]:
    rows, count_24h, new_devices, ratio_sum = con.execute(
        "SELECT count(*), sum(tx_count_24h), count_if(is_new_device), "
        f"sum(amount_to_usual_ratio) FROM {source}"
    ).fetchone()
    return {
        "rows": rows,
        "sum_tx_count_24h": int(count_24h or 0),
        "new_devices": new_devices,
        "sum_amount_to_usual_ratio": ratio_sum,
    }


def _mismatches(con, check: Check, source: str) -> dict[str, int]:
    """Rows missing on either side, and per column the rows whose values differ."""
    first = check.key[0]
    on = " AND ".join(f"m.{key} = b.{key}" for key in check.key)
    both = f"m.{first} IS NOT NULL AND b.{first} IS NOT NULL"
    checks = {
        "missing_in_mart": f"m.{first} IS NULL",
        "missing_in_baseline": f"b.{first} IS NULL",
        **{column: f"{both} AND m.{column} IS DISTINCT FROM b.{column}" for column in check.exact},
        **{
            column: f"{both} AND ((m.{column} IS NULL) <> (b.{column} IS NULL) OR "
            f"abs(m.{column} - b.{column}) > {RELATIVE_TOLERANCE} * greatest(1, abs(m.{column})))"
            for column in check.close
        },
    }
    select = ", ".join(f"count(*) FILTER (WHERE {sql})" for sql in checks.values())
    counts = con.execute(
        f"SELECT {select} FROM {check.mart} m FULL JOIN {source} b ON {on}"
    ).fetchone()
    return dict(zip(checks, (int(c) for c in counts), strict=True))


# --- One size, on its own MinIO ------------------------------------------------------


def bench_size(name: str, work: Path, repeat: int) -> dict[str, Any]:
    """Start a fresh stack, ingest the interval at this size, time every stage, verify."""
    with own_minio(work):
        return _measure_size(name, work, repeat)


def _measure_size(name: str, work: Path, repeat: int) -> dict[str, Any]:
    size = SIZES[name]
    print(
        f"{name}: {size.orders_per_hour:g} orders/h, {size.customers:,} customers, "
        f"{size.days} days",
        flush=True,
    )
    outputs = {
        baseline: {mart: str(work / f"{baseline}-{mart}.parquet") for mart in CHECKS}
        for baseline in ("floor", "pandas")
    }

    def timed(label: str, stage: Callable[..., dict[str, Any]], **kwargs: Any) -> dict:
        return run_stage(stage, work, label, repeat=repeat, **kwargs)

    size_args = {
        "orders_per_hour": size.orders_per_hour,
        "customers": size.customers,
        "days": size.days,
    }
    stages = {
        # Ingestion runs once: it is the slowest stage and writes the data.
        "ingest commerce": run_stage(
            stage_ingest, work, "ingest commerce", source="commerce", size=size_args
        ),
        "ingest finance": run_stage(
            stage_ingest, work, "ingest finance", source="finance", size=size_args
        ),
        "dbt parse": run_stage(stage_dbt, work, "dbt parse", args=["parse"]),
        "duckdb floor": timed("duckdb floor", stage_duckdb, outputs=outputs["floor"]),
        "pandas": timed("pandas", stage_pandas, outputs=outputs["pandas"]),
        # --full-refresh: every command rebuilds the whole month, even if a model
        # becomes incremental, so the dbt figures stay comparable.
        "dbt run marts": timed(
            "dbt run marts", stage_dbt, args=["run", "--full-refresh", *MARTS_ONLY]
        ),
        "dbt run": timed("dbt run", stage_dbt, args=["run", "--full-refresh", *SELECTION]),
        "dbt build": timed("dbt build", stage_dbt, args=["build", "--full-refresh", *SELECTION]),
    }
    verify = run_stage(stage_verify, work, "verify", baselines=outputs)
    _check_row_flow(stages, verify)
    return {"name": name, "size": size_args, "stages": stages, "verify": verify}


def _check_row_flow(stages: dict[str, Any], verify: dict[str, Any]) -> None:
    """Every row in is written or quarantined, and every row written is read back."""
    problems = []
    for source in ("commerce", "finance"):
        for feed, counts in stages[f"ingest {source}"]["feeds"].items():
            if counts["unreconciled"] or counts["rows_in"] != (
                counts["rows_written"] + counts["rows_quarantined"]
            ):
                problems.append(
                    f"{feed}: {counts['rows_in']:,} in, {counts['rows_written']:,} written + "
                    f"{counts['rows_quarantined']:,} quarantined"
                )
            read = stages["pandas"]["rows_read"].get(feed)
            if read is not None and read != counts["rows_written"]:
                problems.append(f"{feed}: {counts['rows_written']:,} written, pandas read {read:,}")
    marts = verify["totals"]["dbt marts"]
    if marts["delivery"]["rows"] == 0 or marts["transactions"]["rows"] == 0:
        problems.append(f"a dbt mart is empty: {marts}")
    if problems:
        raise RuntimeError("row counts do not add up: " + "; ".join(problems))


# --- Report --------------------------------------------------------------------------


def derived(size: dict[str, Any]) -> dict[str, float]:
    """The ratios and rates the report leads with."""
    s = size["stages"]
    floor = s["duckdb floor"]["seconds"]
    out: dict[str, float] = {
        "rows_written": sum(s[f"ingest {src}"]["rows_written"] for src in ("commerce", "finance")),
    }
    for source in ("commerce", "finance"):
        ingest = s[f"ingest {source}"]
        out[f"ingest_{source}_rows_per_s"] = ratio(ingest["rows_in"], ingest["seconds"])
    out |= {
        "build_over_floor": ratio(s["dbt build"]["seconds"], floor),
        "run_over_floor": ratio(s["dbt run"]["seconds"], floor),
        "run_marts_over_floor": ratio(s["dbt run marts"]["seconds"], floor),
        "pandas_over_floor": ratio(s["pandas"]["seconds"], floor),
        "test_seconds": s["dbt build"]["seconds"] - s["dbt run"]["seconds"],
        "peak_rss_mb": max(stage["peak_rss_mb"] for stage in s.values()),
    }
    return out


STAGE_NOTES = {
    "ingest commerce": "simulate, validate, write orders and scans, hour by hour",
    "ingest finance": "customer registry; transactions and chargebacks, hour by hour",
    "dbt parse": "project parse, cold (not in the ratios)",
    "duckdb floor": "two queries: delivery times by country, transaction features",
    "pandas": "read, dedup, the same two computations",
    "dbt run marts": "`+fct_delivery_times_by_country +fct_transactions` only",
    "dbt run": "every commerce and finance model, no tests",
    "dbt build": "every commerce and finance model and test",
}


def render_markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Fieldhouse benchmark results: commerce and finance",
        "",
        f"Written by `bench/market.py` on {report['machine']['date']}; "
        f"whole run {report['total_seconds'] / 60:.1f} min. "
        "See `bench/README.md` for what each figure means.",
        "",
    ]
    lines += _summary_table(report)
    for size in report["sizes"]:
        lines += _stage_table(size)
    lines += _agreement_table(report)
    lines += machine_table(report["machine"])
    lines += BASELINE_SCOPE
    return "\n".join(lines) + "\n"


def _summary_table(report: dict[str, Any]) -> list[str]:
    out = [
        "## Summary",
        "",
        "| Size | Rows written | Commerce rows/s | Finance rows/s | Highest ingest peak "
        "| dbt build | DuckDB floor | pandas | build / floor | run / floor "
        "| marts-only run / floor | pandas / floor | tests cost | highest peak |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size in report["sizes"]:
        d, s = size["derived"], size["stages"]
        ingest_peak = max(s[f"ingest {src}"]["peak_rss_mb"] for src in ("commerce", "finance"))
        out.append(
            f"| {size['name']} | {d['rows_written']:,} "
            f"| {d['ingest_commerce_rows_per_s']:,.0f} | {d['ingest_finance_rows_per_s']:,.0f} "
            f"| {ingest_peak:,.0f} MB | {s['dbt build']['seconds']:.1f} s "
            f"| {s['duckdb floor']['seconds']:.2f} s | {s['pandas']['seconds']:.2f} s "
            f"| {d['build_over_floor']:.2f}x | {d['run_over_floor']:.2f}x "
            f"| {d['run_marts_over_floor']:.2f}x | {d['pandas_over_floor']:.2f}x "
            f"| {d['test_seconds']:+.1f} s | {d['peak_rss_mb']:,.0f} MB |"
        )
    out += [
        "",
        f"Targets, as for sensors: every stage's peak memory below {MEMORY_TARGET_MB:,} MB; "
        f"`dbt build` at most {BUILD_TARGET_RATIO:g}x the DuckDB floor at the large size. "
        "Both ratios are taken within one run. Tests cost = `dbt build` minus `dbt run`.",
        "",
    ]
    for size in report["sizes"]:
        d = size["derived"]
        memory = "met" if d["peak_rss_mb"] < MEMORY_TARGET_MB else "NOT met"
        build = "met" if d["build_over_floor"] <= BUILD_TARGET_RATIO else "NOT met"
        scope = "" if size["name"] == "large" else " (the ratio target is set for large)"
        out += [
            f"- {size['name']}: memory target {memory} (highest peak "
            f"{d['peak_rss_mb']:,.0f} MB); build / floor {d['build_over_floor']:.2f}x, "
            f"target {build}{scope}.",
        ]
    return [*out, ""]


def _stage_table(size: dict[str, Any]) -> list[str]:
    s, d = size["stages"], size["derived"]
    raw_mb = s["ingest commerce"]["raw_mb"] + s["ingest finance"]["raw_mb"]
    feeds = {**s["ingest commerce"]["feeds"], **s["ingest finance"]["feeds"]}
    feed_text = ", ".join(f"{counts['rows_written']:,} {feed}" for feed, counts in feeds.items())
    spec = size["size"]
    out = [
        f"## {size['name']}: {spec['orders_per_hour']:g} orders/h, {spec['customers']:,} "
        f"customers, {spec['days']} days from {START:%Y-%m-%d}",
        "",
        f"Raw rows written: {feed_text} ({d['rows_written']:,} in all, "
        f"{raw_mb:.1f} MB of raw Parquet, labels included).",
        "",
        "| Stage | What | Wall (best) | Slowest run | Rows/s | Peak RSS | x floor |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    floor = s["duckdb floor"]["seconds"]
    for name, stage in s.items():
        # Ingestion is rated on the rows it read, every other stage on all raw rows.
        read = stage["rows_in"] if name.startswith("ingest") else d["rows_written"]
        rate = f"{read / stage['seconds']:,.0f}" if name != "dbt parse" else ""
        times = (
            f"{stage['seconds'] / floor:.2f}"
            if not name.startswith("ingest") and name != "dbt parse"
            else ""
        )
        slowest = f"{max(stage['runs']):.2f} s" if len(stage["runs"]) > 1 else ""
        out.append(
            f"| {name} | {STAGE_NOTES[name]} | {stage['seconds']:.2f} s | {slowest} | {rate} "
            f"| {stage['peak_rss_mb']:,.0f} MB | {times} |"
        )
    parts = ", ".join(
        f"{baseline} {part} {secs:.2f} s"
        for baseline in ("duckdb floor", "pandas")
        for part, secs in s[baseline]["parts"].items()
    )
    build = s["dbt build"]
    node_times = ", ".join(f"{kind} {secs:.1f} s" for kind, secs in build["node_seconds"].items())
    slowest = ", ".join(f"{node} {secs:.1f} s" for node, secs in build["slowest"])
    out += [
        "",
        f"Baselines by mart (best run): {parts}.",
        "",
        f"`dbt build`: {build['nodes']} nodes; summed node time {node_times} "
        f"(one dbt thread; DuckDB parallelizes within each node); slowest: {slowest}.",
        "",
    ]
    return out


def _agreement_table(report: dict[str, Any]) -> list[str]:
    out = [
        "## Agreement with the dbt marts",
        "",
        "Each baseline's delivery table is joined to `fct_delivery_times_by_country` on "
        "source, country and carrier, its transaction features to `fct_transactions` on "
        "source and transaction id; counts, flags and window bounds must be equal, floats equal "
        f"to a relative {RELATIVE_TOLERANCE:g}. The run stops if any row differs.",
        "",
        "| Size | Result | Delivery rows | Shipments delivered | Late | Sum of p50 days "
        "| Transactions | Sum of tx_count_24h | New devices | Sum of amount ratio "
        "| Rows that differ |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size in report["sizes"]:
        verify = size["verify"]
        for name, totals in verify["totals"].items():
            dl, tx = totals["delivery"], totals["transactions"]
            bad = (
                sum(sum(counts.values()) for counts in verify["mismatches"][name].values())
                if name in verify["mismatches"]
                else ""
            )
            out.append(
                f"| {size['name']} | {name} | {dl['rows']:,} | {dl['shipments_delivered']:,} "
                f"| {dl['late_shipments']:,} | {dl['sum_p50_delivery_days'] or 0:,.6f} "
                f"| {tx['rows']:,} | {tx['sum_tx_count_24h']:,} | {tx['new_devices']:,} "
                f"| {tx['sum_amount_to_usual_ratio'] or 0:,.6f} | {bad} |"
            )
    return [*out, ""]


BASELINE_SCOPE = [
    "## What the baselines leave out",
    "",
    "- The floor and pandas compute every column of `fct_delivery_times_by_country` but "
    "`late_share` and `promise` (both derived from columns that are checked), and only "
    "the six window features of `fct_transactions` (not the registry columns, "
    "chargeback labels, `log_amount` or `hour_of_day`). Both build every source up to "
    "its own latest data, as the benchmark's dbt commands do (`as_of` and `sources` "
    "unset). Neither builds "
    "`ml_delivery_time_features`, `dim_customers` or `ml_transaction_risk_features`, "
    "nor runs a test. `dbt run marts` is the closest like-for-like dbt figure; "
    "`dbt build` does both domains whole.",
    "- The floor writes to in-memory DuckDB tables; dbt writes Parquet to MinIO and "
    "commits to the DuckLake catalog.",
    "- Ingestion time includes simulating the shop and the issuer, which a real source "
    "would not cost; a month of hourly partitions also means thousands of small objects.",
    "- Peak RSS is the stage's own process; MinIO's memory is not counted.",
    "",
]


# --- Main ----------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    return parse_arguments(__doc__.splitlines()[0], SIZES, "results-market", argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started, load_at_start = time.perf_counter(), os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="fieldhouse-bench-market-"))
    try:
        sizes = [bench_size(name, work / name, args.repeat) for name in args.sizes]
        for size in sizes:
            size["derived"] = derived(size)
    except BaseException:
        print(f"benchmark failed; stage logs kept in {work}", file=sys.stderr)
        raise
    else:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    report = {
        "machine": machine_facts(load_at_start),
        "sizes": sizes,
        "total_seconds": time.perf_counter() - started,
    }
    markdown = render_markdown(report)
    write_results(args, report, markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
