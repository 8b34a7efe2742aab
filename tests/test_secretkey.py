from __future__ import annotations

import os
from pathlib import Path

import pytest

from matchers.errors import KeyFileError, KeyFilePermissionError
from matchers.secretkey import create_key, load_key, resolve_key_path


def test_create_is_0600_and_never_overwrites(tmp_path: Path) -> None:
    p = tmp_path / "k"
    assert create_key(p) is True
    assert (p.stat().st_mode & 0o777) == 0o600
    first = load_key(p)
    assert len(first) == 32
    assert create_key(p) is False
    assert load_key(p) == first


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660])
def test_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    p = tmp_path / "k"
    create_key(p)
    p.chmod(mode)
    with pytest.raises(KeyFilePermissionError, match="chmod 600"):
        load_key(p)


def test_0400_is_accepted(tmp_path: Path) -> None:
    p = tmp_path / "k"
    create_key(p)
    p.chmod(0o400)
    assert len(load_key(p)) == 32


def test_wrong_length_and_missing(tmp_path: Path) -> None:
    p = tmp_path / "k"
    p.write_bytes(b"short")
    p.chmod(0o600)
    with pytest.raises(KeyFileError, match="5 bytes"):
        load_key(p)
    with pytest.raises(KeyFileError, match="cohortwatch init"):
        load_key(tmp_path / "missing")


def test_systemd_credential_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    create_key(creds / "cohortwatch.key")
    os.chmod(creds / "cohortwatch.key", 0o400)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    assert resolve_key_path(tmp_path / "state") == creds / "cohortwatch.key"
    assert resolve_key_path(tmp_path / "state", tmp_path / "x") == tmp_path / "x"
