"""The private work directory, and making sure it goes away: on errors, on an early stop,
on SIGTERM, and (for a SIGKILL, which nothing can catch) at the next start.

SIGTERM: Python's default is to die at once, without running ``finally`` blocks, so a
temporary directory full of leaked records would stay behind. Inside
:func:`sigterm_raises` a SIGTERM instead raises :class:`Terminated` in the main thread,
wherever it is (a read, a decode, a wait for the 7z worker); the ``with`` blocks around
the walk unwind and remove the directory; the caller catches ``Terminated`` and exits
(status 143 is the convention). A second SIGTERM during that clean-up is ignored, so it
cannot interrupt the removal. Under systemd, ``PrivateTmp=yes`` is the backstop.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import stat
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

from matchers.errors import ArchiveError

__all__ = [
    "WORKDIR_PREFIX",
    "Terminated",
    "make_private_dir",
    "remove_private_dir",
    "remove_stale_workdirs",
    "sigterm_raises",
]

WORKDIR_PREFIX = "cohortwatch-unpack-"


class Terminated(BaseException):
    """SIGTERM arrived while :func:`sigterm_raises` was active.

    A BaseException, like KeyboardInterrupt, so ``except Exception`` in reader code does
    not swallow it and the walk unwinds to the caller.
    """


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """Within this block, SIGTERM raises :class:`Terminated` in the main thread.

    Only the main thread can install signal handlers; elsewhere this does nothing (the
    thread's owner must stop it). The previous handler is restored on exit.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    fired = False

    def handler(signum: int, frame: FrameType | None) -> None:
        nonlocal fired
        if fired:
            return  # already unwinding: let the clean-up finish
        fired = True
        raise Terminated(signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def make_private_dir(parent: Path | None = None) -> Path:
    """A new directory only we can enter (0700), named after our pid so a later run can
    tell an orphan (its process is gone) from a live one.

    :raises ArchiveError: it cannot be made, or is not private after all.
    """
    try:
        made = tempfile.mkdtemp(prefix=f"{WORKDIR_PREFIX}{os.getpid()}-", dir=parent)
        path = Path(made).absolute()
        path.chmod(0o700)
        info = path.lstat()
    except OSError as exc:
        raise ArchiveError(
            f"cannot create a private temporary directory ({exc.strerror or 'I/O error'})"
        ) from exc
    if not stat.S_ISDIR(info.st_mode) or stat.S_IMODE(info.st_mode) != 0o700:
        remove_private_dir(path)
        raise ArchiveError("the temporary directory is not private (mode 0700)")
    return path


def remove_private_dir(path: Path) -> None:
    """Remove the directory and all in it; never raises (it runs while unwinding)."""
    with contextlib.suppress(OSError):
        shutil.rmtree(path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_workdirs(parent: Path | None = None) -> int:
    """Remove work directories left by our processes that died without cleaning up
    (SIGKILL, power loss); returns how many. Directories of live processes, and of other
    users, are left alone."""
    root = Path(parent or tempfile.gettempdir())
    removed = 0
    try:
        candidates = list(root.glob(f"{WORKDIR_PREFIX}*"))
    except OSError:
        return 0
    for path in candidates:
        pid_text = path.name[len(WORKDIR_PREFIX) :].split("-", 1)[0]
        try:
            info = path.lstat()
        except OSError:
            continue
        if not pid_text.isdigit() or not stat.S_ISDIR(info.st_mode):
            continue
        if info.st_uid != os.getuid() or _alive(int(pid_text)):
            continue
        remove_private_dir(path)
        removed += 1
    return removed
