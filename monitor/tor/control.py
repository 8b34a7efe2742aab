"""An asyncio handle on Tor's control port: bootstrap, health, NEWNYM, events.

stem 1.8 is synchronous. Every stem call runs in a worker thread (``asyncio.to_thread``)
under a timeout, so a stuck tor never blocks the event loop; stem delivers events on its
own thread, and :meth:`TorControl.add_event_listener` hands each one back to the loop with
``loop.call_soon_threadsafe``. Errors are :class:`TorUnavailableError` (tor does not answer
or the connection was lost) and :class:`TorControlError` (tor refused authentication or a
command), with messages that say what to change.

Log lines carry percentages, tags and counts — never a URL, a password or a cookie.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TypeVar

import stem
import stem.control
import stem.response.events

from monitor.errors import TorControlError, TorUnavailableError
from monitor.tor.auth import open_controller
from monitor.tor.settings import TorSettings
from monitor.tor.status import BootstrapStatus, NewnymResult, TorHealth

__all__ = ["BootstrapStatus", "NewnymResult", "TorControl", "TorHealth"]

log = logging.getLogger(__name__)
# stem sets its logger to TRACE at import, logs each command at DEBUG and, after tor closes
# a connection, one INFO line per reader wake-up (dozens): only its warnings reach our log.
logging.getLogger("stem").setLevel(logging.WARNING)

T = TypeVar("T")
Event = stem.response.events.Event
EventListener = Callable[[Event], object]
ProgressCallback = Callable[[BootstrapStatus], object]


class TorControl:
    """One authenticated control connection to a tor; open it with :meth:`connect`.

    Use it as ``async with await TorControl.connect(port=9051) as tor: ...`` or call
    :meth:`close`. Safe to share between tasks: stem serialises commands on the connection.
    """

    def __init__(
        self, controller: stem.control.Controller, where: str, command_timeout: float
    ) -> None:
        self._ctl = controller
        self.where = where
        self._timeout = command_timeout
        self._relays: dict[EventListener, Callable[[Event], None]] = {}

    # -- opening -------------------------------------------------------------------------

    @classmethod
    async def connect(
        cls,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        socket_path: str | Path | None = None,
        password: str | None = None,
        cookie_path: str | Path | None = None,
        timeout: float = 10.0,
        command_timeout: float = 30.0,
    ) -> TorControl:
        """Connect to a control port (``host``, ``port``) or a control ``socket_path`` and
        authenticate: with ``password`` when given, else with the cookie (``cookie_path``,
        or the file tor names), else without authentication if tor allows it.

        :raises TorUnavailableError: nothing answers within ``timeout`` seconds.
        :raises TorControlError: authentication failed; the message says why.
        :raises ValueError: neither or both of ``port`` and ``socket_path`` given.
        """
        if (port is None) == (socket_path is None):
            raise ValueError("give exactly one of port and socket_path")
        sock = Path(socket_path) if socket_path is not None else None
        where = f"control socket {sock}" if sock else f"control port {host}:{port}"
        opened: list[stem.control.Controller] = []
        opening = asyncio.to_thread(
            open_controller, host=host, port=port, socket_path=sock, password=password,
            cookie_path=Path(cookie_path) if cookie_path is not None else None,
            opened=opened.append,
        )
        try:
            controller = await asyncio.wait_for(opening, timeout)
        except TimeoutError:
            for ctl in opened:  # unblocks the worker thread, which would otherwise wait forever
                await asyncio.to_thread(ctl.close)
            raise TorUnavailableError(
                f"Tor's {where} did not answer within {timeout:g} s") from None
        log.debug("connected to tor", extra={"control": where})
        return cls(controller, where, command_timeout)

    @classmethod
    async def from_settings(cls, settings: TorSettings, *, timeout: float = 10.0) -> TorControl:
        """Connect as the ``[tor]`` table says (``control``: host:port or a socket path;
        ``password_file``: the control password, e.g. a systemd credential).

        :raises TorControlError: no control configured, or the password file is unreadable.
        :raises TorUnavailableError: see :meth:`connect`.
        """
        if not settings.control:
            raise TorControlError("no Tor control port configured (tor.control is empty)")
        password = None
        if settings.password_file:
            try:
                password = Path(settings.password_file).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise TorControlError(
                    f"cannot read the Tor control password file {settings.password_file} "
                    f"(tor.password_file): {exc.strerror or exc}") from None
        if settings.control.startswith("/"):
            return await cls.connect(socket_path=settings.control, password=password,
                                     timeout=timeout)
        host, _, port = settings.control.rpartition(":")
        return await cls.connect(host=host.strip("[]"), port=int(port), password=password,
                                 timeout=timeout)

    # -- plumbing ------------------------------------------------------------------------

    async def run(self, func: Callable[[stem.control.Controller], T], what: str = "a command") -> T:
        """Run ``func(controller)`` in a worker thread, for stem calls this class does not wrap.

        :raises TorUnavailableError: the connection is lost, or tor did not answer within
            ``command_timeout`` (the connection is then closed: open a new one).
        :raises TorControlError: tor refused the command.
        """
        try:
            return await asyncio.wait_for(asyncio.to_thread(func, self._ctl), self._timeout)
        except TimeoutError:
            # A tor that does not answer is treated as gone: closing the connection also
            # releases the worker thread still waiting for the reply.
            await self.close()
            raise TorUnavailableError(
                f"Tor's {self.where} did not answer {what} within {self._timeout:g} s; "
                "the connection was closed") from None
        except stem.SocketError as exc:
            raise TorUnavailableError(f"lost the connection to Tor's {self.where}: {exc}") from None
        except stem.ControllerError as exc:
            raise TorControlError(f"Tor's {self.where} refused {what}: {exc}") from None

    async def get_info(self, key: str) -> str:
        """``GETINFO key``.

        :raises TorControlError: tor does not know the key. :raises TorUnavailableError:
        """
        return await self.run(lambda c: c.get_info(key), f"GETINFO {key}")

    @property
    def is_alive(self) -> bool:
        return self._ctl.is_alive()

    # -- events --------------------------------------------------------------------------

    async def add_event_listener(self, listener: EventListener, *events: str) -> None:
        """Call ``listener(event)`` on the running loop for each of tor's ``events``
        (stem event type names such as ``"STREAM"``, ``"CIRC"``, ``"SIGNAL"``).

        :raises TorControlError: tor does not know an event type. :raises TorUnavailableError:
        """
        loop = asyncio.get_running_loop()

        def relay(event: Event) -> None:  # on stem's event thread
            with contextlib.suppress(RuntimeError):  # loop closed: nobody left to tell
                loop.call_soon_threadsafe(listener, event)

        self._relays[listener] = relay
        await self.run(lambda c: c.add_event_listener(relay, *events), "SETEVENTS")

    async def remove_event_listener(self, listener: EventListener) -> None:
        """Stop delivering events to ``listener`` (no error if it was not added)."""
        relay = self._relays.pop(listener, None)
        if relay is not None and self.is_alive:
            await self.run(lambda c: c.remove_event_listener(relay), "SETEVENTS")

    # -- status --------------------------------------------------------------------------

    async def bootstrap_status(self) -> BootstrapStatus:
        """Tor's bootstrap phase now.

        :raises TorUnavailableError: :raises TorControlError:
        """
        text = await self.get_info("status/bootstrap-phase")
        try:
            return BootstrapStatus.parse(text)
        except ValueError as exc:
            raise TorControlError(f"Tor's {self.where} sent {exc}") from None

    async def wait_for_bootstrap(
        self,
        timeout: float = 300.0,
        on_progress: ProgressCallback | None = None,
        poll: float = 1.0,
    ) -> BootstrapStatus:
        """Wait until tor has bootstrapped (100 %), reporting each change of phase to
        ``on_progress`` and to the log.

        Progress comes from tor's ``STATUS_CLIENT BOOTSTRAP`` events, and from polling every
        ``poll`` seconds in case an event was missed.

        :raises TorUnavailableError: not bootstrapped within ``timeout`` seconds (the message
            has the last phase and tor's last reported problem), or the connection was lost.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        updates: asyncio.Queue[BootstrapStatus] = asyncio.Queue()

        def on_event(event: Event) -> None:
            if getattr(event, "action", None) == "BOOTSTRAP":
                with contextlib.suppress(ValueError):
                    updates.put_nowait(BootstrapStatus.from_fields(event.keyword_args))

        await self.add_event_listener(on_event, stem.control.EventType.STATUS_CLIENT)
        try:
            status, last = await self.bootstrap_status(), None
            while True:
                if last is None or (status.percent, status.warning) != (last.percent, last.warning):
                    self._report(status, on_progress)
                    last = status
                if status.done:
                    return status
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise TorUnavailableError(
                        f"Tor did not finish bootstrapping within {timeout:g} s: stuck at "
                        f"{last.describe()}. Check that this machine can reach the Tor "
                        "network (or its bridges) and that its clock is right.")
                try:
                    status = await asyncio.wait_for(updates.get(), min(poll, remaining))
                except TimeoutError:
                    status = await self.bootstrap_status()
        finally:
            with contextlib.suppress(TorUnavailableError, TorControlError):
                await self.remove_event_listener(on_event)

    def _report(self, status: BootstrapStatus, on_progress: ProgressCallback | None) -> None:
        fields = {"percent": status.percent, "tag": status.tag}
        if status.warning:
            log.warning("tor bootstrap problem", extra={**fields, "problem": status.warning})
        else:
            log.info("tor bootstrap", extra={**fields, "summary": status.summary})
        if on_progress is not None:
            on_progress(status)

    async def health(self) -> TorHealth:
        """Bootstrap phase, ``status/circuit-established``, ``network-liveness``, ``dormant``.

        :raises TorUnavailableError: the connection is lost or tor does not answer.
        """

        def read(c: stem.control.Controller) -> dict[str, str | None]:
            keys = ("status/bootstrap-phase", "status/circuit-established",
                    "network-liveness", "dormant")
            return {key: c.get_info(key, None) for key in keys}

        values = await self.run(read, "the health check")
        if not self.is_alive:
            raise TorUnavailableError(f"lost the connection to Tor's {self.where}")
        try:
            bootstrap = BootstrapStatus.parse(values["status/bootstrap-phase"] or "")
        except ValueError:
            bootstrap = BootstrapStatus(0)
        health = TorHealth(
            bootstrap=bootstrap,
            circuit_established=values["status/circuit-established"] == "1",
            network_live=values["network-liveness"] == "up",
            dormant=values["dormant"] == "1",
        )
        log.debug("tor health", extra={"healthy": health.healthy, "percent": bootstrap.percent})
        return health

    # -- commands ------------------------------------------------------------------------

    async def newnym(self, *, wait: bool = False) -> NewnymResult:
        """Ask tor for new circuits for new requests (``SIGNAL NEWNYM``).

        Tor accepts one NEWNYM per 10 s. Sooner, nothing is sent and the result says when to
        retry — or, with ``wait=True``, this waits that long and then sends.

        :raises TorUnavailableError: the connection is lost. :raises TorControlError:
        """
        if not self.is_alive:
            raise TorUnavailableError(f"lost the connection to Tor's {self.where}")
        delay = self._ctl.get_newnym_wait()
        if delay > 0 and not wait:
            log.info("NEWNYM deferred by Tor's rate limit", extra={"retry_after": round(delay, 1)})
            return NewnymResult(sent=False, retry_after=delay)
        if delay > 0:
            await asyncio.sleep(delay)
        await self.run(lambda c: c.signal(stem.Signal.NEWNYM), "NEWNYM")
        log.info("NEWNYM sent")
        return NewnymResult(sent=True, retry_after=self._ctl.get_newnym_wait())

    async def socks_listeners(self) -> list[tuple[str, int]]:
        """The addresses tor's SOCKS ports listen on (``GETINFO net/listeners/socks``).

        :raises TorUnavailableError: :raises TorControlError:
        """
        text = await self.get_info("net/listeners/socks")
        out = []
        for item in text.split():
            host, _, port = item.strip('"').rpartition(":")
            if port.isdigit():
                out.append((host.strip("[]"), int(port)))
        return out

    # -- closing -------------------------------------------------------------------------

    async def close(self) -> None:
        """Close the connection (idempotent). Listeners stop receiving events."""
        self._relays.clear()
        await asyncio.to_thread(self._ctl.close)

    async def __aenter__(self) -> TorControl:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
