"""The ``[metrics]`` configuration table: where the daemon serves ``/metrics`` and
``/healthz``.

Kept apart from :mod:`monitor.metrics` and :mod:`monitor.ops_http` so that loading the
configuration does not import prometheus-client. The listener is loopback only, by
decision: the endpoints carry no personal values, but they tell whoever can reach them
which leak sites are watched and when a cohort member was last found — information for the
operator's own Prometheus, which scrapes on the same host (or through a tunnel or an
authenticating reverse proxy the operator sets up on purpose).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from matchers.errors import ConfigError

__all__ = ["MetricsSettings", "load_metrics_settings", "parse_listen"]

DEFAULT_LISTEN = "127.0.0.1:9464"  # 9464: the port commonly used by Prometheus exporters


@dataclass(frozen=True)
class MetricsSettings:
    # "host:port" on loopback (127.0.0.0/8, ::1, localhost) or "" to serve nothing.
    listen: str = DEFAULT_LISTEN

    def address(self) -> tuple[str, int] | None:
        """``(host, port)`` to bind, or ``None`` when disabled."""
        return parse_listen(self.listen) if self.listen else None


def parse_listen(text: str, where: str = "metrics.listen", source: str = "") -> tuple[str, int]:
    """``"127.0.0.1:9464"``, ``"[::1]:9464"`` or ``"localhost:9464"`` → ``(host, port)``;
    port 0 lets the system choose (tests).

    :raises ConfigError: not host:port, a bad port, or a host that is not loopback.
    """
    prefix = f"{source}: at '{where}': " if source else f"{where}: "
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ConfigError(f"{prefix}expected host:port (e.g. {DEFAULT_LISTEN}), got {text!r}")
    if host != "localhost":
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ConfigError(
                f"{prefix}{host!r} is not a loopback address: /metrics and /healthz are "
                "served on 127.0.0.1 or ::1 only (they name the watched sites); scrape "
                "from this host, or put an authenticating reverse proxy in front")
    return host, int(port)


def load_metrics_settings(data: Any, source: str) -> MetricsSettings:
    """Validate the ``[metrics]`` table.

    :raises ConfigError: not a table, an unknown key, or a bad ``listen`` value.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: at 'metrics': expected a table")
    for key, value in data.items():
        if key != "listen":
            raise ConfigError(f"{source}: at 'metrics.{key}': unknown key (known: listen)")
        if not isinstance(value, str):
            raise ConfigError(f"{source}: at 'metrics.listen': expected a string "
                              f"(host:port, or \"\" to disable)")
        if value:
            parse_listen(value, "metrics.listen", source)
    return MetricsSettings(**data)
