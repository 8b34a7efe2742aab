"""Run a producer of items on a thread of its own, a few items ahead of the consumer.

Why: reading a worksheet (inflating the zip, numpy over the XML, Arrow takes) mostly runs
outside the GIL, while the scan's main thread encodes the previous rows in Python; on
two cores the two overlap. The queue is short, so memory stays bounded; the consumer
sees the producer's items, and its exception, in order.
"""

from __future__ import annotations

import collections
import os
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

__all__ = ["WORKERS", "InOrder", "ahead"]

WORKERS = min(2, os.cpu_count() or 1)  # chunk readers: a second core pays, a third did not

T = TypeVar("T")
_DONE = object()
_WAIT = 0.1  # seconds between checks whether the consumer has gone away


def ahead(items: Iterator[T], depth: int = 4) -> Iterator[T]:
    """``items``, produced on a daemon thread up to ``depth`` items ahead.

    Closing the returned generator early stops the producer at its next item (and
    closes ``items`` there); an exception of the producer is raised here, after the
    items it produced before it.
    """
    box: queue.Queue[tuple[object, BaseException | None]] = queue.Queue(depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        box.put((item, None), timeout=_WAIT)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            box.put((_DONE, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            box.put((_DONE, exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name="xlsx-reader", daemon=True)
    worker.start()
    try:
        while True:
            item, error = box.get()
            if item is _DONE:
                if error is not None:
                    raise error
                return
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        while worker.is_alive():
            try:
                box.get(timeout=_WAIT)
            except queue.Empty:
                continue
        worker.join()


class InOrder(Generic[T]):
    """Calls run on a few worker threads, their results handed back in the order the
    calls were submitted.

    Why: the chunks of a worksheet (or of the shared strings) are read independently,
    mostly in numpy and Arrow kernels that release the GIL, so two chunks can be read at
    once on two cores; the rows must still come out in file order. At most ``window``
    results are waiting or under way, so memory stays bounded.
    """

    def __init__(self, workers: int = WORKERS, window: int = 4) -> None:
        self._pool = ThreadPoolExecutor(max(1, workers), thread_name_prefix="xlsx-chunk")
        self._pending: collections.deque[Future[T]] = collections.deque()
        self._window = max(1, window)

    def submit(self, call: Callable[..., T], *args: object) -> Iterator[T]:
        """Start ``call(*args)``; yields the earliest results while too many are
        waiting (an exception of a call is raised here, in its turn)."""
        return self._add(self._pool.submit(call, *args))

    def put(self, result: T) -> Iterator[T]:
        """Queue a result that needs no work (it keeps its place in the order)."""
        done: Future[T] = Future()
        done.set_result(result)
        return self._add(done)

    def _add(self, future: Future[T]) -> Iterator[T]:
        self._pending.append(future)
        while len(self._pending) > self._window:
            yield self._pending.popleft().result()

    def drain(self) -> Iterator[T]:
        """Every result still due, in order."""
        while self._pending:
            yield self._pending.popleft().result()

    def close(self) -> None:
        """Drop what is still queued and wait for the calls under way."""
        for future in self._pending:
            future.cancel()
        self._pending.clear()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> InOrder[T]:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
