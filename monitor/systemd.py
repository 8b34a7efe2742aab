"""Talking to systemd: the ``sd_notify`` protocol of our own, and the watchdog heartbeat.

Under ``Type=notify`` systemd hands the service the path of a unix datagram socket in
``$NOTIFY_SOCKET`` (a file path, or ``@name`` for an abstract socket) and, with
``WatchdogSec=``, the period in ``$WATCHDOG_USEC`` (and the pid it is meant for in
``$WATCHDOG_PID``). A notification is one datagram of ``KEY=VALUE`` lines: ``READY=1``,
``STATUS=…``, ``WATCHDOG=1``, ``STOPPING=1``, ``RELOADING=1`` with ``MONOTONIC_USEC=…``,
``EXTEND_TIMEOUT_USEC=…``. That is all there is to it, so no python-systemd (a compiled
dependency) is needed.

Three decisions:

* **Never raise.** A notification that cannot be sent must not take the daemon down (the
  worst outcome is that systemd times the start-up out, which it logs). The first failure
  is logged as a warning, later ones at debug level until a send succeeds again.
* **Not under systemd, nothing happens.** Without ``$NOTIFY_SOCKET`` every call is a no-op
  returning False, so the daemon runs the same in a terminal and in tests.
* **Children do not inherit the socket.** The process-wide :class:`Notifier` takes the
  variables out of ``os.environ`` when it is first used (as ``sd_notify(unset_environment=1)``
  does), so a tor that cohortwatch launches does not send its own ``READY=1`` to our unit.
  Use any function of this module once before starting child processes.

The watchdog ping comes from the event loop itself (:func:`run_watchdog`): if the loop
stalls, the pings stop and systemd kills and restarts the service — which is the point.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, MutableMapping

__all__ = [
    "Notifier",
    "extend_timeout",
    "notifier",
    "notify",
    "ready",
    "reloading",
    "run_watchdog",
    "start_watchdog",
    "status",
    "stopping",
    "watchdog",
    "watchdog_interval",
]

log = logging.getLogger(__name__)

_VARIABLES = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")
_STATUS_MAX = 200  # characters of STATUS= kept: `systemctl status` shows one line
_SEND_TIMEOUT = 1.0  # seconds a send may block when systemd's queue is full


def _socket_address(value: str | None) -> str | None:
    """The ``sendto`` address of ``$NOTIFY_SOCKET``: a path, or ``\\0name`` when abstract.

    Anything else (a relative path, systemd ≥ 254's ``vsock:`` addresses) is not usable:
    it is logged once and treated as "not under systemd".
    """
    if not value:
        return None
    if value.startswith("/"):
        return value
    if value.startswith("@") and len(value) > 1:
        return "\0" + value[1:]
    log.warning("NOTIFY_SOCKET is not a path or an abstract socket; not notifying systemd",
                extra={"notify_socket": value[:40]})
    return None


def _watchdog_usec(environ: MutableMapping[str, str]) -> int | None:
    """``$WATCHDOG_USEC`` when it is meant for this process (``$WATCHDOG_PID`` unset, empty
    or our pid), else None."""
    pid = environ.get("WATCHDOG_PID", "").strip()
    if pid and pid != str(os.getpid()):
        return None
    try:
        usec = int(environ.get("WATCHDOG_USEC", "").strip())
    except ValueError:
        return None
    return usec if usec > 0 else None


def _one_line(text: str) -> str:
    """STATUS= must be one line: control characters become spaces, length is capped."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return flat if len(flat) <= _STATUS_MAX else flat[: _STATUS_MAX - 1] + "…"


class Notifier:
    """One process's line to the service manager.

    Build it with :meth:`from_environ`; methods return True when the datagram was sent and
    False when not under systemd or when sending failed (logged, never raised). Each
    notification uses a socket of its own, as libsystemd's does: nothing to close, and
    threads may notify at the same time.
    """

    def __init__(self, address: str | None, watchdog_usec: int | None = None) -> None:
        self.address = address
        self.watchdog_usec = watchdog_usec if address else None
        self._failing = False

    @classmethod
    def from_environ(
        cls, environ: MutableMapping[str, str] | None = None, *, unset: bool = False
    ) -> Notifier:
        """The notifier systemd's variables describe; with ``unset`` they are removed from
        ``environ`` so child processes do not inherit them."""
        env = os.environ if environ is None else environ
        notifier = cls(_socket_address(env.get("NOTIFY_SOCKET")), _watchdog_usec(env))
        if unset:
            for name in _VARIABLES:
                env.pop(name, None)
        return notifier

    @property
    def enabled(self) -> bool:
        """Whether a service manager is listening (``$NOTIFY_SOCKET`` was usable)."""
        return self.address is not None

    def notify(self, *assignments: str) -> bool:
        """Send ``KEY=VALUE`` assignments as one datagram, e.g. ``notify("READY=1")``.

        A newline inside an assignment would smuggle in another one: such an assignment is
        refused (logged), the rest is sent.
        """
        if self.address is None:
            return False
        lines = [a for a in assignments if "=" in a and "\n" not in a]
        if len(lines) != len(assignments):
            log.warning("malformed sd_notify assignment dropped",
                        extra={"dropped": len(assignments) - len(lines)})
        if not lines:
            return False
        payload = ("\n".join(lines) + "\n").encode("utf-8")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:  # close-on-exec
                sock.settimeout(_SEND_TIMEOUT)
                sock.sendto(payload, self.address)
        except OSError as exc:
            self._failed(exc)
            return False
        if self._failing:
            self._failing = False
            log.info("notifications reach the service manager again")
        return True

    def _failed(self, exc: OSError) -> None:
        level = logging.DEBUG if self._failing else logging.WARNING
        self._failing = True
        log.log(level, "cannot notify the service manager",
                extra={"error": exc.strerror or type(exc).__name__})

    # -- the messages ---------------------------------------------------------------------

    def ready(self, status: str | None = None) -> bool:
        """``READY=1``: start-up finished (or a reload did), optionally with a status line."""
        return self.notify("READY=1", *self._status(status))

    def status(self, text: str) -> bool:
        """``STATUS=``: the one-line summary ``systemctl status`` shows."""
        return self.notify(*self._status(text))

    def watchdog(self) -> bool:
        """``WATCHDOG=1``: the keep-alive ping (see :meth:`run_watchdog`)."""
        return self.notify("WATCHDOG=1")

    def stopping(self, status: str | None = None) -> bool:
        """``STOPPING=1``: shutdown has begun (send it on SIGTERM, before cleaning up)."""
        return self.notify("STOPPING=1", *self._status(status))

    def reloading(self, status: str | None = None) -> bool:
        """``RELOADING=1`` with ``MONOTONIC_USEC`` (systemd ≥ 253 wants it for
        ``Type=notify-reload``; older versions ignore it). The unit stays "reloading" until
        the next :meth:`ready` — send that whether or not the new configuration was taken.
        """
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.notify("RELOADING=1", f"MONOTONIC_USEC={usec}", *self._status(status))

    def extend_timeout(self, seconds: float) -> bool:
        """``EXTEND_TIMEOUT_USEC``: ask for ``seconds`` more before the start-up (or stop)
        timeout fires, e.g. while a large cohort index loads."""
        return self.notify(f"EXTEND_TIMEOUT_USEC={max(0, int(seconds * 1_000_000))}")

    @staticmethod
    def _status(text: str | None) -> tuple[str, ...]:
        return () if text is None else (f"STATUS={_one_line(text)}",)

    # -- the watchdog ---------------------------------------------------------------------

    def watchdog_interval(self) -> float | None:
        """Seconds between pings — half of ``WatchdogSec=`` — or None when systemd expects
        none (no watchdog, not under systemd, or the watchdog is meant for another pid)."""
        return None if self.watchdog_usec is None else self.watchdog_usec / 2_000_000

    async def run_watchdog(
        self,
        interval: float | None = None,
        *,
        healthy: Callable[[], bool] | None = None,
        status: Callable[[], str] | None = None,
    ) -> None:
        """Ping ``WATCHDOG=1`` every ``interval`` seconds (default: half the period) until
        cancelled; return at once when systemd expects no pings.

        The pings come from the event loop, so a loop blocked for longer than half the
        period misses one and a loop blocked for the whole period gets the service killed
        and restarted. ``healthy`` lets the daemon withhold pings although the loop runs
        (e.g. its scheduler has died); ``status`` adds a fresh ``STATUS=`` line to each ping.
        A ping more than half an interval late is logged: the loop stalled for three quarters
        of ``WatchdogSec=`` — nearly long enough to get the service killed.

        :raises Exception: whatever ``healthy`` or ``status`` raise (ending the heartbeat on
            purpose: inside a TaskGroup the daemon then stops and systemd restarts it).
        """
        period = interval if interval is not None else self.watchdog_interval()
        if period is None or not self.enabled:
            return
        loop = asyncio.get_running_loop()
        unhealthy_logged = False
        due = loop.time()
        while True:
            late = loop.time() - due
            if late > period / 2:
                log.warning("event loop stalled: a watchdog ping came late",
                            extra={"late_seconds": round(late, 1), "interval": period})
            if healthy is None or healthy():
                extra = self._status(status()) if status is not None else ()
                self.notify("WATCHDOG=1", *extra)
                unhealthy_logged = False
            elif not unhealthy_logged:
                log.error("daemon unhealthy: watchdog pings withheld")
                unhealthy_logged = True
            due = loop.time() + period
            await asyncio.sleep(period)

    def start_watchdog(
        self,
        interval: float | None = None,
        *,
        healthy: Callable[[], bool] | None = None,
        status: Callable[[], str] | None = None,
    ) -> asyncio.Task[None] | None:
        """:meth:`run_watchdog` as a task of the running loop, or None when no watchdog is
        expected. Keep a reference to the task and cancel it on shutdown.

        :raises RuntimeError: no running event loop.
        """
        if (interval is None and self.watchdog_interval() is None) or not self.enabled:
            return None
        return asyncio.get_running_loop().create_task(
            self.run_watchdog(interval, healthy=healthy, status=status), name="sd-watchdog")


# -- the process-wide notifier ------------------------------------------------------------

_default: Notifier | None = None
_default_lock = threading.Lock()


def notifier() -> Notifier:
    """This process's :class:`Notifier`, made from ``os.environ`` on first use (which then
    loses the three variables, so children do not inherit them). If ``$NOTIFY_SOCKET``
    appears again later (set by a test, say), it is taken up anew."""
    global _default
    with _default_lock:
        if _default is None or "NOTIFY_SOCKET" in os.environ:
            _default = Notifier.from_environ(unset=True)
        return _default


def notify(*assignments: str) -> bool:
    """Send ``KEY=VALUE`` assignments in one datagram; False when not sent (never raises)."""
    return notifier().notify(*assignments)


def ready(status: str | None = None) -> bool:
    """``READY=1`` (+ ``STATUS=``): configuration, key, database and cohorts are loaded."""
    return notifier().ready(status)


def status(text: str) -> bool:
    """``STATUS=`` one-line summary for ``systemctl status``."""
    return notifier().status(text)


def watchdog() -> bool:
    """One ``WATCHDOG=1`` ping."""
    return notifier().watchdog()


def stopping(status: str | None = None) -> bool:
    """``STOPPING=1``: graceful shutdown has begun."""
    return notifier().stopping(status)


def reloading(status: str | None = None) -> bool:
    """``RELOADING=1`` + ``MONOTONIC_USEC``; follow it with :func:`ready` in every case."""
    return notifier().reloading(status)


def extend_timeout(seconds: float) -> bool:
    """``EXTEND_TIMEOUT_USEC``: more time for a slow start-up or shutdown."""
    return notifier().extend_timeout(seconds)


def watchdog_interval() -> float | None:
    """Seconds between watchdog pings (half of ``WatchdogSec=``), or None."""
    return notifier().watchdog_interval()


async def run_watchdog(
    interval: float | None = None,
    *,
    healthy: Callable[[], bool] | None = None,
    status: Callable[[], str] | None = None,
) -> None:
    """:meth:`Notifier.run_watchdog` of the process-wide notifier.

    :raises Exception: whatever ``healthy`` or ``status`` raise.
    """
    await notifier().run_watchdog(interval, healthy=healthy, status=status)


def start_watchdog(
    interval: float | None = None,
    *,
    healthy: Callable[[], bool] | None = None,
    status: Callable[[], str] | None = None,
) -> asyncio.Task[None] | None:
    """:meth:`Notifier.start_watchdog` of the process-wide notifier.

    :raises RuntimeError: no running event loop.
    """
    return notifier().start_watchdog(interval, healthy=healthy, status=status)
