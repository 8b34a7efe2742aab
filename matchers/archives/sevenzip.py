"""7z archives, through py7zr, one member at a time.

py7zr decodes a 7z archive in one call that *pushes* every member into objects its
writer factory makes. To hand out one member at a time (and keep temporary disk to one
member) that call runs in a worker thread: each member goes to a private file through
our writer, which charges every byte to the budgets before writing it; when a member is
complete the worker hands it over and waits until the consumer has moved on and the file
is gone. Closing the walk sets a cancel flag: the worker's next write (or its wait)
raises, py7zr unwinds, and the thread is joined before the work directory is removed.

What py7zr would otherwise do on its own is kept out: members are selected by name
(``targets``), so links, special files, unsafe names and oversized members are never
decoded to a file; the worker reads from a file object we opened, which turns py7zr's
own multi-threaded extraction off (members must come in order); the decoders' chunk size
is capped (py7zr sizes it from free memory, up to 128 MB per chunk); and an LZMA
dictionary or PPMd model larger than ``max_decoder_memory`` is refused before decoding.
The header itself is decoded in memory by py7zr, which bounds it (256 MiB decoded, 8M
entries); a 7z archive keeps its header at the end, so a truncated one cannot be read.
"""

from __future__ import annotations

import contextlib
import io
import os
import queue
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from matchers.archives.layer import CHUNK, Extracted, Layer, Stop, Workspace
from matchers.archives.model import Skipped, SkipReason
from matchers.archives.names import shown_name
from matchers.errors import ArchiveError

__all__ = ["entries"]

_JOIN_SECONDS = 30.0
_POLL_SECONDS = 0.2
_LZMA2 = b"\x21"
_LZMA = b"\x03\x01\x01"
_PPMD = b"\x03\x04\x01"


class _Cancelled(Stop):
    """The walk was closed: the worker stops at its next write."""


def _import() -> Any:
    try:
        import py7zr
        import py7zr.io
        import py7zr.py7zr
    except ImportError:
        return None
    # py7zr sizes each decode chunk from the free memory (up to 128 MB); a chunk is
    # held in memory more than once on its way to us. CHUNK keeps memory flat.
    if hasattr(py7zr.py7zr, "get_memory_limit"):
        py7zr.py7zr.get_memory_limit = lambda: CHUNK
    return py7zr


def _decoder_memory(coder: dict[str, Any]) -> int:
    """Memory a coder's decoder allocates, from its properties (0 when small/unknown)."""
    method, props = coder.get("method", b""), coder.get("properties") or b""
    if method == _LZMA2 and len(props) >= 1:
        bits = props[0] & 0x3F
        return (2 | (bits & 1)) << (bits // 2 + 11) if bits < 40 else 0xFFFFFFFF
    if method == _LZMA and len(props) >= 5:
        return int.from_bytes(props[1:5], "little")
    if method == _PPMD and len(props) >= 5:
        return int.from_bytes(props[1:5], "little")
    return 0


def _needs_too_much_memory(archive: Any, limit: int) -> bool:
    streams = getattr(archive.header, "main_streams", None)
    if streams is None or streams.unpackinfo is None:
        return False
    return any(
        _decoder_memory(coder) > limit
        for folder in streams.unpackinfo.folders
        for coder in folder.coders
    )


def _truncated(path: Path) -> bool:
    """Whether the file is shorter than its start header says (the header is at the end)."""
    with path.open("rb") as fh:
        start = fh.read(32)
        size = fh.seek(0, 2)
    if len(start) < 32:
        return True
    offset = int.from_bytes(start[12:20], "little")
    length = int.from_bytes(start[20:28], "little")
    return 32 + offset + length > size


class _CancellableFile(io.FileIO):
    """The archive file, read by the worker; a read after cancellation raises, so the
    worker stops promptly even while py7zr decodes members we do not keep."""

    cancel: threading.Event | None = None

    def read(self, size: int | None = -1) -> bytes:
        if self.cancel is not None and self.cancel.is_set():
            raise _Cancelled
        return super().read(size)


def _open(py7zr: Any, layer: Layer) -> tuple[Any, _CancellableFile | None, Skipped | None]:
    """The opened archive and its file, or the reason it cannot be opened.

    Opened without the password first: a header that is itself encrypted says so, and a
    failure with the password can then be called a wrong password.
    """
    password = None if layer.password is None else layer.password.decode("utf-8", "replace")

    def attempt(secret: str | None) -> tuple[Any, _CancellableFile]:
        fh = _CancellableFile(layer.path, "r")
        try:
            return py7zr.SevenZipFile(fh, mode="r", password=secret), fh
        except BaseException:
            fh.close()
            raise

    def damaged() -> Skipped:
        truncated = _truncated(layer.path)
        return layer.skip_rest(SkipReason.TRUNCATED if truncated else SkipReason.CORRUPT)

    header_encrypted = False
    try:
        archive, fh = attempt(None)
        if password is None:
            return archive, fh, None
        archive.close()
        fh.close()
    except py7zr.PasswordRequired:
        header_encrypted = True
        if password is None:
            return None, None, layer.skip_rest(SkipReason.NO_PASSWORD)
    except Exception:  # noqa: BLE001 - py7zr raises many types on hostile input
        return None, None, damaged()
    try:
        archive, fh = attempt(password)
    except Exception:  # noqa: BLE001 - as above
        if header_encrypted:
            return None, None, layer.skip_rest(SkipReason.WRONG_PASSWORD)
        return None, None, damaged()
    return archive, fh, None


def _declared_work(archive: Any, targets: set[str]) -> int:
    """Bytes py7zr will decode to extract ``targets``: in a solid block, every member up
    to the last one wanted is decoded (to check its CRC) even if it is not kept. Declared
    sizes bound the real work: py7zr stops each member at its declared size."""
    work = 0
    pending: dict[int, int] = {}
    for entry in archive.files:
        folder = getattr(entry, "folder", None)
        if folder is None or entry.is_directory:
            continue
        key = id(folder)
        pending[key] = pending.get(key, 0) + max(0, int(entry.uncompressed or 0))
        if entry.filename in targets:
            work += pending.pop(key)
    return work


class _Output:
    """One member being written by the worker (py7zr's ``Py7zIO`` interface)."""

    def __init__(self, worker: _Worker, name: str) -> None:
        self.worker = worker
        self.shown = worker.shown_for(name)
        self.path, self.fd = worker.layer.session.workspace.new_file(self.shown)
        worker.files.append(self.path)
        self.size = 0
        self.done = False

    def write(self, data: bytes | bytearray) -> int:
        if self.worker.cancel.is_set():
            raise _Cancelled
        self.size += len(data)
        if self.size > self.worker.layer.limits.max_member_bytes:
            raise _MemberTooLarge(self.shown)
        self.worker.layer.charge(len(data))
        Workspace.write(self.fd, bytes(data))
        return len(data)

    def read(self, size: int | None = None) -> bytes:
        return b""

    def seek(self, offset: int, whence: int = 0) -> int:
        return 0  # py7zr rewinds a finished member; ours is already on its way

    def seekable(self) -> bool:
        return False

    def flush(self) -> None:
        pass

    def size_(self) -> int:
        return self.size

    def close(self) -> None:
        """The member is complete (its CRC was checked): hand it over and wait."""
        if self.done:
            return
        self.done = True
        os.close(self.fd)
        self.worker.hand_over(self)


class _MemberTooLarge(Stop):
    def __init__(self, shown: str) -> None:
        super().__init__("member too large")
        self.shown = shown


class _Worker:
    """Runs py7zr's extraction in a thread and hands members over one at a time."""

    def __init__(self, py7zr: Any, archive: Any, layer: Layer, names: dict[str, str]) -> None:
        self.archive = archive
        self.layer = layer
        self.names = names
        self.cancel = threading.Event()
        self.resume = threading.Event()
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.files: list[Path] = []
        self.current: _Output | None = None
        self.handed = 0
        self.root = layer.session.workspace.root / f"7z-{layer.index}-{id(self)}"
        worker = self

        class Output(py7zr.io.Py7zIO):  # type: ignore[misc]
            def __init__(self, name: str) -> None:
                self.impl = _Output(worker, name)

            def write(self, s: bytes | bytearray) -> int:
                return self.impl.write(s)

            def read(self, size: int | None = None) -> bytes:
                return self.impl.read(size)

            def seek(self, offset: int, whence: int = 0) -> int:
                return self.impl.seek(offset, whence)

            def seekable(self) -> bool:
                return False

            def flush(self) -> None:
                self.impl.flush()

            def size(self) -> int:
                return self.impl.size_()

            def close(self) -> None:
                self.impl.close()

        class Factory(py7zr.io.WriterFactory):  # type: ignore[misc]
            def create(self, filename: str) -> Any:
                # A py7zr without the per-member close() hook: a new member means the
                # previous one is complete.
                if worker.current is not None:
                    worker.current.close()
                output = Output(filename)
                worker.current = output.impl
                return output

        self.factory = Factory()
        self.thread = threading.Thread(target=self._run, name="cohortwatch-7z", daemon=True)

    def shown_for(self, name: str) -> str:
        """py7zr passes the output path it made of the member's name under ``root``."""
        relative = os.path.relpath(name, self.root) if os.path.isabs(name) else name
        return self.names.get(relative) or self.layer.child(shown_name(relative))

    def _run(self) -> None:
        try:
            self.archive.extract(path=self.root, targets=list(self.names), factory=self.factory)
            if self.current is not None:
                self.current.close()
            self.events.put(("done", None))
        except BaseException as exc:  # noqa: BLE001 - everything goes to the consumer
            self.events.put(("error", exc))

    def hand_over(self, output: _Output) -> None:
        """In the worker: give a complete member to the consumer; wait until it is done."""
        self.current = None
        self.events.put(("member", output))
        while not self.resume.wait(_POLL_SECONDS):
            if self.cancel.is_set():
                raise _Cancelled
        self.resume.clear()
        if self.cancel.is_set():
            raise _Cancelled

    def next_event(self) -> tuple[str, Any]:
        """In the consumer: the worker's next event (polling, so signals get through)."""
        while True:
            try:
                return self.events.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                if not self.thread.is_alive() and self.events.empty():
                    return "error", RuntimeError("7z worker ended without a result")

    def stop(self) -> None:
        """Stop the worker, wait for it, and remove any file it left."""
        self.cancel.set()
        self.resume.set()
        if self.thread.ident is not None:
            self.thread.join(_JOIN_SECONDS)
        if self.current is not None and not self.current.done:
            with contextlib.suppress(OSError):
                os.close(self.current.fd)
        for path in self.files:
            path.unlink(missing_ok=True)


def entries(layer: Layer) -> Iterator[Extracted | Skipped]:
    """Every member of the 7z archive at ``layer.path``, in archive order."""
    py7zr = _import()
    if py7zr is None:
        yield layer.skip_rest(SkipReason.MISSING_SUPPORT)
        return
    archive, fh, failure = _open(py7zr, layer)
    if failure is not None or fh is None:
        yield failure or layer.skip_rest(SkipReason.CORRUPT)
        return
    try:
        yield from _members(py7zr, archive, fh, layer)
    finally:
        with contextlib.suppress(Exception):
            archive.close()
        fh.close()


def _kind_skip(entry: Any) -> SkipReason | None:
    if entry.is_symlink or getattr(entry, "is_junction", False):
        return SkipReason.LINK
    if getattr(entry, "is_socket", False):
        return SkipReason.SPECIAL_FILE
    fmt = entry.st_fmt
    if fmt is not None and fmt != 0 and not stat.S_ISREG(fmt):
        return SkipReason.LINK if stat.S_ISLNK(fmt) else SkipReason.SPECIAL_FILE
    return None


def _members(
    py7zr: Any, archive: Any, fh: _CancellableFile, layer: Layer
) -> Iterator[Extracted | Skipped]:
    encrypted = bool(archive.needs_password())
    names: dict[str, str] = {}
    for entry in archive.files:
        layer.count()
        if entry.is_directory:
            continue
        shown = layer.name(entry.filename)
        if isinstance(shown, Skipped):
            yield shown
        elif (reason := _kind_skip(entry)) is not None:
            yield layer.skip(shown, reason)
        elif entry.uncompressed > layer.limits.max_member_bytes:
            yield layer.skip(shown, SkipReason.MEMBER_TOO_LARGE)
        elif encrypted and layer.password is None:
            yield layer.skip(shown, SkipReason.NO_PASSWORD)
        else:
            names[entry.filename] = shown
    if not names:
        return
    if _needs_too_much_memory(archive, layer.limits.max_decoder_memory):
        yield layer.skip_rest(SkipReason.DECODER_MEMORY)
        return
    work = _declared_work(archive, set(names))
    if work > layer.limits.max_total_bytes - layer.session.stats.bytes_out:
        yield layer.skip_rest(SkipReason.TOTAL_BYTES)
        return
    if work > layer.session.meter.allowed(layer.index):
        yield layer.skip_rest(SkipReason.RATIO)
        return
    worker = _Worker(py7zr, archive, layer, names)
    fh.cancel = worker.cancel
    try:
        worker.thread.start()
        while True:
            kind, payload = worker.next_event()
            if kind == "member":
                worker.handed += 1
                yield Extracted(payload.shown, payload.path, payload.size)
                worker.resume.set()
            elif kind == "done":
                return
            else:
                yield from _failure(layer, worker, encrypted, payload)
                return
    finally:
        worker.stop()


def _failure(
    layer: Layer, worker: _Worker, encrypted: bool, exc: BaseException
) -> Iterator[Skipped]:
    """What an error of the worker means for the walk."""
    if isinstance(exc, _MemberTooLarge):
        yield layer.skip(exc.shown, SkipReason.MEMBER_TOO_LARGE)
        yield layer.skip_rest(SkipReason.CORRUPT)  # a member bigger than its header says
    elif isinstance(exc, Stop | ArchiveError) or not isinstance(exc, Exception):
        raise exc  # a limit (the walker handles it), a cancellation, a full disk
    elif encrypted and worker.handed == 0:
        yield layer.skip_rest(SkipReason.WRONG_PASSWORD)
    elif type(exc).__name__ == "PasswordRequired":
        yield layer.skip_rest(SkipReason.NO_PASSWORD)
    elif type(exc).__name__ == "UnsupportedCompressionMethodError":
        yield layer.skip_rest(SkipReason.UNSUPPORTED_METHOD)
    else:
        yield layer.skip_rest(SkipReason.CORRUPT)
