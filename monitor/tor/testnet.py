"""A private Tor network on 127.0.0.1: ``cohortwatch demo --tor`` and the ``-m tor`` tests.

It lets the whole crawl path — SOCKS with remote name resolution, v3 onion services, the
control port — run for real on one machine without touching the public Tor network: the
demo shows a crawl over Tor with no set-up, and the tests prove the crawler against real
tor processes. Seven Debian ``tor`` processes in ``TestingTorNetwork`` mode, every
listener on 127.0.0.1 on a free port, all data in one private directory::

    auth0 auth1 auth2   directory authorities (keys from tor-gencert), 10 s voting
    relay0 relay1       non-exit relays (Guard and HSDir flags forced by the authorities)
    onion               one tor serving the v3 onion services, port 80 -> 127.0.0.1:<target>
    client              SocksPort + ControlPort (cookie and password authentication)

The order is what makes the first onion fetch reliable (measured on these 2-core machines,
see DESIGN.md): relays start once the authorities answer, the onion service and the client
once a consensus lists every relay — a tor that starts earlier backs off its directory
fetches and is ready many seconds later. :func:`launch` returns when every onion descriptor
is on the HSDirs and each onion really answers through the client's SOCKS port.

Every tor's ``__OwningControllerProcess`` is a sentinel child (``cat`` reading a pipe from
this process): if this process is killed, the pipe closes, the sentinel exits and every tor
exits within tor's ~15 s poll. It is not our own pid because stem sends TAKEOWNERSHIP when
its own pid owns the tor, and tor then exits as soon as that one control connection closes.

Authority keys (tor-gencert's 3072-bit RSA, ~2 s of CPU for three) are kept in a cache
directory between runs when one is given; they are keys of a throw-away network.

Nothing here prints: progress is in :attr:`TorTestNetwork.timings`, failures are
:class:`~monitor.errors.TorNetworkError` (with the tor logs' tail) or, when tor is not
installed, :class:`~monitor.errors.TorUnavailableError` saying how to install it.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import stem
import stem.control

from monitor.errors import TorNetworkError, TorUnavailableError
from monitor.tor.auth import StemController

# stem sets its logger to TRACE at import and logs every command (the launch polls the
# bootstrap phase many times a second): only its warnings reach the demo's stderr.
logging.getLogger("stem").setLevel(logging.WARNING)

__all__ = [
    "INSTALL_HINT",
    "Onion",
    "TorNetworkError",
    "TorProcess",
    "TorTestNetwork",
    "launch",
    "require_binaries",
    "tor_binaries",
]

N_AUTHORITIES = 3
N_RELAYS = 2
N_ONIONS = 2
VOTING_INTERVAL = 10  # seconds; the smallest V3AuthVotingInterval tor accepts
FIRST_VOTE_LEAD = 8  # seconds from starting the authorities to their first consensus
KEY_CACHE_DAYS = 180  # tor-gencert certificates are made for 12 months
_PREFIX = "cohortwatch-tornet-"
INSTALL_HINT = "install it with `sudo apt-get install tor` (Debian/Ubuntu; it brings tor-gencert)"


def tor_binaries() -> tuple[str, str] | None:
    """Paths of ``tor`` and ``tor-gencert``, or None when either is missing.

    Debian installs tor in /usr/sbin, which is not on a normal user's PATH.
    """
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/bin"])
    tor, gencert = shutil.which("tor", path=path), shutil.which("tor-gencert", path=path)
    return (tor, gencert) if tor and gencert else None


def require_binaries() -> tuple[str, str]:
    """Paths of ``tor`` and ``tor-gencert``.

    :raises TorUnavailableError: either is missing; the message says how to install them.
    """
    binaries = tor_binaries()
    if binaries is None:
        raise TorUnavailableError(
            f"the private Tor network needs tor and tor-gencert, which are not installed: "
            f"{INSTALL_HINT}")
    return binaries


def free_ports(count: int) -> list[int]:
    """``count`` distinct free TCP ports on 127.0.0.1 (held open together so none repeats)."""
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind(("127.0.0.1", 0))
            ports.append(sock.getsockname()[1])
        return ports


@dataclass(frozen=True)
class Onion:
    """A v3 onion service of the network: ``hostname:80`` is forwarded to ``target_port``.

    Nothing listens on the target port until a test starts a server there, so a test can
    take the "site" down and bring it back by stopping and starting its own server.
    """

    hostname: str
    target_port: int


@dataclass
class TorProcess:
    """One tor of the network, its directory and its log."""

    name: str
    directory: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.directory / "notice.log"

    def tail(self, lines: int = 12) -> str:
        text = ""
        for path in (self.directory / "stdout.log", self.log):
            with contextlib.suppress(OSError):
                text += path.read_text(errors="replace")
        return "\n".join(f"  {self.name}: {line}" for line in text.splitlines()[-lines:])

    def rss_kib(self) -> int:
        """Resident memory of the process in KiB (0 once it has exited)."""
        if self.proc is None or self.proc.poll() is not None:
            return 0
        try:
            status = Path(f"/proc/{self.proc.pid}/status").read_text()
        except OSError:
            return 0
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        return int(match.group(1)) if match else 0


@dataclass
class TorTestNetwork:
    """The running network (the demo's, or the tests' ``tor_network`` fixture).

    ``socks_port``, ``control_port``, ``cookie_path`` and ``control_password`` belong to the
    client tor; ``onions`` are the v3 onion services; ``timings`` are seconds from launch
    (``first_fetch``: every onion answered through the client).
    """

    base: Path
    socks_port: int
    control_port: int
    cookie_path: Path
    control_password: str
    onions: list[Onion]
    dir_authorities: list[str]
    processes: list[TorProcess]
    sentinel: subprocess.Popen[bytes]
    timings: dict[str, float] = field(default_factory=dict)

    def network_options(self) -> list[str]:
        """The torrc lines a further tor needs to join this network (one option a line)."""
        return ["TestingTorNetwork 1", *self.dir_authorities]

    def torrc_extra(self) -> str:
        """:meth:`network_options` as torrc text."""
        return "".join(f"{line}\n" for line in self.network_options())

    @property
    def client(self) -> TorProcess:
        return self.processes[-1]

    @contextlib.contextmanager
    def controller(self) -> Iterator[stem.control.Controller]:
        """A separate, authenticated stem controller on the client tor (closed on exit)."""
        with StemController.at_port("127.0.0.1", self.control_port) as ctl:
            ctl.authenticate()  # the cookie tor advertises; sets up event delivery too
            yield ctl

    def rss_kib(self) -> dict[str, int]:
        """Resident memory of each tor in KiB."""
        return {p.name: p.rss_kib() for p in self.processes}

    def logs_tail(self, lines: int = 12) -> str:
        return "\n".join(p.tail(lines) for p in self.processes)

    def stop(self, *, remove: bool = True) -> None:
        """Stop every tor and the sentinel; remove every DataDirectory unless ``remove`` is
        false (``demo --keep``: the torrcs and logs stay for a look)."""
        stop_all(self.processes, self.sentinel)
        if remove:
            shutil.rmtree(self.base, ignore_errors=True)


# --------------------------------------------------------------------------- torrc pieces


def _common(p: TorProcess, owner: int, authorities: list[str]) -> list[str]:
    return [
        "TestingTorNetwork 1",
        *authorities,
        f"DataDirectory {p.directory}",
        f"Nickname {p.name}",
        "RunAsDaemon 0",
        "ShutdownWaitLength 0",
        "ProtocolWarnings 0",
        f"Log notice file {p.log}",
        f"__OwningControllerProcess {owner}",
        "ClientUseIPv6 0",
        "AssumeReachable 1",
        # the GeoIP databases cost each tor ~0.5 s of CPU at start-up and are not needed
        'GeoIPFile ""',
        'GeoIPv6File ""',
    ]


# consensus diffs are useless with a new consensus every 10 s, and cost memory to compress
_NO_DIFFS = "MaxConsensusAgeForDiffs 1 second"


def _authority_lines(or_port: int, dir_port: int, offset: int, index: int) -> list[str]:
    return [
        "SocksPort 0",
        f"ORPort 127.0.0.1:{or_port}",
        f"DirPort 127.0.0.1:{dir_port}",
        "Address 127.0.0.1",
        "AuthoritativeDirectory 1",
        "V3AuthoritativeDirectory 1",
        f"ContactInfo auth{index}@test.invalid",
        "ExitPolicy reject *:*",
        "AuthDirTestReachability 0",
        "AuthDirMaxServersPerAddr 0",
        f"TestingV3AuthInitialVotingInterval {VOTING_INTERVAL}",
        "TestingV3AuthInitialVoteDelay 2",
        "TestingV3AuthInitialDistDelay 2",
        f"V3AuthVotingInterval {VOTING_INTERVAL}",
        "V3AuthVoteDelay 2",
        "V3AuthDistDelay 2",
        "V3AuthNIntervalsValid 2",
        f"TestingV3AuthVotingStartOffset {offset}",
        "TestingDirAuthVoteGuard *",
        "TestingDirAuthVoteHSDir *",
        _NO_DIFFS,
    ]


def _relay_lines(or_port: int, index: int) -> list[str]:
    return [
        "SocksPort 0",
        f"ORPort 127.0.0.1:{or_port}",
        "Address 127.0.0.1",
        f"ContactInfo relay{index}@test.invalid",
        "ExitRelay 0",
        "ExitPolicy reject *:*",
        _NO_DIFFS,
    ]


def _start(p: TorProcess, tor: str, lines: list[str]) -> None:
    torrc = p.directory / "torrc"
    torrc.write_text("".join(f"{line}\n" for line in lines))
    empty = p.directory.parent / "empty-defaults"
    empty.touch()
    with (p.directory / "stdout.log").open("wb") as out:
        p.proc = subprocess.Popen(  # noqa: S603 - an argv list; tor found by tor_binaries()
            [tor, "-f", str(torrc), "--defaults-torrc", str(empty)],
            # one malloc arena: tor's worker threads otherwise keep ~60 MB each of compression
            # buffers (7 tors: ~380 MB twenty seconds in, ~150 MB with this)
            env={**os.environ, "MALLOC_ARENA_MAX": "1"},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C at the terminal does not race our shutdown
        )


# --------------------------------------------------------------------------- key material

_KEY_FILES = (
    "keys/authority_certificate",
    "keys/authority_identity_key",
    "keys/authority_signing_key",
    "keys/secret_id_key",
    "keys/ed25519_master_id_public_key",
    "keys/ed25519_master_id_secret_key",
    "fingerprint",
)


def _cached_keys(cache: Path | None, ps: list[TorProcess]) -> bool:
    """Copy the cached authority keys into the DataDirectories; False when there are none."""
    if cache is None:
        return False
    sources = [cache / p.name for p in ps]
    files = [src / name for src in sources for name in _KEY_FILES]
    if not all(f.is_file() for f in files):
        return False
    if time.time() - min(f.stat().st_mtime for f in files) > KEY_CACHE_DAYS * 86400:
        return False
    for src, p in zip(sources, ps, strict=True):
        (p.directory / "keys").mkdir(mode=0o700, exist_ok=True)
        for name in _KEY_FILES:
            shutil.copy2(src / name, p.directory / name)
    return True


def _store_keys(cache: Path, ps: list[TorProcess]) -> None:
    """Keep the keys for the next run (written aside, then renamed: other runs may race)."""
    with contextlib.suppress(OSError):
        cache.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=cache))
        for p in ps:
            (staging / p.name / "keys").mkdir(parents=True)
            for name in _KEY_FILES:
                shutil.copy2(p.directory / name, staging / p.name / name)
        for p in ps:
            shutil.rmtree(cache / p.name, ignore_errors=True)
            (staging / p.name).rename(cache / p.name)
        shutil.rmtree(staging, ignore_errors=True)


def _generate_keys(gencert: str, tor: str, ps: list[TorProcess]) -> None:
    """Every authority's v3 keys (tor-gencert) and relay identity keys, side by side."""
    empty = ps[0].directory.parent / "empty-defaults"
    empty.touch()
    running = []
    for p in ps:
        keys = p.directory / "keys"
        keys.mkdir(mode=0o700, exist_ok=True)
        running.append(subprocess.Popen(  # noqa: S603 - an argv list, no shell
            [gencert, "--create-identity-key", "--passphrase-fd", "0", "-m", "12",
             "-i", str(keys / "authority_identity_key"),
             "-s", str(keys / "authority_signing_key"),
             "-c", str(keys / "authority_certificate")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        ))
        running.append(subprocess.Popen(  # noqa: S603 - an argv list, no shell
            [tor, "--list-fingerprint", "--quiet", "-f", str(empty), "--defaults-torrc",
             str(empty), "--DataDirectory", str(p.directory), "--ORPort", "1",
             "--Nickname", p.name, "--GeoIPFile", "", "--GeoIPv6File", ""],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        ))
    for proc in running:
        out, _ = proc.communicate(b"\n" if proc.stdin else None, timeout=60)
        if proc.returncode:
            raise TorNetworkError(f"{proc.args[0]} failed: {out.decode(errors='replace')}")


def _dir_authority_line(p: TorProcess, or_port: int, dir_port: int) -> str:
    cert = (p.directory / "keys" / "authority_certificate").read_text()
    v3ident = re.search(r"^fingerprint ([0-9A-F]{40})$", cert, re.MULTILINE)
    rsa = (p.directory / "fingerprint").read_text().split()
    if not v3ident or len(rsa) != 2:
        raise TorNetworkError(f"no fingerprints for {p.name}")
    return (f"DirAuthority {p.name} orport={or_port} no-v2 v3ident={v3ident.group(1)} "
            f"127.0.0.1:{dir_port} {rsa[1]}")


# --------------------------------------------------------------------------- readiness


def _answers(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _consensus_relays(dir_port: int) -> int:
    """How many relays the authority's current microdescriptor consensus lists (0 if none)."""
    conn = http.client.HTTPConnection("127.0.0.1", dir_port, timeout=2)
    try:
        conn.request("GET", "/tor/status-vote/current/consensus-microdesc")
        response = conn.getresponse()
        body = response.read()
    except OSError:
        return 0
    finally:
        conn.close()
    if response.status != 200:
        return 0
    return len(re.findall(rb"^r ", body, re.MULTILINE))


def socks_connect(socks_port: int, host: str, port: int, username: str, timeout: float) -> int:
    """A SOCKS5 CONNECT by name through tor; the reply code (0 connected, -1 no reply)."""
    with socket.create_connection(("127.0.0.1", socks_port), timeout=timeout) as sock:
        user = username.encode()
        sock.sendall(b"\x05\x01\x02")
        if sock.recv(2) != b"\x05\x02":
            return -1
        sock.sendall(b"\x01" + bytes([len(user)]) + user + b"\x01x")
        if sock.recv(2) != b"\x01\x00":
            return -1
        name = host.encode()
        sock.sendall(b"\x05\x01\x00\x03" + bytes([len(name)]) + name + struct.pack(">H", port))
        reply = sock.recv(10)
        return reply[1] if len(reply) >= 2 else -1


@contextlib.contextmanager
def _accepting(port: int) -> Iterator[None]:
    """A throw-away listener on 127.0.0.1:port that accepts and closes (for the probe)."""
    server = socket.create_server(("127.0.0.1", port))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        server.close()


class _Waiter:
    """Polls for a condition until the launch deadline, failing early when a tor exits or
    the caller cancels (the demo launches from a thread and may be interrupted)."""

    def __init__(
        self, processes: list[TorProcess], deadline: float, cancel: threading.Event | None
    ) -> None:
        self.processes, self.deadline, self.cancel = processes, deadline, cancel

    def check(self, what: str) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise TorNetworkError(f"the Tor test network's launch was cancelled ({what})")
        for p in self.processes:
            if p.proc is not None and p.proc.poll() is not None:
                raise TorNetworkError(f"{p.name} exited with status {p.proc.returncode}")
        if time.monotonic() > self.deadline:
            raise TorNetworkError(f"the Tor test network did not come up in time ({what})")

    def until(self, condition: Callable[[], object], what: str, interval: float = 0.2) -> None:
        while True:
            self.check(what)
            if condition():
                return
            time.sleep(interval)


def _connect(port: int, cookie: Path, waiter: _Waiter) -> stem.control.Controller:
    """An authenticated controller, once the tor has opened its port and written its cookie."""
    waiter.until(lambda: cookie.exists() and _answers(port), "control port", interval=0.05)
    ctl = StemController.at_port("127.0.0.1", port)
    ctl.authenticate()
    return ctl


class _Uploads:
    """Counts, per onion address, the HSDirs that confirmed its descriptor (HS_DESC events)."""

    def __init__(self, addresses: list[str]) -> None:
        self.hsdirs: dict[str, set[str]] = {a: set() for a in addresses}
        self.first: float | None = None
        self.lock = threading.Lock()

    def __call__(self, event: stem.response.events.HSDescEvent) -> None:
        if event.action == "UPLOADED" and event.address in self.hsdirs:
            with self.lock:
                self.hsdirs[event.address].add(event.directory)
                if all(self.hsdirs.values()) and self.first is None:
                    self.first = time.monotonic()

    def done(self, every: int, grace: float) -> bool:
        """Every onion is on ``every`` HSDirs, or on one at least for ``grace`` seconds."""
        with self.lock:
            if all(len(dirs) >= every for dirs in self.hsdirs.values()):
                return True
            return self.first is not None and time.monotonic() - self.first > grace


def _probe(
    onions: list[Onion], socks_port: int, ctl: stem.control.Controller, waiter: _Waiter
) -> None:
    """Connect to every onion through the client until each answers.

    A failed descriptor lookup makes the client avoid those HSDirs for a while; NEWNYM
    clears that state, so a failed round is followed by one.
    """
    pending = list(onions)
    attempt = 0
    while pending:
        waiter.check("onions answer")
        attempt += 1
        for onion in list(pending):
            with _accepting(onion.target_port):
                try:
                    code = socks_connect(socks_port, onion.hostname, 80, f"probe{attempt}", 20)
                except OSError:
                    code = -1
            if code == 0:
                pending.remove(onion)
        if pending:
            with contextlib.suppress(stem.ControllerError):
                ctl.signal(stem.Signal.NEWNYM)
            time.sleep(1)


# --------------------------------------------------------------------------- launch / stop


def stop_all(processes: list[TorProcess], sentinel: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM every tor (SIGKILL after 5 s), then let the sentinel go."""
    running = [p.proc for p in processes if p.proc is not None and p.proc.poll() is None]
    for proc in running:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
    for proc in running:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if sentinel is not None:
        if sentinel.stdin is not None:
            sentinel.stdin.close()
        try:
            sentinel.wait(timeout=5)
        except subprocess.TimeoutExpired:
            sentinel.kill()
            sentinel.wait()


def remove_stale(min_age: float = 120.0) -> None:
    """Remove the directories of networks in the temporary directory whose run was killed
    (their sentinel is gone)."""
    for base in Path(tempfile.gettempdir()).glob(f"{_PREFIX}*"):
        try:
            if time.time() - base.stat().st_mtime < min_age:
                continue
            os.kill(int((base / "sentinel.pid").read_text()), 0)
        except ProcessLookupError:
            shutil.rmtree(base, ignore_errors=True)
        except (OSError, ValueError):
            continue


def start_sentinel() -> subprocess.Popen[bytes]:
    """A child that lives exactly as long as our end of its stdin pipe: the tors' owner."""
    cat = shutil.which("cat") or "/bin/cat"
    return subprocess.Popen(  # noqa: S603 - an argv list, no shell
        [cat], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)


def launch(
    timeout: float = 120.0,
    key_cache: Path | None = None,
    *,
    parent: Path | None = None,
    onions: int = N_ONIONS,
    cancel: threading.Event | None = None,
) -> TorTestNetwork:
    """Start the network and return once every onion answers through the client.

    :param key_cache: where authority keys are kept between runs (None: always generate).
    :param parent: the directory to create the network's directory in (None: the temporary
        directory, where networks of killed runs are also cleaned up).
    :param onions: how many onion services to publish (each forwards to its own target port).
    :param cancel: when set (from another thread), the launch stops at its next check.
    :raises TorUnavailableError: tor or tor-gencert is not installed.
    :raises TorNetworkError: a tor failed, the launch was cancelled, or the network was not
        usable within ``timeout`` seconds; the message ends with the tail of every tor's log.
        Everything started is stopped and removed before it is raised.
    """
    binaries = require_binaries()
    if onions < 1:
        raise ValueError("the network needs at least one onion service")
    t0 = time.monotonic()
    if parent is None:
        remove_stale()
    base = Path(tempfile.mkdtemp(prefix=_PREFIX, dir=parent))
    names = [f"auth{i}" for i in range(N_AUTHORITIES)]
    names += [f"relay{i}" for i in range(N_RELAYS)] + ["onion", "client"]
    processes = [TorProcess(name, base / name) for name in names]
    for p in processes:
        p.directory.mkdir(mode=0o700)
    sentinel = start_sentinel()
    (base / "sentinel.pid").write_text(str(sentinel.pid))
    try:
        waiter = _Waiter(processes, t0 + timeout, cancel)
        return _launch(*binaries, base, processes, sentinel, key_cache, onions, t0, waiter)
    except BaseException as exc:
        tail = "\n".join(p.tail() for p in processes if p.proc is not None)
        stop_all(processes, sentinel)
        shutil.rmtree(base, ignore_errors=True)
        if isinstance(exc, TorNetworkError):
            raise TorNetworkError(f"{exc} ({time.monotonic() - t0:.0f} s)\n{tail}") from None
        raise


def _launch(
    tor: str,
    gencert: str,
    base: Path,
    processes: list[TorProcess],
    sentinel: subprocess.Popen[bytes],
    key_cache: Path | None,
    n_onions: int,
    t0: float,
    waiter: _Waiter,
) -> TorTestNetwork:
    auths = processes[:N_AUTHORITIES]
    relays = processes[N_AUTHORITIES:N_AUTHORITIES + N_RELAYS]
    onion_tor, client = processes[-2:]
    ports = iter(free_ports(2 * N_AUTHORITIES + N_RELAYS + 3 + n_onions))
    auth_or = [next(ports) for _ in auths]
    auth_dir = [next(ports) for _ in auths]
    relay_or = [next(ports) for _ in relays]
    onion_ctl, socks_port, control_port = next(ports), next(ports), next(ports)
    targets = list(ports)
    timings: dict[str, float] = {}

    password = "cohortwatch-test-" + os.urandom(6).hex()
    hashing = subprocess.Popen(  # noqa: S603 - an argv list, no shell
        [tor, "--quiet", "--hash-password", password],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    if not _cached_keys(key_cache, auths):
        _generate_keys(gencert, tor, auths)
        if key_cache is not None:
            _store_keys(key_cache, auths)
    hashed = hashing.communicate(timeout=30)[0].strip().splitlines()[-1]
    dir_authorities = [
        _dir_authority_line(p, o, d) for p, o, d in zip(auths, auth_or, auth_dir, strict=True)
    ]
    timings["keys"] = time.monotonic() - t0
    waiter.check("keys")

    offset = int(time.time() + FIRST_VOTE_LEAD) % VOTING_INTERVAL
    owner = sentinel.pid
    for i, p in enumerate(auths):
        lines = _authority_lines(auth_or[i], auth_dir[i], offset, i)
        _start(p, tor, [*_common(p, owner, dir_authorities), *lines])
    waiter.until(lambda: all(_answers(port) for port in auth_dir), "authorities answer")
    timings["authorities"] = time.monotonic() - t0

    for i, p in enumerate(relays):
        _start(p, tor, [*_common(p, owner, dir_authorities), *_relay_lines(relay_or[i], i)])
    every = N_AUTHORITIES + N_RELAYS
    waiter.until(lambda: _consensus_relays(auth_dir[0]) >= every, "consensus", interval=0.3)
    timings["consensus"] = time.monotonic() - t0

    onion_lines = [
        *_common(onion_tor, owner, dir_authorities),
        "SocksPort 0",
        f"ControlPort 127.0.0.1:{onion_ctl}",
        "CookieAuthentication 1",
        "FetchDirInfoEarly 1",
        "FetchDirInfoExtraEarly 1",
    ]
    for i, target in enumerate(targets):
        onion_lines += [
            f"HiddenServiceDir {onion_tor.directory / f'hs{i}'}",
            f"HiddenServicePort 80 127.0.0.1:{target}",
        ]
    _start(onion_tor, tor, onion_lines)
    _start(client, tor, [
        *_common(client, owner, dir_authorities),
        f"SocksPort 127.0.0.1:{socks_port}",
        f"ControlPort 127.0.0.1:{control_port}",
        "CookieAuthentication 1",
        f"HashedControlPassword {hashed}",
        "FetchDirInfoEarly 1",
        "FetchDirInfoExtraEarly 1",
    ])

    hostnames = [onion_tor.directory / f"hs{i}" / "hostname" for i in range(len(targets))]
    cookie = client.directory / "control_auth_cookie"
    with _connect(onion_ctl, onion_tor.directory / "control_auth_cookie", waiter) as octl:
        waiter.until(lambda: all(h.exists() for h in hostnames), "onion keys")
        onions = [Onion(h.read_text().strip(), t) for h, t in zip(hostnames, targets, strict=True)]
        uploads = _Uploads([o.hostname.removesuffix(".onion") for o in onions])
        octl.add_event_listener(uploads, stem.control.EventType.HS_DESC)
        with _connect(control_port, cookie, waiter) as ctl:
            waiter.until(
                lambda: "PROGRESS=100" in ctl.get_info("status/bootstrap-phase"), "bootstrap"
            )
            timings["client_bootstrapped"] = time.monotonic() - t0
            waiter.until(lambda: uploads.done(every, grace=2.0), "descriptors", interval=0.1)
            timings["descriptors"] = time.monotonic() - t0
            _probe(onions, socks_port, ctl, waiter)
    timings["first_fetch"] = time.monotonic() - t0
    return TorTestNetwork(
        base=base,
        socks_port=socks_port,
        control_port=control_port,
        cookie_path=cookie,
        control_password=password,
        onions=onions,
        dir_authorities=dir_authorities,
        processes=processes,
        sentinel=sentinel,
        timings=timings,
    )
