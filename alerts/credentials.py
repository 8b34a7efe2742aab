"""Reading an endpoint's secret (and, for token-bearing chat URLs, its URL) from a file.

Under systemd the files arrive with ``LoadCredential=NAME:/etc/cohortwatch/NAME`` in
``$CREDENTIALS_DIRECTORY`` (mode 0400, only the service can read them); a relative name is
looked up there first, then next to the configuration file. Like the cohort key, a secret
file that group or others can read is refused: anyone holding the secret can forge alerts.
Messages name the endpoint and the file, never the content.
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
from pathlib import Path

from alerts.errors import WebhookSecretError

__all__ = ["SECRET_PREFIX", "find_credential", "parse_secret", "read_credential"]

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
_MIN_SECRET, _MAX_SECRET = 24, 64  # bytes, as the Standard Webhooks spec recommends


def find_credential(name: str, base_dir: Path | None) -> Path:
    """Where the file ``name`` is: as given when absolute; else in
    ``$CREDENTIALS_DIRECTORY``, else in ``base_dir`` (the configuration's folder).

    :raises WebhookSecretError: a relative name found in neither place.
    """
    path = Path(name)
    if path.is_absolute():
        return path
    tried: list[Path] = []
    creds = os.environ.get("CREDENTIALS_DIRECTORY")
    if creds:
        tried.append(Path(creds) / path)
    if base_dir is not None:
        tried.append(base_dir / path)
    for candidate in tried:
        if candidate.exists():
            return candidate
    where = ", ".join(str(p) for p in tried) or "nowhere ($CREDENTIALS_DIRECTORY unset)"
    raise WebhookSecretError(f"credential file {name!r} not found (looked in: {where})")


def read_credential(path: Path, what: str) -> str:
    """The text of a credential file, stripped, refusing one that others may read.

    :raises WebhookSecretError: missing, not a regular file, group/other-readable, empty.
    """
    try:
        st = path.stat()
    except OSError as exc:
        raise WebhookSecretError(f"{what} {path}: cannot be read ({exc.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        raise WebhookSecretError(f"{what} {path}: not a regular file")
    if st.st_mode & 0o077:
        raise WebhookSecretError(
            f"{what} {path} has mode {stat.S_IMODE(st.st_mode):04o} and can be read by "
            f"others; fix it with `chmod 600 {path}` (0600 or 0400 are accepted)")
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise WebhookSecretError(f"{what} {path}: cannot be read ({exc})") from None
    if not text:
        raise WebhookSecretError(f"{what} {path} is empty")
    return text


def parse_secret(text: str, where: str) -> bytes:
    """The key bytes of a ``whsec_<base64>`` secret (24 to 64 bytes).

    :raises WebhookSecretError: no ``whsec_`` prefix, not base64, or the wrong length.
    """
    if not text.startswith(SECRET_PREFIX):
        raise WebhookSecretError(f"{where}: expected a secret of the form whsec_<base64> "
                                 "(make one with: echo whsec_$(openssl rand -base64 32))")
    body = text[len(SECRET_PREFIX):]
    try:
        key = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise WebhookSecretError(f"{where}: the part after whsec_ is not base64") from None
    if not _MIN_SECRET <= len(key) <= _MAX_SECRET:
        raise WebhookSecretError(f"{where}: the secret holds {len(key)} bytes; use "
                                 f"{_MIN_SECRET} to {_MAX_SECRET} random bytes")
    return key
