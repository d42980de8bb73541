"""Parquet writing: one schema for every partition of a dataset."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from fieldhouse.storage.parquet import to_parquet_bytes


def test_all_none_text_columns_stay_text_in_parquet() -> None:
    frame = pd.DataFrame({"event_id": pd.Series([None, None], dtype=object), "n": [1, 2]})
    schema = pq.read_schema(pa.BufferReader(to_parquet_bytes(frame)))
    assert schema.field("event_id").type == pa.string()
