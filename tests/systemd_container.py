"""A real systemd, booted as PID 1 of a throw-away container, to run cohortwatch.service in.

The machines the tests run on do not boot systemd (PID 1 is something else), yet what the
unit's sandbox really does — DynamicUser/User=, credentials, PrivateUsers=, the system-call
filter, MemoryDenyWriteExecute= with numpy and pyarrow loaded, Type=notify and the watchdog
— only shows when systemd itself starts the service. So: new PID and mount namespaces, an
overlay of the root file system whose writes land in a tmpfs (systemd's boot clears /tmp,
writes /etc and /var: none of it may touch the machine), and ``/lib/systemd/systemd`` as
PID 1 with that overlay as its root, told it runs in a container. The network namespace is
the machine's: the service reaches the test's leak site and webhook receiver on 127.0.0.1.
Killing PID 1 ends the container, its processes and its mounts.

Needs root, systemd, util-linux (unshare, nsenter) and overlayfs; :func:`unavailable` says
what is missing.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["Container", "unavailable"]

SYSTEMD = Path("/lib/systemd/systemd")

# Runs inside the new namespaces: the overlay, the API file systems, then systemd.
_BOOT = """
set -eu
base=$1
mount -t tmpfs -o size=2g,mode=0700 tmpfs "$base"
mkdir -p "$base/upper" "$base/work" "$base/root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$base/upper,workdir=$base/work" "$base/root"
mount --rbind /dev "$base/root/dev"
mount --rbind /sys "$base/root/sys"
mount -t proc proc "$base/root/proc"
# pivot_root, not chroot: systemd moves mounts around (credentials), which a chroot's
# mount tree does not allow.
cd "$base/root"
mkdir -p .oldroot
pivot_root . .oldroot
umount -l /.oldroot
# Shared, as a booted systemd makes it (in a container it leaves that to the container
# manager): credentials are mounted in a child's namespace and must propagate back.
mount --make-rshared /
# The machine's enabled services and timers are not ours to start (tor would reach out to
# the Tor network): boot to sysinit.target only, with tor masked should a unit want it.
exec /usr/bin/env -i container=cohortwatch-test {systemd} --system \
    --unit=sysinit.target --log-target=console \
    systemd.mask=tor.service systemd.mask=tor@default.service
"""


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL when the test process dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def unavailable() -> str | None:
    """Why a container cannot be booted here, or ``None``."""
    if os.geteuid() != 0:
        return "booting systemd in a container needs root"
    if not SYSTEMD.exists():
        return f"{SYSTEMD} is missing (apt-get install systemd)"
    for tool in ("unshare", "nsenter", "pivot_root", "mount"):
        if shutil.which(tool) is None:
            return f"{tool} is missing (apt-get install util-linux coreutils)"
    if not Path("/usr/bin/dbus-daemon").exists():
        return "the system bus is missing (apt-get install dbus)"
    if "overlay" not in Path("/proc/filesystems").read_text():
        return "the kernel has no overlayfs"
    probe = tempfile.mkdtemp(prefix="cohortwatch-probe-", dir="/var/tmp")
    try:
        done = subprocess.run(
            ["unshare", "--pid", "--fork", "--mount", "--propagation", "private", "mount",
             "-t", "tmpfs", "tmpfs", probe], capture_output=True, text=True, timeout=30,
            check=False)
    finally:
        shutil.rmtree(probe, ignore_errors=True)
    if done.returncode != 0:
        return f"no new PID and mount namespaces here: {done.stderr.strip()}"
    return None


class Container:
    """One booted systemd; use as a context manager."""

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="cohortwatch-systemd-", dir="/var/tmp"))
        self.log = self.base.with_suffix(".log")
        self.pid = 0
        self._unshare: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Container:
        self.boot()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def boot(self, timeout: float = 90) -> None:
        script = _BOOT.format(systemd=SYSTEMD)
        with self.log.open("wb") as log:
            # The container ends with the test process, however that ends: unshare gets
            # SIGKILL when its parent dies, and takes PID 1 (systemd) with it.
            self._unshare = subprocess.Popen(
                ["unshare", "--pid", "--fork", "--kill-child=SIGKILL", "--mount", "--uts",
                 "--propagation", "private", "sh", "-c", script, "boot", str(self.base)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.pid = self.pid or self._systemd_pid()
            if self.pid:
                state = self.run("systemctl", "is-system-running", check=False).stdout.strip()
                if state in ("running", "degraded"):
                    # A booted system has its bus: systemd-run (cohortwatch-admin) needs it.
                    self.run("systemctl", "start", "dbus.socket")
                    return
            if self._unshare.poll() is not None:
                break
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"systemd did not boot in the container:\n{self.log_tail()}")

    def _systemd_pid(self) -> int:
        """The unshare's child once it has exec'd systemd (it is PID 1 inside)."""
        assert self._unshare is not None
        children = Path(f"/proc/{self._unshare.pid}/task/{self._unshare.pid}/children")
        try:
            pids = children.read_text().split()
            argv0 = Path(f"/proc/{pids[0]}/cmdline").read_bytes().split(b"\0")[0] if pids else b""
            if argv0 == str(SYSTEMD).encode():
                return int(pids[0])
        except OSError:
            pass  # not started yet, or gone (boot() then sees the unshare exit)
        return 0

    def run(self, *argv: str, input: str | None = None, check: bool = True,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run a command inside the container (its root, its PID namespace), as root."""
        done = subprocess.run(
            ["nsenter", "-t", str(self.pid), "-m", "-p", "-r", "-w", *argv],
            input=input, capture_output=True, text=True, timeout=timeout, check=False)
        if check and done.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} failed ({done.returncode}):\n"
                                 f"{done.stdout}\n{done.stderr}")
        return done

    def write(self, path: str, data: str, mode: int = 0o644, owner: str = "root") -> None:
        """Create ``path`` inside the container with ``data``, mode and owner set first."""
        self.run("install", "-D", "-m", f"{mode:o}", "-o", owner, "/dev/null", path)
        self.run("sh", "-c", 'cat > "$1"', "write", path, input=data)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """Kill PID 1: the kernel ends every process of the container, and with the last
        of them its mount namespace — the overlay and its tmpfs."""
        if self.pid:
            with contextlib.suppress(ProcessLookupError):  # already gone
                os.kill(self.pid, signal.SIGKILL)
        if self._unshare is not None:
            try:
                self._unshare.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self._unshare.pid, signal.SIGKILL)
                self._unshare.wait(timeout=30)
        shutil.rmtree(self.base, ignore_errors=True)
        self.log.unlink(missing_ok=True)
