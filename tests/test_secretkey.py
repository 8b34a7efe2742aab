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


def test_a_key_the_user_may_not_read_is_a_clear_error(tmp_path: Path) -> None:
    """A credential the command's user cannot reach (a command run as another user than
    the service's) once ended in a PermissionError traceback."""
    import shutil
    import subprocess
    import sys

    from conftest import cli_env

    creds = tmp_path / "credentials"
    creds.mkdir()
    create_key(creds / "cohortwatch.key")
    state = tmp_path / "state"
    state.mkdir()
    prefix: list[str] = []
    if os.geteuid() == 0:
        # Root reads anything: without its file-permission override it reads like a user,
        # and a credentials directory of another user's is closed to it.
        if shutil.which("setpriv") is None:
            pytest.skip("setpriv (util-linux) is needed to drop root's override")
        prefix = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"]
        os.chown(creds, 65534, 65534)
        creds.chmod(0o700)
    else:
        creds.chmod(0o000)
    try:
        done = subprocess.run(
            [*prefix, sys.executable, "-m", "monitor.cli", "--state-dir", str(state), "cohort",
             "list"], env=cli_env({"CREDENTIALS_DIRECTORY": str(creds)}), capture_output=True,
            text=True, check=False)
    finally:
        creds.chmod(0o700)
    assert done.returncode == 2, done
    assert "cannot be read (Permission denied)" in done.stderr
    assert "Traceback" not in done.stderr
