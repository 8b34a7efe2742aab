"""Single compressed files (.gz, .bz2, .xz, .zst), and the streams under compressed tars.

Everything is decoded as a stream, a bounded chunk at a time, so a compressed file is
never held in memory, and a ``.tar.gz`` is read straight through without writing the
``.tar`` anywhere. The decoders are given a memory bound (xz memlimit, zstd window) so a
header cannot ask for gigabytes; every byte they produce is charged to the archive's
budget as it comes out, so a bomb stops within one chunk of its limit.

What comes out is sniffed: a tar is walked in place (one layer, ``x.tar.gz/inner.csv``),
anything else becomes one member named after the file without its compression suffix
(``x.csv.gz/x.csv``), which the walker may find to be another archive in turn.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO, Protocol

from matchers.archives.layer import CHUNK, READ_ERRORS, Extracted, Layer, reason_for
from matchers.archives.model import Skipped, SkipReason
from matchers.archives.sniff import HEAD, Kind, is_tar_header

__all__ = ["MissingSupport", "entries", "inner_name", "open_decoder"]

_SUFFIXES = {
    ".tgz": ".tar",
    ".tbz": ".tar",
    ".tbz2": ".tar",
    ".txz": ".tar",
    ".tzst": ".tar",
    ".gz": "",
    ".gzip": "",
    ".bz2": "",
    ".xz": "",
    ".zst": "",
    ".zstd": "",
}


class MissingSupport(Exception):
    """The library for this format is not installed."""


class _Decoder(Protocol):
    eof: bool
    needs_input: bool
    unused_data: bytes

    def decompress(self, data: bytes, max_length: int = -1) -> bytes: ...


class DecoderStream:
    """A readable stream of what a stdlib-style decoder (bz2, lzma, zstd) makes of ``raw``.

    Like ``_compression.DecompressReader`` (which is private): ``read(n)`` returns at most
    ``n`` bytes, however much the next input expands; concatenated streams are read one
    after the other; input that ends inside a stream raises ``EOFError``, and data after
    the last complete stream that is not another stream is ignored, as the command-line
    tools do.
    """

    def __init__(self, raw: BinaryIO, make: Callable[[], _Decoder], trailing: type[Exception]):
        self._raw = raw
        self._make = make
        self._trailing = trailing
        self._decoder = make()
        self._done = False

    def read(self, size: int = CHUNK) -> bytes:
        if size < 0:
            size = CHUNK
        while not self._done:
            if self._decoder.eof:
                block = self._decoder.unused_data or self._raw.read(CHUNK)
                if not block:
                    self._done = True
                    break
                self._decoder = self._make()
                try:
                    data = self._decoder.decompress(block, size)
                except self._trailing:
                    self._done = True  # trailing bytes that are not another stream
                    break
            else:
                if self._decoder.needs_input:
                    block = self._raw.read(CHUNK)
                    if not block:
                        raise EOFError("compressed data ends before the end-of-stream marker")
                else:
                    block = b""
                try:
                    data = self._decoder.decompress(block, size)
                except self._trailing as exc:  # zstd's error type is its own: make it common
                    raise ValueError(str(exc)) from exc
            if data:
                return data
        return b""


def _zstd_module() -> Any:
    try:
        from compression import zstd  # type: ignore[import-not-found]  # Python >= 3.14
    except ImportError:
        try:
            from backports import zstd  # type: ignore[import-not-found,no-redef]
        except ImportError:
            raise MissingSupport("zstd") from None
    return zstd


def _window_log(memory: int) -> int:
    return max(10, min(31, memory.bit_length() - 1))


def open_decoder(kind: Kind, raw: BinaryIO, max_memory: int) -> Any:
    """A stream of the decompressed content of ``raw`` (of ``kind``), reading at most
    ``n`` bytes per ``read(n)`` and using at most about ``max_memory`` for the decoder.

    :raises MissingSupport: zstd support is not installed.
    """
    if kind is Kind.GZIP:
        return gzip.GzipFile(fileobj=raw, mode="rb")  # 32 KiB window: bounded by design
    if kind is Kind.BZIP2:
        return DecoderStream(raw, bz2.BZ2Decompressor, OSError)  # at most ~4 MB
    if kind is Kind.XZ:
        return DecoderStream(
            raw,
            lambda: lzma.LZMADecompressor(format=lzma.FORMAT_XZ, memlimit=max_memory),
            lzma.LZMAError,
        )
    if kind is Kind.ZSTD:
        zstd = _zstd_module()
        option = {zstd.DecompressionParameter.window_log_max: _window_log(max_memory)}
        return DecoderStream(raw, lambda: zstd.ZstdDecompressor(options=option), zstd.ZstdError)
    raise ValueError(f"not a compressed stream: {kind}")


class MeteredStream:
    """Charges every byte read through it to the layer (limits are checked before the
    bytes are handed on)."""

    def __init__(self, inner: Any, layer: Layer) -> None:
        self._inner = inner
        self._layer = layer
        self._read1 = getattr(inner, "read1", None)

    def read(self, size: int = -1) -> bytes:
        size = size if size >= 0 else CHUNK
        # read1 (GzipFile) returns one decoding step: if the data then breaks off, only
        # that step is lost, not everything a buffered read(size) had gathered.
        data: bytes = self._read1(size) if self._read1 is not None else self._inner.read(size)
        if data:
            self._layer.charge(len(data))
        return data


class PrefixedStream:
    """``head`` (already read, for sniffing) followed by the rest of ``inner``."""

    def __init__(self, head: bytes, inner: Any) -> None:
        self._head = head
        self._inner = inner

    def read(self, size: int = -1) -> bytes:
        if self._head:
            if size < 0 or size >= len(self._head):
                data, self._head = self._head, b""
            else:
                data, self._head = self._head[:size], self._head[size:]
            return data
        result: bytes = self._inner.read(size)
        return result


def inner_name(shown: str) -> str:
    """The name of what a compressed file holds: its own name less the compression
    suffix (``x.csv.gz`` → ``x.csv``, ``x.tgz`` → ``x.tar``); unchanged without one."""
    base = shown.rsplit("/", 1)[-1]
    stem, dot, suffix = base.rpartition(".")
    if dot and stem and f".{suffix.lower()}" in _SUFFIXES:
        return stem + _SUFFIXES[f".{suffix.lower()}"]
    return base


def _read_head(stream: Any) -> bytes:
    head = b""
    while len(head) < HEAD:
        block = stream.read(HEAD - len(head))
        if not block:
            break
        head += block
    return head


def entries(layer: Layer, kind: Kind) -> Iterator[Extracted | Skipped]:
    """The member(s) of a compressed file: a tar's members, or the one file it holds."""
    from matchers.archives import tars

    with layer.path.open("rb") as raw:
        try:
            decoder = open_decoder(kind, raw, layer.limits.max_decoder_memory)
        except MissingSupport:
            yield layer.skip_rest(SkipReason.MISSING_SUPPORT)
            return
        stream = MeteredStream(decoder, layer)
        try:
            head = _read_head(stream)
        except READ_ERRORS as exc:
            yield layer.skip_rest(reason_for(exc))
            return
        whole = PrefixedStream(head, stream)
        if is_tar_header(head):
            yield from tars.stream_entries(layer, whole)
            return
        layer.count()
        result = layer.extract(whole.read, layer.child(inner_name(layer.shown)), charged=True)
        yield result
