"""Zip archives: stdlib zipfile, pyzipper for AES members, and a scan of local headers
for archives whose central directory is missing (a capped or interrupted download).

Sizes in zip headers are claims. zipfile stops reading a member at its declared size and
then checks the CRC, so a member that is bigger than it says is cut off and fails as
corrupt; we still count every byte it produces, and refuse early a member that *says* it
is over the size limit. The central directory is read by zipfile into memory, one object
per entry, so before it is parsed we count its records (in its bytes, bounded by
``max_members``): an archive with millions of tiny entries is scanned entry by entry
instead, and stops at the member limit. Overlapping entries (one compressed kernel
referenced by many entries) produce real bytes, which the ratio budget counts.
"""

from __future__ import annotations

import bz2
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterator
from typing import Any, BinaryIO

from matchers.archives.layer import CHUNK, READ_ERRORS, Extracted, Layer, reason_for
from matchers.archives.model import ArchiveLimits, Skipped, SkipReason

__all__ = ["entries", "is_document"]

_EOCD = b"PK\x05\x06"
_EOCD64_LOCATOR = b"PK\x06\x07"
_EOCD64 = b"PK\x06\x06"
_CENTRAL = b"PK\x01\x02"
_LOCAL = b"PK\x03\x04"
_DESCRIPTOR = b"PK\x07\x08"
_AES = 99
_MAX_CD_BYTES_PER_MEMBER = 1024


def _central_directory(fh: BinaryIO) -> tuple[int, int] | None:
    """(offset, size) of the central directory, found from the end record as zipfile
    finds it (so a prefixed, self-extracting archive works too); None when there is no
    readable end record, as in a truncated archive."""
    end = fh.seek(0, 2)
    tail_size = min(end, 22 + 0xFFFF)
    fh.seek(end - tail_size)
    tail = fh.read(tail_size)
    at = tail.rfind(_EOCD)
    if at < 0 or len(tail) - at < 22:
        return None
    record_at = end - tail_size + at
    fields = struct.unpack("<4s4H2LH", tail[at : at + 22])
    count, size, offset = fields[4], fields[5], fields[6]
    if count == 0xFFFF or 0xFFFFFFFF in (size, offset):
        locator = at - 20
        if locator < 0 or tail[locator : locator + 4] != _EOCD64_LOCATOR:
            return None
        record_at -= 20 + 56  # zipfile too expects the zip64 record right before it
        fh.seek(record_at)
        record = fh.read(56)
        if len(record) < 56 or record[:4] != _EOCD64:
            return None
        (size,) = struct.unpack("<Q", record[40:48])
    if size > record_at:
        return None
    return record_at - size, size


def _fits(fh: BinaryIO, limits: ArchiveLimits) -> bool:
    """Whether zipfile may parse the central directory: it holds at most ``max_members``
    records (counted by their signature, which can only over-count)."""
    found = _central_directory(fh)
    if found is None:
        return False
    offset, size = found
    if size > limits.max_members * _MAX_CD_BYTES_PER_MEMBER:
        return False
    fh.seek(offset)
    records, carry, left = 0, b"", size
    while left > 0:
        block = fh.read(min(CHUNK, left))
        if not block:
            break
        left -= len(block)
        records += (carry + block).count(_CENTRAL)
        carry = block[-3:]  # a signature cut by the block boundary is counted once
        if records > limits.max_members:
            return False
    return True


def _open(fh: BinaryIO, limits: ArchiveLimits) -> zipfile.ZipFile | None:
    if not _fits(fh, limits):
        return None
    try:
        fh.seek(0)
        return zipfile.ZipFile(fh)
    except (*READ_ERRORS, zipfile.LargeZipFile):
        return None


def is_document(path: Any, limits: ArchiveLimits) -> bool:
    """Whether a zip is an office document (xlsx, docx, odt, ...): a leaf for the readers,
    not an archive to walk. Decided by its entries: ``[Content_Types].xml`` (Office Open
    XML) or a first entry ``mimetype`` (OpenDocument)."""
    with open(path, "rb") as fh:
        archive = _open(fh, limits)
        if archive is not None:
            with archive:
                names = archive.namelist()
            return "[Content_Types].xml" in names or names[:1] == ["mimetype"]
        fh.seek(0)
        header = fh.read(30 + 64)
        if len(header) < 30 or header[:4] != _LOCAL:
            return False
        (length,) = struct.unpack("<H", header[26:28])
        return header[30 : 30 + length] in (b"[Content_Types].xml", b"mimetype")


def _kind_skip(info: zipfile.ZipInfo) -> SkipReason | None:
    """Links and special files, by the Unix mode an archive made on Unix records."""
    if info.create_system != 3:
        return None
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return SkipReason.LINK
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
        return SkipReason.SPECIAL_FILE
    return None


def entries(layer: Layer) -> Iterator[Extracted | Skipped]:
    """Every member of the zip at ``layer.path``: through its central directory when it
    has a usable one, else by scanning local headers from the start."""
    with layer.path.open("rb") as fh:
        archive = _open(fh, layer.limits)
        if archive is None:
            yield from _scan(layer, fh)
            return
        with archive:
            yield from _directory_entries(layer, archive, fh)


def _lzma_dictionary(fh: BinaryIO, info: zipfile.ZipInfo) -> int:
    """The dictionary size an LZMA member's properties ask for (the decoder allocates it
    up front, and zipfile sets no memory limit); 0 when they cannot be read."""
    fh.seek(info.header_offset)
    header = fh.read(30)
    if len(header) < 30 or header[:4] != _LOCAL:
        return 0
    name_len, extra_len = struct.unpack("<HH", header[26:30])
    fh.seek(info.header_offset + 30 + name_len + extra_len)
    props = fh.read(9)  # version (2), properties size (2), lc/lp/pb (1), dictionary (4)
    return int.from_bytes(props[5:9], "little") if len(props) == 9 else 0


def _directory_entries(
    layer: Layer, archive: zipfile.ZipFile, fh: BinaryIO
) -> Iterator[Extracted | Skipped]:
    aes: Any = None
    try:
        for index, info in enumerate(archive.infolist()):
            layer.count()
            if info.is_dir():
                continue
            shown = layer.name(info.filename)
            if isinstance(shown, Skipped):
                yield shown
                continue
            kind_skip = _kind_skip(info)
            if kind_skip is not None:
                yield layer.skip(shown, kind_skip)
                continue
            if info.file_size > layer.limits.max_member_bytes:
                yield layer.skip(shown, SkipReason.MEMBER_TOO_LARGE)
                continue
            encrypted = bool(info.flag_bits & 0x1)
            if encrypted and layer.password is None:
                yield layer.skip(shown, SkipReason.NO_PASSWORD)
                continue
            if info.flag_bits & 0x40:  # PKWARE strong encryption
                yield layer.skip(shown, SkipReason.UNSUPPORTED_METHOD)
                continue
            if (
                info.compress_type == zipfile.ZIP_LZMA
                and not encrypted
                and _lzma_dictionary(fh, info) > layer.limits.max_decoder_memory
            ):
                yield layer.skip(shown, SkipReason.DECODER_MEMORY)
                continue
            if info.compress_type == _AES:
                if aes is None:
                    aes = _open_aes(layer)
                if aes is None:
                    yield layer.skip(shown, SkipReason.MISSING_SUPPORT)
                    continue
                yield _extract(layer, aes, aes.infolist()[index], shown, encrypted)
            else:
                yield _extract(layer, archive, info, shown, encrypted)
    finally:
        if aes is not None:
            aes.close()


def _open_aes(layer: Layer) -> Any:
    """The same archive opened with pyzipper (AES, WinZip style), or None when pyzipper is
    not installed."""
    try:
        import pyzipper  # type: ignore[import-untyped]
    except ImportError:
        return None
    return pyzipper.AESZipFile(layer.path)


def _extract(
    layer: Layer, archive: Any, info: zipfile.ZipInfo, shown: str, encrypted: bool
) -> Extracted | Skipped:
    try:
        member = archive.open(info, pwd=layer.password if encrypted else None)
    except RuntimeError:  # zipfile and pyzipper: "Bad password for file ..."
        return layer.skip(shown, SkipReason.WRONG_PASSWORD)
    except NotImplementedError:  # an unknown compression method
        return layer.skip(shown, SkipReason.UNSUPPORTED_METHOD)
    except READ_ERRORS as exc:
        return layer.skip(shown, reason_for(exc))
    with member:
        result = layer.extract(member.read, shown, compressed=info.compress_size)
    if encrypted and isinstance(result, Skipped) and result.reason is SkipReason.CORRUPT:
        # A wrong password passes the 1-byte (ZipCrypto) check 1 time in 256; the data
        # then fails to decompress or its CRC fails. Corrupt encrypted data looks the same.
        return layer.skip(shown, SkipReason.WRONG_PASSWORD)
    return result


# --- Damaged archives: walk the local headers --------------------------------------------


class _LocalData:
    """The data of one entry found by its local header, decoded as a stream.

    With a data descriptor (flag bit 3) the header does not say how long the data is: a
    deflate or bzip2 stream says itself where it ends. The CRC (and declared size) is
    checked at the end: a mismatch raises ``BadZipFile`` (the member is corrupt), an end
    of file before the end of the data raises ``EOFError`` (the member is partial).
    """

    def __init__(self, fh: BinaryIO, start: int, header: dict[str, Any]) -> None:
        self.fh = fh
        self.pos = start
        self.method: int = header["method"]
        self.left: int | None = None if header["descriptor"] else header["csize"]
        self.data_end: int | None = None if header["descriptor"] else start + header["csize"]
        self.usize: int | None = None if header["descriptor"] else header["usize"]
        self.crc: int = header["crc"]
        self.descriptor: bool = header["descriptor"]
        self.zip64: bool = header["zip64"]
        self.decoder: Any = (
            zlib.decompressobj(-15)
            if self.method == 8
            else bz2.BZ2Decompressor()
            if self.method == 12
            else None
        )
        self.pending = b""
        self.running_crc = 0
        self.produced = 0
        self.end: int | None = None  # offset after the data (and descriptor), once known

    def _raw(self, size: int) -> bytes:
        if self.left is not None:
            size = min(size, self.left)
            if size == 0:
                return b""
        self.fh.seek(self.pos)
        data = self.fh.read(size)
        self.pos += len(data)
        if self.left is not None:
            self.left -= len(data)
        return data

    def read(self, size: int = CHUNK) -> bytes:
        if self.end is not None:
            return b""
        data = self._stored(size) if self.decoder is None else self._decoded(size)
        if data:
            self.produced += len(data)
            self.running_crc = zlib.crc32(data, self.running_crc)
            if self.usize is not None and self.produced > self.usize:
                raise zipfile.BadZipFile("member larger than its header says")
        else:
            self._finish()
        return data

    def _stored(self, size: int) -> bytes:
        data = self._raw(size)
        if not data and self.left:
            raise EOFError("archive ends inside a member")
        return data

    def _decoded(self, size: int) -> bytes:
        while True:
            if self.decoder.eof:
                return b""
            if self.method == 8:
                block = self.pending or self._raw(CHUNK)
                data = self.decoder.decompress(block, size)
                if not block and not data and not self.decoder.eof:
                    raise EOFError("archive ends inside a member")
                self.pending = self.decoder.unconsumed_tail
                if self.decoder.eof:  # the input not used is in unused_data (and the tail)
                    self.pos -= len(self.decoder.unused_data)
                    self.pending = b""
            else:
                block = self._raw(CHUNK) if self.decoder.needs_input else b""
                if self.decoder.needs_input and not block:
                    raise EOFError("archive ends inside a member")
                data = self.decoder.decompress(block, size)
                if self.decoder.eof:
                    self.pos -= len(self.decoder.unused_data)
            if data:
                return data

    def _finish(self) -> None:
        if self.descriptor:
            self.fh.seek(self.pos)
            head = self.fh.read(4)
            skip = 4 if head == _DESCRIPTOR else 0
            length = 4 + (16 if self.zip64 else 8)
            self.fh.seek(self.pos + skip)
            descriptor = self.fh.read(length)
            if len(descriptor) < length:
                raise EOFError("archive ends inside a data descriptor")
            (self.crc,) = struct.unpack("<L", descriptor[:4])
            self.pos += skip + length
        if self.running_crc != self.crc:
            raise zipfile.BadZipFile("CRC mismatch")
        self.end = self.pos

    def skip_to_end(self, layer: Layer) -> int | SkipReason:
        """The offset after this entry, decoding what is left when its length is not
        declared (charged like any output); a skip reason when it cannot be found."""
        if self.data_end is not None:
            return self.data_end  # declared: trusted only to find the next header
        if self.end is not None:
            return self.end
        if self.decoder is None:
            return SkipReason.CORRUPT
        try:
            layer.drain(self.read)
        except READ_ERRORS as exc:
            return reason_for(exc)
        return self.end if self.end is not None else SkipReason.CORRUPT


def _local_header(fh: BinaryIO, at: int) -> dict[str, Any] | None:
    fh.seek(at)
    fixed = fh.read(30)
    if len(fixed) < 30 or fixed[:4] != _LOCAL:
        return None
    _, _, flags, method, _, _, crc, csize, usize, name_len, extra_len = struct.unpack(
        "<4s5H3L2H", fixed
    )
    name = fh.read(name_len)
    extra = fh.read(extra_len)
    if len(name) < name_len or len(extra) < extra_len:
        return None
    zip64 = False
    pos = 0
    while pos + 4 <= len(extra):
        tag, length = struct.unpack("<HH", extra[pos : pos + 4])
        if tag == 0x0001:
            zip64 = True
            body = extra[pos + 4 : pos + 4 + length]
            values = [struct.unpack("<Q", body[i : i + 8])[0] for i in range(0, len(body) - 7, 8)]
            if usize == 0xFFFFFFFF and values:
                usize = values.pop(0)
            if csize == 0xFFFFFFFF and values:
                csize = values.pop(0)
        pos += 4 + length
    return {
        "name": name.decode("utf-8" if flags & 0x800 else "cp437", errors="replace"),
        "flags": flags,
        "method": method,
        "crc": crc,
        "csize": csize,
        "usize": usize,
        "descriptor": bool(flags & 0x8),
        "zip64": zip64,
        "data": at + 30 + name_len + extra_len,
    }


def _scan(layer: Layer, fh: BinaryIO) -> Iterator[Extracted | Skipped]:
    """Members of a zip without a usable central directory, in file order."""
    fh.seek(0)
    start = fh.read(1 << 20).find(_LOCAL)
    if start < 0:
        yield layer.skip_rest(SkipReason.CORRUPT)
        return
    at = start
    while True:
        header = _local_header(fh, at)
        if header is None:
            fh.seek(at)
            signature = fh.read(4)
            if signature in (_CENTRAL, _EOCD):
                return  # every entry was read; only the directory itself is damaged
            short = len(signature) < 4 or signature == _LOCAL
            yield layer.skip_rest(SkipReason.TRUNCATED if short else SkipReason.CORRUPT)
            return
        layer.count()
        data = _LocalData(fh, header["data"], header)
        result = _scan_one(layer, header, data)
        if result is not None:
            yield result
        if (isinstance(result, Extracted) and result.partial) or (
            isinstance(result, Skipped) and result.reason is SkipReason.TRUNCATED
        ):
            yield layer.skip_rest(SkipReason.TRUNCATED)
            return
        end = data.skip_to_end(layer)
        if isinstance(end, SkipReason):
            yield layer.skip_rest(end)
            return
        if end <= at:
            yield layer.skip_rest(SkipReason.CORRUPT)
            return
        at = end


def _scan_one(layer: Layer, header: dict[str, Any], data: _LocalData) -> Extracted | Skipped | None:
    """One entry found by scanning: its member, its skip, or None for a directory."""
    name: str = header["name"]
    shown = layer.name(name)
    if isinstance(shown, Skipped):
        return shown
    if name.endswith("/"):
        return None
    if header["flags"] & 0x1:
        return layer.skip(shown, SkipReason.ENCRYPTED_IN_DAMAGED)
    if data.decoder is None and header["method"] != 0:
        return layer.skip(shown, SkipReason.UNSUPPORTED_METHOD)
    if data.decoder is None and header["descriptor"]:
        return layer.skip(shown, SkipReason.CORRUPT)  # stored, length unknown: no end to find
    if not header["descriptor"] and header["usize"] > layer.limits.max_member_bytes:
        return layer.skip(shown, SkipReason.MEMBER_TOO_LARGE)
    return layer.extract(data.read, shown)
