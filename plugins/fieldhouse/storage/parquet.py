"""DataFrames to and from Parquet bytes, with one set of writer options."""

from __future__ import annotations

import io

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


def to_parquet_bytes(frame: pd.DataFrame) -> bytes:
    """Serialize ``frame`` (index dropped) as one zstd-compressed Parquet file."""
    return table_to_parquet_bytes(to_arrow_table(frame))


def to_arrow_table(frame: pd.DataFrame) -> pa.Table:
    """``frame`` as an Arrow table typed the way every Parquet file here is."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    # A text column that happens to be all None in one batch would be typed `null`,
    # and readers of many partitions would then disagree on its type: keep it text.
    for index, column in enumerate(table.schema):
        if pa.types.is_null(column.type):
            table = table.set_column(index, column.name, table.column(index).cast(pa.string()))
    return table


def table_to_parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd", row_group_size=256_000)
    return sink.getvalue()


def from_parquet_bytes(body: bytes) -> pd.DataFrame:
    return pq.read_table(io.BytesIO(body)).to_pandas()
