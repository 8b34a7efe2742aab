"""Archives: walking whatever a data leaker posts, so the table readers can read what is inside.

Owns recognising archives by content (zip, tar, tar.gz/.bz2/.xz/.zst, 7z, and single
.gz/.bz2/.xz/.zst files), opening them (with the password a leaker published, for
ZipCrypto and AES zips and 7z), nesting to any depth within a limit, and handing out
each leaf file, one at a time, as a private temporary file with the path to show for it
("dump.7z/export.tar.gz/db/patients.csv"). Everything not handed out is reported, with a
fixed reason phrase (:class:`SkipReason`) and, in a separate field, its member path.
Module per format: :mod:`.zips`, :mod:`.tars`, :mod:`.sevenzip`, :mod:`.streams`; the
shared rules are in :mod:`.layer`, the walk in :mod:`.walker`, clean-up in :mod:`.cleanup`.

Threat model
------------
The file comes from criminals, over Tor; assume it was built to hurt the tool that opens
it. What it can try, and what stops it:

* **Writing outside the work directory** (``../../etc/cron.d/x``, ``/abs/path``,
  ``C:\\x``, a symlink then a file through it, a hardlink to a file of ours): member names
  are never used as paths. Every member is written to a new file with a counter name,
  opened ``O_CREAT|O_EXCL|O_NOFOLLOW`` in a directory only we can enter (0700, files
  0600). Unsafe names are reported (``UNSAFE_PATH``) and not read; links, devices, FIFOs
  and sockets are reported and never created or followed (tar, zip Unix modes, 7z).
* **Decompression bombs** (a 10 MB zip of 10 GB of zeros; 42.zip's nested layers each
  harmless alone; overlapping zip entries sharing one kernel; headers that understate
  sizes): every byte actually produced is counted *before* it is written, against the
  walk's total, the member's size limit, and the budget of every archive around it
  (``max_ratio`` x its own size plus an allowance). The innermost limit ends that archive;
  an outer one ends the outer archive, so a bomb costs at most one chunk (1 MiB) past a
  limit. Declared sizes only ever skip a member early, never admit one.
* **Memory exhaustion**: decoders read and return bounded chunks; xz, zstd and 7z
  dictionaries above ``max_decoder_memory`` are refused before decoding; tar extended
  headers are capped at 1 MiB; a zip's central directory is only parsed when it holds no
  more than ``max_members`` records, else the archive is scanned entry by entry; tar
  headers are not accumulated.
* **CPU exhaustion**: skipped data that must still be decoded (tar.gz, zips whose local
  headers do not give sizes) is charged like kept data; for 7z, where py7zr decodes the
  solid block up to each wanted member, the declared work is checked against the
  budgets before starting (py7zr stops each member at its declared size).
* **Too many entries / too deep nesting**: ``max_members`` counts every entry listed,
  ``max_depth`` every archive opened inside another.
* **Broken archives** (truncated downloads, garbage): whatever can be read is still
  handed out, a member cut by the damage is handed out ``partial``; a zip without its
  central directory is read from its local headers. Library exceptions on hostile input
  are caught at each format's boundary and reported (``CORRUPT``, ``TRUNCATED``).
* **Personal data in names and errors**: skip reasons and error messages are fixed
  phrases; member paths (which may name a person) are only in ``Member.shown`` and
  ``Skipped.shown``, for the caller to place; names are shown without control characters.
* **Leftover plaintext on disk**: each member file is deleted when the consumer moves on;
  the work directory is removed on normal end, on exceptions, on an early ``close()`` and,
  with :func:`sigterm_raises`, on SIGTERM; :func:`remove_stale_workdirs` removes what a
  SIGKILL left behind.

Not covered: vulnerabilities inside the decoders themselves (zlib, liblzma, libzstd,
py7zr's pure-Python parsers); the 7z header, which py7zr decodes in memory (it bounds it
to 256 MiB); and documents (xlsx, docx) which are handed to the readers unopened.
"""

from __future__ import annotations

from matchers.archives.cleanup import Terminated, remove_stale_workdirs, sigterm_raises
from matchers.archives.model import ArchiveLimits, Member, Skipped, SkipReason, WalkStats
from matchers.archives.walker import Walk, walk

__all__ = [
    "ArchiveLimits",
    "Member",
    "SkipReason",
    "Skipped",
    "Terminated",
    "Walk",
    "WalkStats",
    "remove_stale_workdirs",
    "sigterm_raises",
    "walk",
]
