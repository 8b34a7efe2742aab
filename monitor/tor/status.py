"""What Tor's control port reports, as small values: bootstrap progress, health, NEWNYM.

Pure data and parsing (no I/O), shared by :mod:`monitor.tor.control` and
:mod:`monitor.tor.managed` and testable without a tor.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["BootstrapStatus", "NewnymResult", "TorHealth"]

# KEY=value or KEY="quoted value" (backslash escapes inside quotes), as in tor's status lines
_FIELD = re.compile(r'([A-Z_]+)=(?:"((?:[^"\\]|\\.)*)"|(\S*))')


@dataclass(frozen=True)
class BootstrapStatus:
    """How far tor has bootstrapped: percent, tor's tag and summary, and its last problem.

    ``warning`` and ``recommendation`` are set when tor reports a bootstrap problem
    (``WARN BOOTSTRAP ... WARNING="Connection refused" RECOMMENDATION=warn``).
    """

    percent: int
    tag: str = ""
    summary: str = ""
    warning: str = ""
    recommendation: str = ""

    @property
    def done(self) -> bool:
        return self.percent >= 100

    @classmethod
    def parse(cls, text: str) -> BootstrapStatus:
        """From ``GETINFO status/bootstrap-phase``, e.g.
        ``NOTICE BOOTSTRAP PROGRESS=100 TAG=done SUMMARY="Done"``.

        :raises ValueError: the text has no ``PROGRESS`` field.
        """
        fields = {
            m.group(1): m.group(2).replace('\\"', '"') if m.group(2) is not None else m.group(3)
            for m in _FIELD.finditer(text)
        }
        return cls.from_fields(fields)

    @classmethod
    def from_fields(cls, fields: Mapping[str, str]) -> BootstrapStatus:
        """From a ``STATUS_CLIENT BOOTSTRAP`` event's arguments.

        :raises ValueError: no ``PROGRESS`` field, or not a number.
        """
        try:
            percent = int(fields["PROGRESS"])
        except (KeyError, ValueError):
            raise ValueError(f"not a bootstrap status: {dict(fields)!r}") from None
        return cls(
            percent=max(0, min(100, percent)),
            tag=fields.get("TAG", ""),
            summary=fields.get("SUMMARY", ""),
            warning=fields.get("WARNING", ""),
            recommendation=fields.get("RECOMMENDATION", ""),
        )

    def describe(self) -> str:
        """``45% (Asking for relay descriptors); problem: Connection refused``."""
        text = f"{self.percent}% ({self.summary or self.tag or 'starting'})"
        return f"{text}; problem: {self.warning}" if self.warning else text


@dataclass(frozen=True)
class TorHealth:
    """One health check: can this tor carry our requests right now?

    ``healthy`` needs bootstrap at 100 %, an established circuit and tor's view of the
    network as up. ``dormant`` is reported but does not count against health: a dormant
    client wakes up on the next SOCKS request.
    """

    bootstrap: BootstrapStatus
    circuit_established: bool
    network_live: bool
    dormant: bool

    @property
    def healthy(self) -> bool:
        return self.bootstrap.done and self.circuit_established and self.network_live

    def problems(self) -> list[str]:
        """What is wrong, in words an operator can act on (empty when healthy)."""
        out = []
        if not self.bootstrap.done:
            out.append(f"bootstrap at {self.bootstrap.describe()}")
        if not self.circuit_established:
            out.append("no circuit established")
        if not self.network_live:
            out.append("tor believes the network is down (check connectivity and the clock)")
        return out


@dataclass(frozen=True)
class NewnymResult:
    """What :meth:`TorControl.newnym` did.

    ``sent``: NEWNYM went to tor now. Otherwise tor's rate limit (one NEWNYM per 10 s)
    deferred it and ``retry_after`` says in how many seconds it would be accepted; after a
    send it is the time until the next one.
    """

    sent: bool
    retry_after: float
