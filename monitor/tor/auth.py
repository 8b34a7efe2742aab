"""Opening Tor's control connection and authenticating, with errors an operator can act on.

Synchronous (stem 1.8 is); :mod:`monitor.tor.control` calls it in a worker thread.

The method is chosen from what the caller configured, not by trying everything: a password
when one is given, else the cookie file (the given path, or the one tor names in
PROTOCOLINFO), else no authentication if tor allows it. stem's own ``authenticate()`` would
fall back from a wrong password to a readable cookie and hide the misconfiguration.

stem's single-method functions (``authenticate_password``, ``authenticate_safecookie``, …)
do not run the controller's post-authentication step, without which event listeners are
never subscribed and TAKEOWNERSHIP is never sent; :func:`open_controller` runs it.
"""

from __future__ import annotations

import errno
import socket
import threading
from collections.abc import Callable
from pathlib import Path

import stem
import stem.connection
import stem.control
import stem.response
import stem.socket
from stem.connection import AuthMethod

from monitor.errors import TorControlError, TorUnavailableError

__all__ = ["StemController", "cookie_error", "open_controller"]

_GROUP_HINT = ("add the user running cohortwatch to the group tor runs as (debian-tor on "
               "Debian), or use a control password (tor.password_file)")


class _ControlPort(stem.socket.ControlPort):
    """stem's ControlPort, with a connect timeout, IPv6, and no socket leaked on failure."""

    connect_timeout = 10.0

    def _make_socket(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.connect_timeout)
            sock.connect((self.address, self.port))
            sock.settimeout(None)
        except OSError as exc:
            sock.close()
            raise stem.SocketError(exc) from None
        return sock


class _ControlSocketFile(stem.socket.ControlSocketFile):
    """stem's ControlSocketFile, without leaking the socket when connecting fails."""

    def _make_socket(self) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(self.path)
        except OSError as exc:
            sock.close()
            raise stem.SocketError(exc) from None
        return sock


class StemController(stem.control.Controller):
    """stem's Controller, starting its two threads without ``Thread.setDaemon``.

    stem 1.8.2 (its last release) calls ``setDaemon``, deprecated since Python 3.10: a
    DeprecationWarning on every connection, an error under the tests' ``filterwarnings =
    error``. :meth:`_launch_threads` is stem's own, with ``daemon=True`` instead.
    """

    @classmethod
    def at_port(cls, host: str, port: int) -> StemController:
        """:raises stem.SocketError: nothing answers."""
        return cls(_ControlPort(host, port))

    @classmethod
    def at_socket(cls, path: str | Path) -> StemController:
        """:raises stem.SocketError: no socket there, or it cannot be opened."""
        return cls(_ControlSocketFile(str(path)))

    def _launch_threads(self) -> None:
        with self._socket._get_send_lock():
            if not self._reader_thread or not self._reader_thread.is_alive():
                self._reader_thread = threading.Thread(
                    target=self._reader_loop, name="Tor listener", daemon=True)
                self._reader_thread.start()
            if not self._event_thread or not self._event_thread.is_alive():
                self._event_thread = threading.Thread(
                    target=self._event_loop, name="Event notifier", daemon=True)
                self._event_thread.start()


def cookie_error(path: str | Path, exc: OSError, where: str) -> TorControlError:
    """The error for a control cookie that cannot be read, saying what to do about it."""
    if exc.errno == errno.ENOENT:
        return TorControlError(
            f"Tor's control cookie {path} does not exist: is 'CookieAuthentication 1' set, "
            f"and is this the cookie of the tor at {where}?")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return TorControlError(f"cannot read Tor's control cookie {path}: permission denied; "
                               f"{_GROUP_HINT}")
    return TorControlError(f"cannot read Tor's control cookie {path}: {exc.strerror or exc}")


def _connect(host: str, port: int | None, socket_path: Path | None) -> stem.control.Controller:
    if socket_path is not None:
        where = f"control socket {socket_path}"
        try:
            return StemController.at_socket(socket_path)
        except stem.SocketError as exc:
            reason = str(exc)
            if not socket_path.exists():
                raise TorUnavailableError(
                    f"Tor's {where} does not exist: is tor running with "
                    f"'ControlSocket {socket_path}' in its torrc?") from None
            if "ermission denied" in reason:
                raise TorUnavailableError(
                    f"cannot open Tor's {where}: permission denied; {_GROUP_HINT} "
                    "(tor needs 'ControlSocketsGroupWritable 1')") from None
            raise TorUnavailableError(f"cannot open Tor's {where}: {reason}") from None
    try:
        return StemController.at_port(host, port or 9051)
    except stem.SocketError as exc:
        raise TorUnavailableError(
            f"Tor's control port {host}:{port} does not answer ({exc}): is tor running with "
            f"'ControlPort {port}' in its torrc?") from None


def _read_cookie(path: str, where: str) -> None:
    try:
        with open(path, "rb") as fh:
            fh.read(1)
    except OSError as exc:
        raise cookie_error(path, exc, where) from None


def _authenticate(
    ctl: stem.control.Controller,
    where: str,
    password: str | None,
    cookie_path: Path | None,
) -> None:
    # not stem.connection.get_protocolinfo(): it reconnects when the connection is closed,
    # which would undo a caller's close after a timeout
    info = ctl.msg("PROTOCOLINFO 1")
    stem.response.convert("PROTOCOLINFO", info)
    methods = set(info.auth_methods)
    if password is not None:
        if AuthMethod.PASSWORD not in methods:
            raise TorControlError(
                f"Tor's {where} does not accept a password (no HashedControlPassword in its "
                "torrc): remove tor.password_file to use its cookie")
        try:
            stem.connection.authenticate_password(ctl, password)
        except stem.connection.PasswordAuthFailed:
            raise TorControlError(
                f"Tor's {where} refused the control password: it does not match "
                "HashedControlPassword in tor's torrc (tor --hash-password makes one)") from None
        return
    cookie_methods = methods & {AuthMethod.SAFECOOKIE, AuthMethod.COOKIE}
    if cookie_path is not None or (cookie_methods and info.cookie_path):
        if not cookie_methods:
            raise TorControlError(f"Tor's {where} does not use cookie authentication "
                                  "(no 'CookieAuthentication 1' in its torrc)")
        path = str(cookie_path if cookie_path is not None else info.cookie_path)
        _read_cookie(path, where)
        try:
            if AuthMethod.SAFECOOKIE in methods:
                stem.connection.authenticate_safecookie(ctl, path)
            else:
                stem.connection.authenticate_cookie(ctl, path)
        except stem.connection.UnreadableCookieFile:
            _read_cookie(path, where)  # raises with the reason
            raise
        except stem.connection.CookieAuthFailed:
            raise TorControlError(
                f"Tor's {where} refused the control cookie {path}: it is not this tor's "
                "cookie (tor writes a new one at every start)") from None
        return
    if AuthMethod.NONE in methods:
        stem.connection.authenticate_none(ctl)
        return
    if AuthMethod.PASSWORD in methods:
        raise TorControlError(f"Tor's {where} needs a password (HashedControlPassword is set): "
                              "put it in a file named by tor.password_file")
    raise TorControlError(f"Tor's {where} offers no authentication method cohortwatch "
                          f"supports ({', '.join(sorted(map(str, methods))) or 'none'})")


def open_controller(
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    socket_path: Path | None = None,
    password: str | None = None,
    cookie_path: Path | None = None,
    opened: Callable[[stem.control.Controller], object] | None = None,
) -> stem.control.Controller:
    """Connect to Tor's control port (or socket) and authenticate.

    ``opened`` is called with the controller as soon as it is connected, before
    authenticating: a caller that gives up waiting can close it, which unblocks this thread.

    :raises TorUnavailableError: nothing answers at the port or socket, or tor closed the
        connection.
    :raises TorControlError: authentication failed (wrong password, unreadable or foreign
        cookie, method not offered); the message says what to change.
    """
    where = f"control socket {socket_path}" if socket_path else f"control port {host}:{port}"
    ctl = _connect(host, port, socket_path)
    if opened is not None:
        opened(ctl)
    try:
        _authenticate(ctl, where, password, cookie_path)
        # events, TAKEOWNERSHIP and stem's caches: skipped by the single-method functions
        ctl._post_authentication()
    except stem.SocketError as exc:
        ctl.close()
        raise TorUnavailableError(f"Tor's {where} closed the connection: {exc}") from None
    except (stem.ControllerError, stem.connection.AuthenticationFailure) as exc:
        ctl.close()
        raise TorControlError(f"Tor's {where} refused authentication: {exc}") from None
    except BaseException:
        ctl.close()
        raise
    return ctl
