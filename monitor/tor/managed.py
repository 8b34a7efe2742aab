"""A tor process that cohortwatch launches, supervises and stops (``[tor] managed = true``).

The tor gets its own DataDirectory (0700; kept between runs, so a restart bootstraps from
its cached consensus in seconds), a torrc written there, SOCKS and control listeners on
127.0.0.1 (ports chosen by tor at first start and kept across restarts) or a control
socket in the DataDirectory, and cookie authentication. Extra torrc lines can be passed:
bridges, or — in the tests — the ``DirAuthority`` lines of a private network. If tor exits
unexpectedly it is started again after a delay that doubles up to ``max_restart_delay``
(reset once a tor has stayed up for a minute); :meth:`ManagedTor.close` stops it.

Ownership — a decision: tor's ``__OwningControllerProcess`` is our own pid, and the control
connection this class opens right after launch (:attr:`ManagedTor.control`) is the one that
owns tor. stem sends TAKEOWNERSHIP whenever the owner pid is its own process, so that first
connection takes ownership and stem then resets ``__OwningControllerProcess``. Consequences,
all wanted: tor lives exactly as long as that connection — :meth:`ManagedTor.close` closes
it and tor exits at once; if cohortwatch dies, even by SIGKILL, the kernel closes the socket
and tor exits immediately instead of after tor's 15 s pid poll; and every later control
connection (a health probe, an operator's tool) may come and go without stopping tor.
The gotcha (DESIGN.md: tor exiting when a short-lived stem connection closes) cannot bite
because the owning connection is opened here, first, and closed only by :meth:`close`. Do
not close :attr:`ManagedTor.control` yourself: that stops tor (which is then restarted).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
import signal
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from matchers.errors import ConfigError
from monitor.errors import TorControlError, TorError, TorUnavailableError
from monitor.tor.control import NewnymResult, ProgressCallback, TorControl, TorHealth

__all__ = ["ManagedTor", "find_tor"]

log = logging.getLogger(__name__)

# Options this class sets itself; an extra line setting one of them would fight it.
_MANAGED = {"datadirectory", "socksport", "controlport", "controlsocket", "controlportwritetofile",
            "cookieauthentication", "cookieauthfile", "__owningcontrollerprocess", "runasdaemon"}
_STABLE = 60.0  # seconds a tor must stay up for the restart delay to start over
_SUN_PATH_MAX = 107
_CONNECT_TIMEOUT = 30.0


def find_tor(binary: str = "tor") -> str:
    """The path of the tor binary (also looked for in /usr/sbin, where Debian puts it).

    :raises TorUnavailableError: not installed.
    """
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/bin"])
    found = shutil.which(binary, path=path)
    if found is None:
        raise TorUnavailableError(
            f"tor is not installed (no {binary!r} on PATH or in /usr/sbin): install it "
            "(apt-get install tor) or set tor.tor_binary")
    return found


def _check_extra(lines: Sequence[str]) -> list[str]:
    out = []
    for line in lines:
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if any(ch in text for ch in "\r\n\0"):
            raise ConfigError(f"tor option {text[:40]!r}: one option per line")
        key = text.split(None, 1)[0].lower()
        if key in _MANAGED:
            raise ConfigError(f"tor option {text.split(None, 1)[0]!r} is set by cohortwatch's "
                              "managed mode: remove it from the extra options")
        out.append(text)
    return out


class ManagedTor:
    """Launch and supervise a tor; use ``async with ManagedTor(dir, ...) as tor:`` or
    :meth:`start` and :meth:`close`.

    :raises ConfigError: (constructor) an extra option is malformed or one we manage.
    """

    def __init__(
        self,
        data_dir: str | Path,
        *,
        tor_binary: str = "tor",
        control_socket: bool = False,
        extra_options: Sequence[str] = (),
        bootstrap_timeout: float = 300.0,
        restart_delay: float = 1.0,
        max_restart_delay: float = 60.0,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        self._binary = tor_binary
        self._use_socket = control_socket
        self._extra = _check_extra(extra_options)
        self._bootstrap_timeout = bootstrap_timeout
        self._restart_delay = restart_delay
        self._max_restart_delay = max_restart_delay
        self._on_progress = on_progress
        self._proc: asyncio.subprocess.Process | None = None
        self._control: TorControl | None = None
        self._socks_port: int | None = None
        self._control_port: int | None = None
        self._ready = asyncio.Event()
        self._closing = False
        self._supervisor: asyncio.Task[None] | None = None
        self._log_tasks: set[asyncio.Task[None]] = set()
        self._recent: deque[str] = deque(maxlen=12)
        self.restarts = 0
        if control_socket and len(str(self.control_socket)) > _SUN_PATH_MAX:
            raise ConfigError(f"the control socket path {self.control_socket} is longer than "
                              f"{_SUN_PATH_MAX} bytes: use a shorter state directory")

    # -- what callers use ----------------------------------------------------------------

    @property
    def control(self) -> TorControl:
        """The owning control connection of the running tor (do not close it).

        :raises TorUnavailableError: tor is not running (starting, restarting or closed).
        """
        if self._control is None or not self._ready.is_set():
            raise TorUnavailableError("the managed tor is not running (starting, restarting "
                                      "or stopped)")
        return self._control

    @property
    def socks_port(self) -> int:
        """The SOCKS port on 127.0.0.1 (the same across restarts).

        :raises TorUnavailableError: tor has not started yet.
        """
        if self._socks_port is None:
            raise TorUnavailableError("the managed tor has not started yet")
        return self._socks_port

    @property
    def control_port(self) -> int | None:
        """The control port on 127.0.0.1 (None with a control socket or before start)."""
        return self._control_port

    @property
    def control_socket(self) -> Path | None:
        return self.data_dir / "control.sock" if self._use_socket else None

    @property
    def cookie_path(self) -> Path:
        return self.data_dir / "control_auth_cookie"

    @property
    def pid(self) -> int | None:
        """The running tor's pid (None when no tor is running)."""
        proc = self._proc
        return proc.pid if proc is not None and proc.returncode is None else None

    @property
    def log_tail(self) -> list[str]:
        """The last lines tor logged (``[level] text``), for diagnostics."""
        return list(self._recent)

    async def wait_ready(self, timeout: float = 300.0) -> None:
        """Wait until a tor is running and bootstrapped (e.g. after a restart).

        :raises TorUnavailableError: not within ``timeout`` seconds, or closed.
        """
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except TimeoutError:
            raise TorUnavailableError(
                f"the managed tor was not ready within {timeout:g} s{self._log_hint()}") from None
        if self._closing:
            raise TorUnavailableError("the managed tor was stopped")

    async def newnym(self, *, wait: bool = False) -> NewnymResult:
        """:meth:`TorControl.newnym` on whichever tor is running now — hand this object,
        not :attr:`control` (replaced at each restart), to code that keeps it.

        :raises TorUnavailableError: tor is restarting or stopped.
        """
        return await self.control.newnym(wait=wait)

    async def health(self) -> TorHealth:
        """:meth:`TorControl.health` of the running tor.

        :raises TorUnavailableError: tor is restarting or stopped.
        """
        return await self.control.health()

    # -- start / stop --------------------------------------------------------------------

    async def start(self) -> None:
        """Launch tor, connect to it and wait for it to bootstrap; then keep it running.

        :raises TorUnavailableError: tor is not installed, exited while starting (the
            message carries its last log lines) or did not bootstrap within
            ``bootstrap_timeout``.
        :raises RuntimeError: already started.
        """
        if self._supervisor is not None or self._proc is not None:
            raise RuntimeError("ManagedTor.start() called twice")
        self._binary = find_tor(self._binary)
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.data_dir.chmod(0o700)  # tor refuses a DataDirectory others can read
        try:
            await self._launch()
        except BaseException:
            self._proc = None  # start() may be tried again
            raise
        self._supervisor = asyncio.create_task(self._supervise(), name="managed-tor")

    async def close(self) -> None:
        """Stop tor (closing the owning connection; SIGTERM, then SIGKILL if it lingers)."""
        self._closing = True
        self._ready.set()  # wake waiters; wait_ready() reports "stopped"
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        await self._drop_control()
        if self._proc is not None:
            await self._stop(self._proc)
        for task in list(self._log_tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        log.info("managed tor stopped")

    async def __aenter__(self) -> ManagedTor:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- internals -----------------------------------------------------------------------

    def _torrc(self) -> Path:
        socks = self._socks_port or "auto"
        lines = [
            f"DataDirectory {self.data_dir}",
            f"SocksPort 127.0.0.1:{socks}",
            "CookieAuthentication 1",
            f"CookieAuthFile {self.cookie_path}",
            f"__OwningControllerProcess {os.getpid()}",  # see the module docstring
            "Log notice stdout",
            "RunAsDaemon 0",
        ]
        if self.control_socket is not None:
            lines += ["ControlPort 0", f"ControlSocket {self.control_socket}"]
        else:
            lines += [f"ControlPort 127.0.0.1:{self._control_port or 'auto'}",
                      f"ControlPortWriteToFile {self.data_dir / 'control-port'}"]
        torrc = self.data_dir / "torrc"
        torrc.write_text("".join(f"{line}\n" for line in [*lines, *self._extra]))
        torrc.chmod(0o600)
        (self.data_dir / "torrc-defaults").touch(mode=0o600)
        return torrc

    async def _launch(self) -> None:
        for stale in (self.cookie_path, self.data_dir / "control-port", self.control_socket):
            if stale is not None:
                stale.unlink(missing_ok=True)
        torrc = self._torrc()
        self._recent.clear()
        try:
            proc = await asyncio.create_subprocess_exec(
                self._binary, "-f", str(torrc),
                "--defaults-torrc", str(self.data_dir / "torrc-defaults"),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C in the terminal reaches us, not tor
            )
        except OSError as exc:
            raise TorUnavailableError(f"cannot run {self._binary}: {exc.strerror or exc}") from None
        self._proc = proc
        task = asyncio.create_task(self._relay_log(proc), name="managed-tor-log")
        self._log_tasks.add(task)
        task.add_done_callback(self._log_tasks.discard)
        log.info("managed tor started", extra={"pid": proc.pid})
        try:
            self._control = await self._connect(proc)
            await self._control.wait_for_bootstrap(self._bootstrap_timeout, self._on_progress)
            if self._socks_port is None:
                listeners = await self._control.socks_listeners()
                if not listeners:
                    raise TorControlError("the managed tor opened no SOCKS port")
                self._socks_port = listeners[0][1]
        except TorError as exc:
            await self._drop_control()
            await self._stop(proc)
            if proc.returncode is not None and not isinstance(exc, TorControlError):
                raise TorUnavailableError(
                    f"tor exited with status {proc.returncode} while starting"
                    f"{self._log_hint()}") from None
            raise
        except BaseException:
            await self._drop_control()
            await self._stop(proc)
            raise
        self._ready.set()
        log.info("managed tor ready", extra={"pid": proc.pid, "socks_port": self._socks_port})

    async def _connect(self, proc: asyncio.subprocess.Process) -> TorControl:
        """Connect once tor has written its cookie and opened its control listener."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _CONNECT_TIMEOUT
        while True:
            if proc.returncode is not None:
                raise TorUnavailableError(f"tor exited with status {proc.returncode}")
            if self.cookie_path.exists():
                try:
                    if self.control_socket is not None:
                        if self.control_socket.exists():
                            return await TorControl.connect(
                                socket_path=self.control_socket, cookie_path=self.cookie_path)
                    elif (port := self._read_control_port()) is not None:
                        return await TorControl.connect(port=port, cookie_path=self.cookie_path)
                except TorUnavailableError:
                    pass  # listener not open yet
            if loop.time() > deadline:
                raise TorUnavailableError(
                    f"the managed tor opened no control listener within {_CONNECT_TIMEOUT:g} s"
                    f"{self._log_hint()}")
            await asyncio.sleep(0.05)

    def _read_control_port(self) -> int | None:
        if self._control_port is not None:
            return self._control_port
        try:
            text = (self.data_dir / "control-port").read_text()
        except OSError:
            return None
        match = re.search(r"PORT=[^\s:]+:(\d+)", text)
        if match:
            self._control_port = int(match.group(1))
        return self._control_port

    async def _supervise(self) -> None:
        loop = asyncio.get_running_loop()
        delay = self._restart_delay
        while True:
            proc = self._proc
            if proc is None:
                return
            started = loop.time()
            status = await proc.wait()
            if self._closing:
                return
            self._ready.clear()
            await self._drop_control()
            if loop.time() - started > _STABLE:
                delay = self._restart_delay
            log.warning("managed tor exited; restarting", extra={
                "status": status, "restart_in": round(delay, 1), "tor_says": self._last_warning()})
            while True:
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_restart_delay)
                try:
                    await self._launch()
                    break
                except TorError as exc:
                    log.error("managed tor did not restart", extra={
                        "reason": str(exc).splitlines()[0], "retry_in": round(delay, 1)})
            self.restarts += 1

    async def _drop_control(self) -> None:
        control, self._control = self._control, None
        if control is not None:
            with contextlib.suppress(TorError):
                await control.close()

    async def _stop(self, proc: asyncio.subprocess.Process) -> None:
        for sig in (None, signal.SIGTERM, signal.SIGKILL):
            if sig is not None and proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(sig)
            try:
                await asyncio.wait_for(proc.wait(), 5)
                return
            except TimeoutError:
                continue

    async def _relay_log(self, proc: asyncio.subprocess.Process) -> None:
        """tor's notice log, line by line: kept for error messages, warnings logged."""
        if proc.stdout is None:
            return
        async for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip()
            match = re.match(r".*?\[(\w+)\] (.*)", line)
            level, text = match.groups() if match else ("notice", line)
            self._recent.append(f"[{level}] {text}")
            if level in ("warn", "err"):
                log.warning("tor: %s", text, extra={"pid": proc.pid})
            else:
                log.debug("tor: %s", text, extra={"pid": proc.pid})

    def _last_warning(self) -> str:
        warnings = [line for line in self._recent if line.startswith(("[warn]", "[err]"))]
        return (warnings or list(self._recent) or [""])[-1]

    def _log_hint(self) -> str:
        return "; tor said:\n  " + "\n  ".join(self._recent) if self._recent else ""
