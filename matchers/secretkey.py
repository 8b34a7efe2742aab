"""The secret key that makes every stored encoding useless without it.

The key is 32 random bytes in a file of its own, apart from the database, so that a copy of
the state database alone reveals nothing that can be checked against a guess. A key readable
by group or others is refused rather than silently tolerated: the whole privacy argument of
the threat model rests on the key staying with the operator. Under systemd the key arrives
through ``LoadCredential=`` as ``$CREDENTIALS_DIRECTORY/cohortwatch.key`` with mode 0400.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from matchers.errors import KeyFileError, KeyFilePermissionError

__all__ = ["CREDENTIAL_NAME", "KEY_BYTES", "create_key", "load_key", "resolve_key_path"]

KEY_BYTES = 32
CREDENTIAL_NAME = "cohortwatch.key"


def resolve_key_path(state_dir: Path, configured: Path | None = None) -> Path:
    """Where the key is read from: configured path, systemd credential, or the state dir.

    A configured path wins because an operator who names one means it; then a systemd
    credential, because under systemd the state dir must not hold the key at all.
    """
    if configured is not None:
        return configured
    creds = os.environ.get("CREDENTIALS_DIRECTORY")
    if creds:
        credential = Path(creds) / CREDENTIAL_NAME
        try:
            if credential.exists():
                return credential
        except OSError:
            return credential  # there but not readable: load_key says so, clearly
    return state_dir / "secret.key"


def create_key(path: Path) -> bool:
    """Create a new random key at ``path`` with mode 0600; keep an existing valid key.

    Returns True when a key was created. Never overwrites: replacing the key silently would
    orphan every enrolled cohort.

    :raises KeyFileError: the file exists but is not a valid key.
    :raises KeyFilePermissionError: the existing file is readable by others.
    """
    if path.exists():
        load_key(path)
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, secrets.token_bytes(KEY_BYTES))
        os.fsync(fd)
    finally:
        os.close(fd)
    return True


def load_key(path: Path) -> bytes:
    """Read the key, refusing one that group or others may read.

    :raises KeyFileError: missing file or wrong length.
    :raises KeyFilePermissionError: mode allows group/other access.
    """
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            raise KeyFileError(f"secret key {path} is not a regular file")
        if st.st_mode & 0o077:
            raise KeyFilePermissionError(
                f"secret key {path} has mode {stat.S_IMODE(st.st_mode):04o} and can be read "
                f"by others; fix it with `chmod 600 {path}` (0600 or 0400 are accepted)"
            )
        data = path.read_bytes()
    except FileNotFoundError:
        raise KeyFileError(
            f"secret key {path} not found: run `cohortwatch init` to create one, or point "
            "--config key_file / $CREDENTIALS_DIRECTORY at the existing key"
        ) from None
    except OSError as exc:
        raise KeyFileError(
            f"secret key {path} cannot be read ({exc.strerror}): run cohortwatch as the user "
            "that owns the key — under systemd, the service's user receives it through "
            "LoadCredential= (use cohortwatch-admin for commands on the service's state)"
        ) from None
    if len(data) != KEY_BYTES:
        raise KeyFileError(
            f"secret key {path} holds {len(data)} bytes, expected {KEY_BYTES}; restore the "
            "original key (encodings made with another key cannot be matched)"
        )
    return data
