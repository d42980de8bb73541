"""Fixtures of the acceptance tests: the real data sets beside the project."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.acceptance.test_real_datasets import DATASETS_DIR


@pytest.fixture(scope="module")
def datasets_dir() -> Path:
    """The shared data sets; CI must have them, a developer's machine may not."""
    if not DATASETS_DIR.is_dir():
        reason = f"the real data sets are not at {DATASETS_DIR}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return DATASETS_DIR
