"""Onion service addresses (v3) and the loopback exception.

A v3 address is 56 base32 characters: the service's ed25519 public key (32 bytes), a
2-byte checksum and the version byte 3, where the checksum is the first two bytes of
``SHA3-256(".onion checksum" || pubkey || version)``. Checking it at load catches the typo
that would otherwise fail only at crawl time, behind a Tor timeout. Obsolete v2 addresses (16
characters, switched off by Tor in 2021) get their own message.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress

__all__ = ["ONION_V3_LENGTH", "check_onion_host", "is_loopback_host", "onion_address"]

ONION_V3_LENGTH = 56
_VERSION = b"\x03"
_BASE32 = set("abcdefghijklmnopqrstuvwxyz234567")


def _checksum(pubkey: bytes, version: bytes) -> bytes:
    return hashlib.sha3_256(b".onion checksum" + pubkey + version).digest()[:2]


def onion_address(pubkey: bytes) -> str:
    """The v3 host name (``<56 chars>.onion``) of an ed25519 public key.

    :raises ValueError: the key is not 32 bytes.
    """
    if len(pubkey) != 32:
        raise ValueError("an ed25519 public key has 32 bytes")
    raw = pubkey + _checksum(pubkey, _VERSION) + _VERSION
    return base64.b32encode(raw).decode("ascii").lower() + ".onion"


def check_onion_host(host: str) -> str | None:
    """Why ``host`` is not a valid v3 onion host name, or None when it is.

    Subdomains (``www.<addr>.onion``) are allowed, as Tor allows them.
    """
    if not host.endswith(".onion"):
        return "not an .onion host"
    label = host[: -len(".onion")].rsplit(".", 1)[-1]
    if len(label) == 16 and set(label) <= _BASE32:
        return ("a v2 onion address (16 characters); Tor no longer supports these, "
                "use the v3 address")
    if len(label) != ONION_V3_LENGTH:
        return (f"a v3 onion address has {ONION_V3_LENGTH} characters before .onion, "
                f"this has {len(label)}")
    if not set(label) <= _BASE32:
        return "an onion address uses only the letters a-z and the digits 2-7"
    try:
        raw = base64.b32decode(label.upper())
    except (binascii.Error, ValueError):
        return "not valid base32"
    pubkey, checksum, version = raw[:32], raw[32:34], raw[34:]
    if version != _VERSION:
        return f"version byte is {version[0]}, a v3 address has 3"
    if checksum != _checksum(pubkey, version):
        return "checksum does not match (a typo in the address?)"
    return None


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and loopback IP addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
