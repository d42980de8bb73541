"""Importing a file through a contract: the one ingestion path, on a real MinIO."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from fieldhouse.contracts.importer import (
    check_contracts,
    format_summary,
    import_file,
    rejection,
    resolve_contract,
)
from fieldhouse.storage.keys import Bucket, Interval, ObjectKey
from fieldhouse.storage.objects import ObjectStore

HOUR = Interval(datetime(2026, 11, 22, 13, tzinfo=UTC), datetime(2026, 11, 22, 14, tzinfo=UTC))

DRAFT = {
    "name": "draft_orders",
    "dataset": "commerce.orders",
    "landing": "draft_orders",
    "description": "Orders of a partner shop, tried before the contract is shipped.",
    "file": {"delimiter": ";", "decimal": ","},
    "fields": {
        "order_id": "Order",
        "customer_id": "Customer",
        "ordered_at": {"column": "Placed", "format": "%d.%m.%Y %H:%M", "timezone": "Europe/Berlin"},
        "destination_country": "Country",
        "currency": "Cur",
        "amount": {"column": "Total", "sentinels": {"values": ["n/a"]}},
        "item_count": "Items",
    },
}

ORDERS = (
    "Order;Customer;Placed;Country;Cur;Total;Items\n"
    "A-1;c-1;22.11.2026 14:05;DE;EUR;12,50;2\n"
    "A-2;c-2;22.11.2026 14:10;US;USD;-1;1\n"
    "A-3;c-3;22.11.2026 14:15;FR;EUR;n/a;1\n"
    "A-1;c-1;22.11.2026 14:05;DE;EUR;12,50;2\n"
)


@pytest.fixture
def draft(tmp_path: Path) -> Path:
    """A contract outside contracts/feeds: a draft being tried."""
    path = tmp_path / "draft_orders.yaml"
    path.write_text(yaml.safe_dump(DRAFT, sort_keys=False))
    return path


def test_a_draft_contract_is_found_by_path_and_checks_clean(draft: Path) -> None:
    contract = resolve_contract(draft)
    assert (contract.name, contract.path) == ("draft_orders", draft)
    good, errors = check_contracts([draft])
    assert (good, errors) == ([contract], [])


def test_an_unfinished_draft_is_reported(tmp_path: Path) -> None:
    unfinished = {**DRAFT, "fields": {**DRAFT["fields"], "customer_id": "TODO"}}
    del unfinished["fields"]["item_count"]
    path = tmp_path / "unfinished.yaml"
    path.write_text(yaml.safe_dump(unfinished))
    good, errors = check_contracts([path])
    assert good == []
    assert any("required fields ['item_count']" in e for e in errors)
    assert any("TODO left in fields.customer_id" in e for e in errors)


def test_an_unknown_contract_name_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="daily_stock_bars"):
        resolve_contract("no_such_feed")


@pytest.mark.integration
def test_a_file_imported_through_a_draft_reconciles(
    store: ObjectStore, draft: Path, tmp_path: Path
) -> None:
    orders = tmp_path / "orders-2026-11-22.csv"
    orders.write_text(ORDERS)
    manifest = import_file(store, draft, orders, hour=HOUR)

    assert (manifest.rows_in, manifest.rows_written, manifest.rows_quarantined) == (4, 1, 3)
    assert manifest.reasons == {
        "duplicate_order_id": 1,
        "missing_value_sentinel:amount": 1,
        "non_positive_amount": 1,
    }
    claimed = "s3://landing/_processed/draft_orders/dt=2026-11-22/hour=13/orders-2026-11-22.csv"
    assert manifest.files == [claimed]
    assert rejection(manifest, orders.name) is None
    raw = ObjectKey(Bucket.RAW, "commerce/orders/dt=2026-11-22/hour=13/part-0.parquet")
    assert store.exists(raw)

    summary = format_summary(manifest, resolve_contract(draft))
    assert summary.splitlines()[0] == "draft_orders -> commerce.orders, hour dt=2026-11-22/hour=13"
    assert "rows in:        4" in summary
    assert "accepted:       1" in summary
    assert "quarantined:    3" in summary
    assert "  missing_value_sentinel:amount: 1" in summary
    assert f"raw partition:  {raw.uri}" in summary
    assert "quarantine:     s3://quarantine/commerce/orders/dt=2026-11-22/hour=13/" in summary
    assert "files rejected: 0" in summary


@pytest.mark.integration
def test_a_file_the_contract_cannot_read_is_rejected_whole(
    store: ObjectStore, draft: Path, tmp_path: Path
) -> None:
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("a|b\n1|2\n")
    manifest = import_file(store, draft, wrong, hour=HOUR)

    assert manifest.rows_in == 0
    assert rejection(manifest, "wrong.csv").startswith("no_known_columns")
    kept = ObjectKey(Bucket.QUARANTINE, "draft_orders/files/dt=2026-11-22/hour=13/wrong.csv")
    assert store.get_bytes(kept) == wrong.read_bytes()
    summary = format_summary(manifest, resolve_contract(draft))
    assert "files rejected: 1" in summary
    assert f"(kept at {kept.uri})" in summary


@pytest.mark.integration
def test_real_daily_stock_bars_through_the_shipped_contract(
    store: ObjectStore, repo_root: Path
) -> None:
    csv = repo_root.parent / "shared" / "datasets" / "stocks_daily" / "dash-stock-ticker-demo.csv"
    if not csv.is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{csv} is missing; CI must provide the real data sets")
        pytest.skip(f"real data set not found at {csv}")
    manifest = import_file(store, "daily_stock_bars", csv, hour=HOUR)

    assert manifest.files_rejected == {}
    assert manifest.rows_in == 3634  # every row of the file, none lost on the way
    assert manifest.rows_in == manifest.rows_written + manifest.rows_quarantined
    assert sum(manifest.reasons.values()) == manifest.rows_quarantined
    assert f"rows in:        {manifest.rows_in}" in format_summary(
        manifest, resolve_contract("daily_stock_bars")
    )
