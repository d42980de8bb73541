"""Customer-id pseudonyms: stable per key, different across keys, nulls kept."""

from __future__ import annotations

import re

import duckdb
import pandas as pd
import pyarrow as pa
import pytest

from fieldhouse import pseudonym

KEY = b"a key only these tests know"


def test_a_pseudonym_is_stable_shaped_and_keyed() -> None:
    first = pseudonym.pseudonym("CUST-00001", KEY)
    assert re.fullmatch(r"cus_[0-9a-f]{24}", first)
    assert pseudonym.pseudonym("CUST-00001", KEY) == first
    assert pseudonym.pseudonym("CUST-00002", KEY) != first
    assert pseudonym.pseudonym("CUST-00001", b"another key") != first
    assert "00001" not in first


def test_arrays_keep_nulls_and_order() -> None:
    values = pa.chunked_array([["b", None, "a"], ["b"]])
    hashed = pseudonym.pseudonymize(values, KEY).to_pylist()
    b, a = pseudonym.pseudonym("b", KEY), pseudonym.pseudonym("a", KEY)
    assert hashed == [b, None, a, b]
    series = pseudonym.pseudonymize_series(pd.Series(["a", None], index=[7, 9]), KEY)
    assert series.to_dict() == {7: a, 9: None}


def test_duckdb_gets_the_same_function() -> None:
    con = duckdb.connect()
    pseudonym.register(con, KEY)
    rows = con.execute("select pseudonym(id) from (values ('a'), (null), ('a')) t(id)").fetchall()
    assert rows == [(pseudonym.pseudonym("a", KEY),), (None,), (pseudonym.pseudonym("a", KEY),)]


def test_without_a_key_the_error_says_what_to_set(monkeypatch) -> None:
    monkeypatch.delenv(pseudonym.KEY_VARIABLE, raising=False)
    with pytest.raises(pseudonym.MissingKey, match="FIELDHOUSE_PSEUDONYM_KEY"):
        pseudonym.pseudonymize(pa.array(["a"]))
