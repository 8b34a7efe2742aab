"""The ``[tor]`` configuration table: where Tor's SOCKS and control ports are, how to
authenticate, and whether cohortwatch runs its own tor."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from matchers.errors import ConfigError

__all__ = ["TorSettings", "load_tor_settings"]


@dataclass(frozen=True)
class TorSettings:
    # "host:port" of Tor's SOCKS port; "" means no Tor: only allow_direct loopback sites work.
    socks: str = "127.0.0.1:9050"
    # The path of a control socket, or "host:port" of a control port; "" disables health
    # checks and NEWNYM (crawling still works). Debian's tor service opens this socket,
    # group-writable for debian-tor, with a group-readable cookie.
    control: str = "/run/tor/control"
    # Control authentication: the cookie file Tor names (default) or a password kept in a
    # file (systemd: LoadCredential=), never in this file.
    password_file: str = ""
    managed: bool = False  # launch and supervise our own tor (SOCKS/control chosen for it)
    tor_binary: str = "tor"
    # Extra torrc lines for the managed tor ("Bridge obfs4 ...", "UseBridges 1").
    torrc: tuple[str, ...] = ()
    bootstrap_timeout: float = 300.0
    max_page_bytes: int = 8 << 20

    def socks_address(self) -> tuple[str, int] | None:
        if not self.socks:
            return None
        host, _, port = self.socks.rpartition(":")
        return host.strip("[]"), int(port)


def load_tor_settings(data: Any, source: str) -> TorSettings:
    """Validate the ``[tor]`` table.

    :raises ConfigError: unknown key, wrong type or a malformed address, naming file and key.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: at 'tor': expected a table")
    known = {f.name: f for f in fields(TorSettings)}
    defaults = TorSettings()
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            raise ConfigError(f"{source}: at 'tor.{key}': unknown key "
                              f"(known: {', '.join(sorted(known))})")
        default = getattr(defaults, key)
        if key == "torrc":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{source}: at 'tor.torrc': expected a list of torrc lines")
            values[key] = tuple(value)
            continue
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, int | float):
            ok = not isinstance(value, bool) and isinstance(value, int | float) and value > 0
        else:
            ok = isinstance(value, str)
        if not ok:
            raise ConfigError(f"{source}: at 'tor.{key}': expected "
                              f"{type(default).__name__.replace('str', 'a string')}")
        values[key] = int(value) if isinstance(default, int) and not isinstance(
            default, bool) else value
    settings = TorSettings(**values)
    if settings.socks:
        _address(settings.socks, "tor.socks", source)
    if settings.control and not settings.control.startswith("/"):
        _address(settings.control, "tor.control", source)
    return settings


def _address(text: str, where: str, source: str) -> None:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{source}: at '{where}': expected host:port "
                          f"(e.g. 127.0.0.1:9050), got {text!r}")
