"""Files holding secrets are private from their first byte."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from fieldhouse import localstack


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_secret_file_is_owner_only_even_with_an_open_umask(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        localstack.write_private(tmp_path / "secret", "s3cr3t")
    finally:
        os.umask(previous)
    assert _mode(tmp_path / "secret") == 0o600
    assert (tmp_path / "secret").read_text() == "s3cr3t"


def test_an_existing_readable_file_is_narrowed_before_the_secret_goes_in(tmp_path: Path) -> None:
    path = tmp_path / "passwords.json"
    path.write_text("old")
    path.chmod(0o644)
    localstack.write_private(path, "new")
    assert _mode(path) == 0o600
    assert path.read_text() == "new"


def test_the_stack_s_secrets_are_owner_only(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        config = localstack.StackConfig.load(tmp_path / "home")
    finally:
        os.umask(previous)
    assert _mode(tmp_path / "home" / "secrets.json") == 0o600
    assert config.secrets["evidently_secret"]
