"""Run a producer of items on a thread of its own, a few items ahead of the consumer.

Why: reading a worksheet (inflating the zip, numpy over the XML, Arrow takes) mostly runs
outside the GIL, while the scan's main thread encodes the previous rows in Python; on
two cores the two overlap. The queue is short, so memory stays bounded; the consumer
sees the producer's items, and its exception, in order.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

__all__ = ["ahead"]

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
