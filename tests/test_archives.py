"""Walking hostile archives (matchers.archives): formats, passwords, bombs, unsafe entries,
damage, limits, and that no plaintext is left on disk however the walk ends.

Every archive is built here, in tmp_path, from synthetic rows.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import signal
import stat
import struct
import subprocess
import sys
import tarfile
import textwrap
import threading
import time
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest

from matchers.archives import (
    ArchiveLimits,
    Member,
    Skipped,
    SkipReason,
    remove_stale_workdirs,
    walk,
)
from matchers.archives.cleanup import WORKDIR_PREFIX
from matchers.errors import ConfigError, UnreadableDatasetError

py7zr = pytest.importorskip("py7zr")
pyzipper = pytest.importorskip("pyzipper")
try:
    from compression import zstd  # type: ignore[import-not-found]
except ImportError:
    zstd = pytest.importorskip("backports.zstd")

REPO = Path(__file__).resolve().parent.parent
SECRET = "geheim"  # noqa: S105 - the test password a leaker "published" with the post
KiB = 1 << 10
MiB = 1 << 20


def rows(n: int = 3, seed: int = 0) -> bytes:
    """A small synthetic CSV (made-up names, dummy numbers)."""
    lines = ["nummer;achternaam;geboortedatum"]
    lines += [
        f"{seed * 1000 + i:09d};Testpersoon{seed}x{i};1970-01-{1 + i % 28:02d}" for i in range(n)
    ]
    return ("\n".join(lines) + "\n").encode()


@dataclass
class Result:
    members: list[tuple[str, bytes, bool]]
    skipped: list[Skipped]
    bytes_out: int

    @property
    def shown(self) -> list[str]:
        return [m[0] for m in self.members]

    def reasons(self) -> dict[str, SkipReason]:
        return {s.shown: s.reason for s in self.skipped}


def run(path: Path, tmp_path: Path, **kwargs: object) -> Result:
    """Walk ``path`` completely, reading every member, with the work dir under tmp_path."""
    parent = tmp_path / "work"
    parent.mkdir(exist_ok=True)
    got: list[tuple[str, bytes, bool]] = []
    display = kwargs.pop("display_name", path.name)
    with walk(path, display_name=display, temp_parent=parent, **kwargs) as members:  # type: ignore[arg-type]
        for member in members:
            got.append((member.shown, member.path.read_bytes(), member.partial))
    assert list(parent.iterdir()) == [], "work directory left behind"
    return Result(got, members.skipped, members.stats.bytes_out)


def tar_bytes(files: dict[str, bytes], compression: str = "") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=f"w:{compression}") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def zip_bytes(files: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as archive:
        for name, data in files.items():
            archive.writestr(zipfile.ZipInfo(name), data, compress_type=method)
    return buf.getvalue()


def sevenzip_file(path: Path, files: dict[str, bytes], **kwargs: object) -> Path:
    with py7zr.SevenZipFile(path, "w", **kwargs) as archive:
        for name, data in files.items():
            archive.writestr(data, name)
    return path


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# --- formats ------------------------------------------------------------------------------


def test_a_plain_file_is_its_own_member(tmp_path: Path) -> None:
    path = write(tmp_path / "people.csv", rows())
    result = run(path, tmp_path)
    assert result.members == [("people.csv", rows(), False)]
    assert result.skipped == []


def _zstd(data: bytes) -> bytes:
    return zstd.compress(data)


FORMATS = {
    "zip": lambda f: zip_bytes(f),
    "zip-stored": lambda f: zip_bytes(f, zipfile.ZIP_STORED),
    "zip-bzip2": lambda f: zip_bytes(f, zipfile.ZIP_BZIP2),
    "zip-lzma": lambda f: zip_bytes(f, zipfile.ZIP_LZMA),
    "tar": lambda f: tar_bytes(f),
    "tar.gz": lambda f: tar_bytes(f, "gz"),
    "tar.bz2": lambda f: tar_bytes(f, "bz2"),
    "tar.xz": lambda f: tar_bytes(f, "xz"),
    "tar.zst": lambda f: _zstd(tar_bytes(f)),
}


@pytest.mark.parametrize("kind", sorted(FORMATS))
def test_archive_formats_are_found_by_content(tmp_path: Path, kind: str) -> None:
    files = {"export/people.csv": rows(5), "export/more/other.csv": rows(4, seed=1)}
    path = write(tmp_path / "upload.bin", FORMATS[kind](files))  # the name says nothing
    result = run(path, tmp_path, display_name="dump")
    assert sorted(result.members) == sorted(
        (f"dump/{name}", data, False) for name, data in files.items()
    )
    assert result.skipped == []


def test_7z(tmp_path: Path) -> None:
    files = {"a/people.csv": rows(5), "b.csv": rows(2, seed=1), "empty.csv": b""}
    path = sevenzip_file(tmp_path / "x.7z", files)
    result = run(path, tmp_path)
    assert sorted(result.members) == sorted((f"x.7z/{n}", d, False) for n, d in files.items())


@pytest.mark.parametrize(
    ("suffix", "compress"),
    [
        (".gz", gzip.compress),
        (".bz2", bz2.compress),
        (".xz", lzma.compress),
        (".zst", _zstd),
    ],
)
def test_single_compressed_files(tmp_path: Path, suffix: str, compress: object) -> None:
    data = rows(50)
    path = write(tmp_path / f"people.csv{suffix}", compress(data))  # type: ignore[operator]
    result = run(path, tmp_path)
    assert result.members == [(f"people.csv{suffix}/people.csv", data, False)]


def test_concatenated_gzip_members_are_read_whole(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv.gz", gzip.compress(rows(3)) + gzip.compress(rows(2, seed=1)))
    assert run(path, tmp_path).members[0][1] == rows(3) + rows(2, seed=1)


def test_nested_zip_in_tar_gz_in_7z(tmp_path: Path) -> None:
    inner_zip = zip_bytes({"patients.csv": rows(7)})
    targz = tar_bytes({"db/data.zip": inner_zip, "db/readme.txt": b"synthetic"}, "gz")
    path = sevenzip_file(tmp_path / "dump.7z", {"export.tar.gz": targz})
    parent = tmp_path / "work"
    parent.mkdir()
    seen = []
    with walk(path, temp_parent=parent) as members:
        for member in members:
            # Temporary disk: one file per open level, never the whole archive.
            files = [p for p in member.path.parent.rglob("*") if p.is_file()]
            assert len(files) <= member.depth
            seen.append((member.shown, member.depth, member.path.read_bytes()))
    assert sorted(seen) == [
        ("dump.7z/export.tar.gz/db/data.zip/patients.csv", 3, rows(7)),
        ("dump.7z/export.tar.gz/db/readme.txt", 2, b"synthetic"),
    ]
    assert members.stats.archives == 3
    assert list(parent.iterdir()) == []


def test_office_documents_are_leaves_and_names_do_not_make_archives(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    book.active.append(["naam", "nummer"])
    book.save(tmp_path / "sheet.xlsx")
    inner = (tmp_path / "sheet.xlsx").read_bytes()
    path = write(tmp_path / "d.zip", zip_bytes({"sheet.xlsx": inner, "fake.zip": rows(2)}))
    result = run(path, tmp_path)
    assert sorted(result.shown) == ["d.zip/fake.zip", "d.zip/sheet.xlsx"]


def test_unsupported_archive_formats_are_reported(tmp_path: Path) -> None:
    path = write(tmp_path / "x.zip", zip_bytes({"a.rar": b"Rar!\x1a\x07\x01\x00" + bytes(100)}))
    result = run(path, tmp_path)
    assert result.members == []
    assert result.reasons() == {"x.zip/a.rar": SkipReason.UNSUPPORTED_FORMAT}


# --- passwords ----------------------------------------------------------------------------


def aes_zip(path: Path, files: dict[str, bytes], password: bytes) -> Path:
    with pyzipper.AESZipFile(
        path, "w", compression=pyzipper.ZIP_DEFLATED, encryption=pyzipper.WZ_AES
    ) as archive:
        archive.setpassword(password)
        for name, data in files.items():
            archive.writestr(name, data)
    return path


@pytest.mark.parametrize(
    ("password", "expected"),
    [("geheim", None), ("fout", SkipReason.WRONG_PASSWORD), (None, SkipReason.NO_PASSWORD)],
)
def test_aes_zip(tmp_path: Path, password: str | None, expected: SkipReason | None) -> None:
    path = aes_zip(tmp_path / "leak.zip", {"p.csv": rows(4)}, b"geheim")
    result = run(path, tmp_path, password=password)
    if expected is None:
        assert result.members == [("leak.zip/p.csv", rows(4), False)]
    else:
        assert result.members == []
        assert result.reasons() == {"leak.zip/p.csv": expected}


def _crc_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
        table.append(c)
    return table


def zipcrypto(data: bytes, password: bytes, crc: int) -> bytes:
    """Traditional PKWARE encryption (the stdlib reads it but cannot write it)."""
    table = _crc_table()
    keys = [0x12345678, 0x23456789, 0x34567890]

    def update(byte: int) -> None:
        keys[0] = (keys[0] >> 8) ^ table[(keys[0] ^ byte) & 0xFF]
        keys[1] = ((keys[1] + (keys[0] & 0xFF)) * 134775813 + 1) & 0xFFFFFFFF
        keys[2] = (keys[2] >> 8) ^ table[(keys[2] ^ (keys[1] >> 24)) & 0xFF]

    for byte in password:
        update(byte)
    out = bytearray()
    for byte in bytes(range(7, 18)) + bytes([crc >> 24]):  # fixed "random" header
        k = keys[2] | 2
        out.append(byte ^ (((k * (k ^ 1)) >> 8) & 0xFF))
        update(byte)
    for byte in data:
        k = keys[2] | 2
        out.append(byte ^ (((k * (k ^ 1)) >> 8) & 0xFF))
        update(byte)
    return bytes(out)


def raw_zip(entries: list[dict[str, object]]) -> bytes:
    """A zip built field by field, so headers can say what a test wants them to say."""
    body, directory = b"", b""
    for e in entries:
        name = str(e["name"]).encode()
        data = bytes(e["data"])  # type: ignore[arg-type]
        fields = (
            20,
            e.get("flags", 0),
            e.get("method", 0),
            0,
            0x21,
            e["crc"],
            e.get("csize", len(data)),
            e["usize"],
            len(name),
            0,
        )
        offset = len(body)
        body += struct.pack("<4s5H3L2H", b"PK\x03\x04", *fields) + name + data
        directory += (
            struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, *fields, 0, 0, 0, 0, offset) + name
        )
    end = struct.pack(
        "<4s4H2LH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(directory), len(body), 0
    )
    return body + directory + end


@pytest.mark.parametrize(
    ("password", "expected"),
    [(b"geheim", None), (b"fout", SkipReason.WRONG_PASSWORD), (None, SkipReason.NO_PASSWORD)],
)
def test_zipcrypto(tmp_path: Path, password: bytes | None, expected: SkipReason | None) -> None:
    data = rows(6)
    crc = zlib.crc32(data)
    entry = {"name": "p.csv", "flags": 1, "crc": crc, "usize": len(data)}
    entry["data"] = zipcrypto(data, b"geheim", crc)
    path = write(tmp_path / "leak.zip", raw_zip([entry]))
    result = run(path, tmp_path, password=password)
    if expected is None:
        assert result.members == [("leak.zip/p.csv", data, False)]
    else:
        assert result.reasons() == {"leak.zip/p.csv": expected}


@pytest.mark.parametrize("header_encryption", [False, True])
@pytest.mark.parametrize(
    ("password", "expected"),
    [("geheim", None), ("fout", SkipReason.WRONG_PASSWORD), (None, SkipReason.NO_PASSWORD)],
)
def test_7z_password(
    tmp_path: Path, header_encryption: bool, password: str | None, expected: SkipReason | None
) -> None:
    files = {"p.csv": rows(5), "q.csv": rows(3, seed=2)}
    path = sevenzip_file(
        tmp_path / "leak.7z", files, password=SECRET, header_encryption=header_encryption
    )
    result = run(path, tmp_path, password=password)
    if expected is None:
        assert sorted(result.members) == sorted(
            (f"leak.7z/{n}", d, False) for n, d in files.items()
        )
        return
    assert result.members == []
    reasons = set(result.reasons().values())
    assert reasons == {expected}
    if header_encryption:  # names are encrypted too: only the archive can be named
        assert [s.shown for s in result.skipped] == ["leak.7z"]


# --- bombs and lying headers --------------------------------------------------------------

BOMB_LIMITS = ArchiveLimits(max_ratio=50, ratio_allowance=256 * KiB)


def test_zip_bomb_stops_at_the_ratio(tmp_path: Path) -> None:
    path = write(tmp_path / "bomb.zip", zip_bytes({"zeros.csv": bytes(20 * MiB), "ok.csv": rows()}))
    with zipfile.ZipFile(path) as zf:
        stored = zf.getinfo("zeros.csv").compress_size
    member_budget = 50 * stored + 256 * KiB
    result = run(path, tmp_path, limits=BOMB_LIMITS)
    # The bomb member is stopped by its own ratio, before it uses up the archive's budget,
    # so the member after it is still read.
    assert result.reasons() == {"bomb.zip/zeros.csv": SkipReason.RATIO}
    assert [m[0] for m in result.members] == ["bomb.zip/ok.csv"]
    assert result.bytes_out <= member_budget + MiB + len(rows())  # one chunk past at most


def test_nested_bomb_is_stopped_by_the_outer_budget(tmp_path: Path) -> None:
    # 42.zip in small: each innermost zip is within its own ratio; the nesting is not.
    limits = ArchiveLimits(max_ratio=50, ratio_allowance=2 * MiB)
    inner = zip_bytes({"zeros.bin": bytes(MiB)})
    middle = zip_bytes({f"inner{i}.zip": inner for i in range(8)})
    outer = write(tmp_path / "42.zip", zip_bytes({f"middle{i}.zip": middle for i in range(8)}))
    assert 50 * len(inner) + 2 * MiB > MiB  # each innermost archive alone is allowed
    result = run(outer, tmp_path, limits=limits)
    hits = [s for s in result.skipped if s.reason is SkipReason.RATIO]
    assert hits
    assert all("/inner" not in s.shown for s in hits)  # stopped by an enclosing archive
    assert result.bytes_out <= 50 * outer.stat().st_size + 2 * MiB + MiB
    assert len(result.members) < 64


def test_a_member_bigger_than_its_header_says_is_cut_at_the_claim(tmp_path: Path) -> None:
    data = b"a" * (4 * MiB)
    packed = zlib.compress(data)[2:-4]  # raw deflate
    entry = {
        "name": "liar.csv",
        "method": 8,
        "crc": zlib.crc32(data),
        "usize": 100,  # the lie
        "data": packed,
    }
    path = write(tmp_path / "liar.zip", raw_zip([entry]))
    result = run(path, tmp_path)
    assert result.reasons() == {"liar.zip/liar.csv": SkipReason.CORRUPT}
    assert result.bytes_out <= 100


def _streamed_zip(files: dict[str, bytes]) -> bytes:
    """A zip written to a pipe: sizes only in data descriptors after each member."""

    class Pipe(io.RawIOBase):
        def __init__(self) -> None:
            self.data = bytearray()

        def writable(self) -> bool:
            return True

        def write(self, b: object) -> int:
            chunk = bytes(b)  # type: ignore[call-overload]
            self.data += chunk
            return len(chunk)

    pipe = Pipe()
    with zipfile.ZipFile(pipe, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return bytes(pipe.data)


def test_damaged_streamed_zip_checks_sizes_on_the_bytes_produced(tmp_path: Path) -> None:
    # No central directory and no sizes in the local headers: only the produced bytes
    # can show that a member is too large.
    data = _streamed_zip({"big.csv": bytes(5 * MiB), "after.csv": rows(3)})
    assert data[6:8] == b"\x08\x00"  # sizes only in a data descriptor
    path = write(tmp_path / "s.zip", data[: data.index(b"PK\x01\x02")])  # no directory
    result = run(path, tmp_path, limits=ArchiveLimits(max_member_bytes=MiB))
    assert result.reasons()["s.zip/big.csv"] is SkipReason.MEMBER_TOO_LARGE
    assert result.members == [("s.zip/after.csv", rows(3), False)]


def test_declared_oversize_members_are_skipped_and_the_rest_read(tmp_path: Path) -> None:
    files = {"big.csv": b"x" * (2 * MiB), "small.csv": rows(2)}
    for name, data in {
        "t.tar": tar_bytes(files),
        "z.zip": zip_bytes(files),
    }.items():
        result = run(
            write(tmp_path / name, data), tmp_path, limits=ArchiveLimits(max_member_bytes=MiB)
        )
        assert result.reasons() == {f"{name}/big.csv": SkipReason.MEMBER_TOO_LARGE}
        assert result.shown == [f"{name}/small.csv"]


def test_total_bytes_limit_ends_the_walk(tmp_path: Path) -> None:
    files = {f"f{i}.csv": os.urandom(600 * KiB) for i in range(3)}
    path = write(tmp_path / "t.tar", tar_bytes(files))
    result = run(path, tmp_path, limits=ArchiveLimits(max_total_bytes=MiB))
    assert result.shown == ["t.tar/f0.csv"]
    assert list(result.reasons().values()) == [SkipReason.TOTAL_BYTES]
    assert result.bytes_out <= MiB + MiB


def test_decoder_memory_is_bounded(tmp_path: Path) -> None:
    limits = ArchiveLimits(max_decoder_memory=MiB)
    xz = write(tmp_path / "a.csv.xz", lzma.compress(rows(), preset=6))  # 8 MiB dictionary
    assert run(xz, tmp_path, limits=limits).reasons() == {"a.csv.xz": SkipReason.DECODER_MEMORY}
    seven = sevenzip_file(tmp_path / "a.7z", {"a.csv": rows()})  # LZMA2, 16 MiB dictionary
    assert run(seven, tmp_path, limits=limits).reasons() == {"a.7z": SkipReason.DECODER_MEMORY}
    packed = zip_bytes({"a.csv": rows()}, zipfile.ZIP_LZMA)  # an 8 MiB dictionary
    result = run(write(tmp_path / "l.zip", packed), tmp_path, limits=limits)
    assert result.reasons() == {"l.zip/a.csv": SkipReason.DECODER_MEMORY}
    assert run(tmp_path / "l.zip", tmp_path).shown == ["l.zip/a.csv"]


# --- unsafe entries -----------------------------------------------------------------------

UNSAFE = [
    "../escape.csv",
    "a/../../escape.csv",
    "/etc/escape.csv",
    "C:\\escape.csv",
    "..\\escape.csv",
]


def test_path_traversal_in_zip_is_skipped_and_never_written(tmp_path: Path) -> None:
    data = rows(2)
    entries = [
        {"name": n, "crc": zlib.crc32(data), "usize": len(data), "data": data} for n in UNSAFE
    ]
    entries.append(
        {"name": "ok/fine.csv", "crc": zlib.crc32(data), "usize": len(data), "data": data}
    )
    path = write(tmp_path / "evil.zip", raw_zip(entries))
    result = run(path, tmp_path)
    assert result.shown == ["evil.zip/ok/fine.csv"]
    assert [s.reason for s in result.skipped] == [SkipReason.UNSAFE_PATH] * len(UNSAFE)
    assert not list(tmp_path.rglob("escape.csv"))
    assert not Path("/etc/escape.csv").exists()


def test_path_traversal_in_tar_is_skipped(tmp_path: Path) -> None:
    files = dict.fromkeys(UNSAFE, rows(2)) | {"./ok.csv": rows(1)}
    path = write(tmp_path / "evil.tar", tar_bytes(files))
    result = run(path, tmp_path)
    assert result.shown == ["evil.tar/ok.csv"]
    assert [s.reason for s in result.skipped] == [SkipReason.UNSAFE_PATH] * len(UNSAFE)
    assert not list(tmp_path.rglob("escape.csv"))


def test_tar_links_and_special_files_are_never_created(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as archive:
        data = rows(2)
        info = tarfile.TarInfo("real.csv")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
        for name, kind in [
            ("sym.csv", tarfile.SYMTYPE),
            ("hard.csv", tarfile.LNKTYPE),
            ("chr", tarfile.CHRTYPE),
            ("blk", tarfile.BLKTYPE),
            ("fifo", tarfile.FIFOTYPE),
        ]:
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = "/etc/passwd" if kind == tarfile.SYMTYPE else "real.csv"
            archive.addfile(info)
    path = write(tmp_path / "links.tar", buf.getvalue())
    parent = tmp_path / "work"
    parent.mkdir()
    with walk(path, temp_parent=parent) as members:
        for member in members:
            assert member.shown == "links.tar/real.csv"
            for entry in member.path.parent.iterdir():
                assert stat.S_ISREG(entry.lstat().st_mode)
    assert {s.shown: s.reason for s in members.skipped} == {
        "links.tar/sym.csv": SkipReason.LINK,
        "links.tar/hard.csv": SkipReason.LINK,
        "links.tar/chr": SkipReason.SPECIAL_FILE,
        "links.tar/blk": SkipReason.SPECIAL_FILE,
        "links.tar/fifo": SkipReason.SPECIAL_FILE,
    }


def test_zip_symlink_entries_are_skipped(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        info = zipfile.ZipInfo("link.csv")
        info.create_system = 3
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, "/etc/passwd")
        archive.writestr("real.csv", rows(1))
    result = run(write(tmp_path / "l.zip", buf.getvalue()), tmp_path)
    assert result.shown == ["l.zip/real.csv"]
    assert result.reasons() == {"l.zip/link.csv": SkipReason.LINK}


def test_7z_symlink_entries_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "real.csv").write_bytes(rows(2))
    (tmp_path / "link.csv").symlink_to("/etc/passwd")
    path = tmp_path / "l.7z"
    with py7zr.SevenZipFile(path, "w") as archive:
        archive.write(tmp_path / "real.csv", "real.csv")
        archive.write(tmp_path / "link.csv", "link.csv")
    result = run(path, tmp_path)
    assert result.members == [("l.7z/real.csv", rows(2), False)]
    assert result.reasons() == {"l.7z/link.csv": SkipReason.LINK}


def test_control_characters_in_names_are_not_shown(tmp_path: Path) -> None:
    path = write(tmp_path / "c.zip", zip_bytes({"a\x1b[31mred\x07.csv": rows(1)}))
    assert run(path, tmp_path).shown == ["c.zip/a?[31mred?.csv"]


# --- counts and nesting -------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_too_many_members(tmp_path: Path, kind: str) -> None:
    files = {f"f{i:02d}.csv": rows(1, seed=i) for i in range(20)}
    path = write(tmp_path / f"many.{kind}", FORMATS[kind](files))
    result = run(path, tmp_path, limits=ArchiveLimits(max_members=5))
    assert len(result.members) == 5
    assert list(result.reasons().values()) == [SkipReason.TOO_MANY_MEMBERS]


def test_too_deep_nesting(tmp_path: Path) -> None:
    data = zip_bytes({"deepest.csv": rows(1)})
    for level in range(3):
        data = zip_bytes({f"level{level}.zip": data, f"file{level}.csv": rows(1, seed=level)})
    path = write(tmp_path / "deep.zip", data)
    result = run(path, tmp_path, limits=ArchiveLimits(max_depth=3))
    assert sorted(result.shown) == [
        "deep.zip/file2.csv",
        "deep.zip/level2.zip/file1.csv",
        "deep.zip/level2.zip/level1.zip/file0.csv",
    ]
    assert result.reasons() == {"deep.zip/level2.zip/level1.zip/level0.zip": SkipReason.TOO_DEEP}
    assert len(run(path, tmp_path).members) == 4


# --- damage -------------------------------------------------------------------------------


def test_truncated_tar_gz_yields_what_comes_before_the_damage(tmp_path: Path) -> None:
    files = {f"part{i}.csv": rows(20000, seed=i) for i in range(3)}
    data = tar_bytes(files, "gz")
    path = write(tmp_path / "cut.tar.gz", data[: int(len(data) * 0.8)])
    result = run(path, tmp_path)
    complete = [m for m in result.members if not m[2]]
    assert complete[:2] == [
        (f"cut.tar.gz/part{i}.csv", files[f"part{i}.csv"], False) for i in range(2)
    ]
    partial = [m for m in result.members if m[2]]
    assert [m[0] for m in partial] == ["cut.tar.gz/part2.csv"]
    assert files["part2.csv"].startswith(partial[0][1])
    assert result.reasons() == {"cut.tar.gz": SkipReason.TRUNCATED}


def test_truncated_zip_is_read_from_its_local_headers(tmp_path: Path) -> None:
    files = {f"part{i}.csv": rows(3000, seed=i) for i in range(3)}
    data = zip_bytes(files)
    start3 = data.index(b"PK\x03\x04", data.index(b"part2.csv") - 40)
    path = write(tmp_path / "cut.zip", data[: start3 + 30 + 9 + 2000])  # inside part2's data
    result = run(path, tmp_path)
    assert result.members[:2] == [
        (f"cut.zip/part{i}.csv", files[f"part{i}.csv"], False) for i in range(2)
    ]
    shown, content, partial = result.members[2]
    assert (shown, partial) == ("cut.zip/part2.csv", True)
    assert files["part2.csv"].startswith(content) and content
    assert result.reasons() == {"cut.zip": SkipReason.TRUNCATED}


def test_oversized_tar_extended_header_is_refused(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.PAX_FORMAT) as archive:
        data = rows(1)
        first = tarfile.TarInfo("first.csv")
        first.size = len(data)
        archive.addfile(first, io.BytesIO(data))
        huge = tarfile.TarInfo("second.csv")
        huge.pax_headers = {"comment": "x" * (2 * MiB)}  # read into memory whole by tarfile
        huge.size = len(data)
        archive.addfile(huge, io.BytesIO(data))
    result = run(write(tmp_path / "pax.tar.gz", buf.getvalue()), tmp_path)
    assert result.shown == ["pax.tar.gz/first.csv"]
    assert result.reasons() == {"pax.tar.gz": SkipReason.CORRUPT}


def test_a_garbled_tar_header_is_reported_not_taken_for_the_end(tmp_path: Path) -> None:
    data = bytearray(tar_bytes({"a.csv": rows(3), "b.csv": rows(3, seed=1)}))
    second = 512 + 512  # header, one block of data
    data[second + 148 : second + 156] = b"0000000\x00"  # a wrong checksum
    result = run(write(tmp_path / "g.tar", bytes(data)), tmp_path)
    assert result.shown == ["g.tar/a.csv"]
    assert result.reasons() == {"g.tar": SkipReason.CORRUPT}


def test_corrupt_member_is_skipped_and_the_others_read(tmp_path: Path) -> None:
    files = {"a.csv": rows(50), "b.csv": rows(50, seed=1), "c.csv": rows(50, seed=2)}
    data = bytearray(zip_bytes(files, zipfile.ZIP_STORED))
    at = data.index(rows(50, seed=1))
    data[at + 10] ^= 0xFF  # the CRC no longer matches
    result = run(write(tmp_path / "bad.zip", bytes(data)), tmp_path)
    assert result.shown == ["bad.zip/a.csv", "bad.zip/c.csv"]
    assert result.reasons() == {"bad.zip/b.csv": SkipReason.CORRUPT}


def test_garbage_with_archive_magic(tmp_path: Path) -> None:
    for name, head in [
        ("g.zip", b"PK\x03\x04"),
        ("g.7z", b"7z\xbc\xaf\x27\x1c"),
        ("g.gz", b"\x1f\x8b"),
    ]:
        path = write(tmp_path / name, head + os.urandom(3000))
        result = run(path, tmp_path)
        assert result.members == []
        assert [s.shown for s in result.skipped] == [name]
        assert result.skipped[0].archive
        assert result.skipped[0].reason in (SkipReason.CORRUPT, SkipReason.TRUNCATED)


def test_truncated_7z_is_reported(tmp_path: Path) -> None:
    data = sevenzip_file(tmp_path / "x.7z", {"a.csv": rows(100)}).read_bytes()
    path = write(tmp_path / "cut.7z", data[: len(data) // 2])
    assert run(path, tmp_path).reasons() == {"cut.7z": SkipReason.TRUNCATED}


# --- clean-up -----------------------------------------------------------------------------


def test_workdir_is_private_and_each_member_is_removed_when_the_consumer_moves_on(
    tmp_path: Path,
) -> None:
    path = write(tmp_path / "t.zip", zip_bytes({f"f{i}.csv": rows(2, seed=i) for i in range(3)}))
    previous: Member | None = None
    with walk(path, temp_parent=tmp_path) as members:
        for member in members:
            assert stat.S_IMODE(member.path.parent.stat().st_mode) == 0o700
            assert stat.S_IMODE(member.path.stat().st_mode) == 0o600
            assert member.path.parent.name.startswith(WORKDIR_PREFIX)
            if previous is not None:
                assert not previous.path.exists()
            previous = member
    assert previous is not None and not previous.path.parent.exists()


@pytest.mark.parametrize("kind", ["zip", "7z", "tar.gz"])
def test_early_close_removes_the_workdir(tmp_path: Path, kind: str) -> None:
    files = {f"f{i}.csv": rows(2, seed=i) for i in range(4)}
    if kind == "7z":
        path = sevenzip_file(tmp_path / "x.7z", files)
    else:
        path = write(tmp_path / f"x.{kind}", FORMATS[kind](files))
    threads = threading.active_count()
    with walk(path, temp_parent=tmp_path) as members:
        member = next(iter(members))
        workdir = member.path.parent
        assert workdir.exists()
    assert not workdir.exists()
    deadline = time.monotonic() + 5
    while threading.active_count() > threads and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() == threads  # the 7z worker is gone


def test_an_exception_in_the_consumer_removes_the_workdir(tmp_path: Path) -> None:
    path = write(tmp_path / "x.tar", tar_bytes({"a.csv": rows(), "b.csv": rows()}))
    with pytest.raises(ZeroDivisionError), walk(path, temp_parent=tmp_path) as members:
        for _ in members:
            raise ZeroDivisionError
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(WORKDIR_PREFIX)]


def test_a_generator_dropped_without_with_cleans_up(tmp_path: Path) -> None:
    path = write(tmp_path / "x.zip", zip_bytes({"a.csv": rows(), "b.csv": rows()}))
    iterator = iter(walk(path, temp_parent=tmp_path))
    workdir = next(iterator).path.parent
    iterator.close()  # what garbage collection does to an abandoned generator
    assert not workdir.exists()


SIGTERM_CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from matchers.archives import Terminated, sigterm_raises, walk

    try:
        with sigterm_raises(), walk(Path(sys.argv[1]), temp_parent=Path(sys.argv[2])) as walk_:
            for member in walk_:
                print(member.path.parent, flush=True)
                time.sleep(60)  # a slow reader: the SIGTERM comes now
    except Terminated:
        sys.exit(143)
    """
)


@pytest.mark.parametrize("kind", ["tar.gz", "7z"])
def test_sigterm_mid_walk_leaves_no_temporary_directory(tmp_path: Path, kind: str) -> None:
    files = {f"f{i}.csv": rows(200, seed=i) for i in range(3)}
    if kind == "7z":
        path = sevenzip_file(tmp_path / "x.7z", files)
    else:
        path = write(tmp_path / "x.tar.gz", tar_bytes(files, "gz"))
    parent = tmp_path / "work"
    parent.mkdir()
    script = write(tmp_path / "child.py", SIGTERM_CHILD.encode())
    env = dict(os.environ, PYTHONPATH=str(REPO))
    with subprocess.Popen(
        [sys.executable, str(script), str(path), str(parent)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    ) as child:
        try:
            assert child.stdout is not None and child.stderr is not None
            workdir = Path(child.stdout.readline().strip())
            assert workdir.is_dir() and workdir.parent == parent
            assert any(workdir.iterdir())  # a member is on disk right now
            child.send_signal(signal.SIGTERM)
            assert child.wait(timeout=20) == 143, child.stderr.read()
        finally:
            if child.poll() is None:
                child.kill()
    assert not workdir.exists()
    assert list(parent.iterdir()) == []


def test_stale_workdirs_of_dead_processes_are_removed(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    stale = tmp_path / f"{WORKDIR_PREFIX}{dead.stdout.strip()}-abc"
    stale.mkdir()
    (stale / "0000001.csv").write_bytes(rows())
    live = tmp_path / f"{WORKDIR_PREFIX}{os.getpid()}-def"
    live.mkdir()
    assert remove_stale_workdirs(tmp_path) == 1
    assert not stale.exists() and live.exists()


# --- the contract -------------------------------------------------------------------------


def test_skip_reasons_are_fixed_phrases_without_names(tmp_path: Path) -> None:
    name = "Jan_de_Vries_uitslag.csv"
    path = write(tmp_path / "x.tar", tar_bytes({f"../{name}": rows(), name: b"x" * 2048}))
    result = run(path, tmp_path, limits=ArchiveLimits(max_member_bytes=1024))
    assert len(result.skipped) == 2
    for skipped in result.skipped:
        assert isinstance(skipped.reason, SkipReason)
        assert "Vries" not in skipped.reason.value
        assert "Vries" in skipped.shown  # the name is there, apart, for the caller


def test_bad_limits_and_inputs(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        ArchiveLimits(max_ratio=0.5)
    with pytest.raises(ConfigError):
        ArchiveLimits(max_members=0)
    with pytest.raises(UnreadableDatasetError), walk(tmp_path / "missing.zip") as members:
        list(members)
    with pytest.raises(UnreadableDatasetError), walk(tmp_path) as members:
        list(members)
    path = write(tmp_path / "a.csv", rows())
    members = walk(path, password=SECRET)
    assert SECRET not in repr(members)
    list(members)
    with pytest.raises(RuntimeError):
        iter(members)
