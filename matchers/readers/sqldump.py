"""SQL dumps as leakers post them: mysqldump / MariaDB and pg_dump text output, streamed.

A stolen database is most often posted as the dump its own tools wrote. This module reads
the rows out of such a file statement by statement, in bounded memory, without a database:
a 100 MB single-line extended ``INSERT`` is tokenised tuple by tuple over 1 MiB reads and
never held whole. Only ``CREATE TABLE`` (for column names), ``INSERT``/``REPLACE`` and
``COPY ... FROM stdin`` matter; every other statement is skipped, quote- and comment-aware.

Format rules handled
    Statements end at ``;`` outside strings, quoted identifiers and comments (``-- ...``
    and ``#`` line comments, ``/* */`` blocks, MySQL ``/*!40101 ... */`` conditional
    comments, which are skipped like comments). MySQL ``DELIMITER xx`` lines change the
    terminator (routines and triggers); psql meta-commands (``\\connect``, ``\\restrict``)
    end at the line end. PostgreSQL dollar quotes (``$$ ... $$``, ``$tag$ ... $tag$``) in
    function bodies are skipped whole.

    ``INSERT [LOW_PRIORITY|DELAYED|HIGH_PRIORITY] [IGNORE] [INTO] t [(cols)] VALUES (...),
    (...);`` and ``REPLACE INTO``: columns come from the column list, else from an earlier
    ``CREATE TABLE`` of that table when the widths agree, else ``column_1..N``. Trailing
    clauses (``ON DUPLICATE KEY UPDATE``, ``ON CONFLICT``) are skipped. Names may be
    schema-qualified and quoted with backticks, double quotes or brackets; a table name is
    handed out unquoted and dot-joined (``shop.klanten``).

    Values: MySQL strings in single or double quotes with backslash escapes (``\\' \\" \\\\
    \\n \\r \\t \\b \\0 \\Z``; ``\\%`` and ``\\_`` keep their backslash) and doubled quotes;
    charset introducers (``_binary '...'``, ``_utf8mb4'...'``, ``N'...'``); ``0x..`` and
    ``X'..'`` hex (decoded as text, UTF-8 with the cp1252 fallback), ``b'0101'`` bits;
    numbers (sign, decimals, exponent) as written; ``NULL`` and ``DEFAULT`` as null; other
    bare words (``true``, ``CURRENT_TIMESTAMP``, ``NOW()``) as written. PostgreSQL strings
    are standard-conforming (backslash is a plain character, ``''`` is a quote) unless the
    dump says ``SET standard_conforming_strings = off``; ``E'...'`` strings take
    backslash escapes including octal, ``\\xHH``, ``\\uXXXX`` and ``\\UXXXXXXXX``;
    ``::type`` casts are dropped.

    ``COPY t (cols) FROM stdin;`` blocks (pg_dump's default): one row per line up to a line
    ``\\.``, fields split on TAB (or the ``DELIMITER`` option), ``\\N`` (or the ``NULL``
    option) is null, backslash escapes ``\\t \\n \\r \\b \\f \\v \\\\``, octal and ``\\xHH``
    (runs of byte escapes are decoded as UTF-8). CSV and binary COPY are not read: their
    lines are counted as skipped.

Broken input
    Nothing in a dump raises except an unreadable file (``UnreadableDatasetError``, also
    when not a single row could be read although some were tried). A tuple or line that
    cannot be parsed is skipped and counted in :class:`~matchers.readers.base.ReadStats`
    with a fixed phrase, and reading goes on with the next tuple or statement: ``malformed
    row``, ``truncated row`` (the file ends inside it), ``record too long`` (longer than
    ``ReaderLimits.max_record_bytes`` characters: read past, never parsed), ``wrong number
    of values``, ``too many columns``, ``malformed INSERT statement``, ``malformed COPY
    statement``, ``malformed CREATE TABLE statement``, ``unsupported COPY format``.
    Messages and reasons never hold a value from the file, only the file name, counts and
    table/column names.

Not handled
    SQL Server scripts are no goal (bracketed names, ``INSERT`` without ``INTO`` and
    ``N'..'`` parse; ``GO`` batches and ``CAST(0x... AS DateTime)`` values do not), nor are
    SQLite ``.dump`` values built with ``replace(..., char(10))``. ``INSERT ... SET`` and
    ``INSERT ... SELECT`` hold nothing literal and count as malformed INSERT statements.
    Nested ``/* /* */ */`` comments, dollar-quoted *values*, ``;`` inside COPY option
    strings, and expressions in values beyond a bare word, a cast or a call without quoted
    arguments (such a tuple is a malformed row).
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import re
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import pyarrow as pa

from matchers.errors import UnreadableDatasetError
from matchers.readers.base import (
    MAX_COLUMNS,
    ReaderLimits,
    ReadStats,
    TableBatch,
    TableReader,
    gc_paused,
    unique_names,
)
from matchers.readers.jsonlines import open_text
from matchers.readers.sniff import Encoding, decode, detect_encoding, read_head_or_fail

__all__ = [
    "CHUNK_CHARS",
    "MYSQL",
    "POSTGRESQL",
    "SqlDumpReader",
    "SqlRows",
    "parse_sql",
    "read_sql_dump",
    "sniff_sql",
]

MYSQL = "mysql"
POSTGRESQL = "postgresql"
CHUNK_CHARS = 1 << 20
HEAD_BYTES = 64 * 1024
_MAX_TABLES = 10_000

# Reasons counted in ReadStats: fixed phrases, never a value.
_TOO_LONG = "record too long"
_MALFORMED_ROW = "malformed row"
_TRUNCATED = "truncated row"
_WIDTH = "wrong number of values"
_TOO_WIDE = "too many columns"
_BAD_INSERT = "malformed INSERT statement"
_BAD_COPY = "malformed COPY statement"
_BAD_CREATE = "malformed CREATE TABLE statement"
_COPY_FORMAT = "unsupported COPY format"


class SqlRows(NamedTuple):
    """A batch of rows of one table, in file order.

    ``first_record`` numbers the rows handed out for ``table``, 1-based and without gaps
    (skipped rows take no number), so record N of a table is the N-th row read from it.
    """

    table: str
    columns: list[str]
    rows: list[list[str | None]]
    first_record: int


# --------------------------------------------------------------------------- grammar

_IDENT = r"(?:`(?:[^`]|``)++`|\"(?:[^\"]|\"\")++\"|\[[^\]]++\]|[^\W\d][\w$]*+)"
_QNAME = rf"{_IDENT}(?:\s*+\.\s*+{_IDENT}){{0,2}}+"
_COLS = rf"\s*+{_IDENT}(?:\s*+,\s*+{_IDENT})*+\s*+"
_IDENT_RE = re.compile(_IDENT)

_INSERT_HEAD = re.compile(
    r"(?i:INSERT|REPLACE)(?:\s++(?i:LOW_PRIORITY|DELAYED|HIGH_PRIORITY|IGNORE)\b)*+"
    rf"(?:\s++(?i:INTO)\b)?\s*+({_QNAME})\s*+(?:\(({_COLS})\)\s*+)?"
    r"(?:(?i:OVERRIDING)\s++(?i:SYSTEM|USER)\s++(?i:VALUE)\s++)?(?i:VALUES?)\b"
)
_CREATE_HEAD = re.compile(
    r"(?i:CREATE)\s++(?:(?i:OR)\s++(?i:REPLACE)\s++)?(?:(?i:GLOBAL|LOCAL)\s++)?"
    r"(?:(?i:TEMPORARY|TEMP|UNLOGGED)\s++)?(?i:TABLE)\s++"
    rf"(?:(?i:IF)\s++(?i:NOT)\s++(?i:EXISTS)\s++)?({_QNAME})\s*+\("
)
_COPY_HEAD = re.compile(
    rf"(?i:COPY)\s++({_QNAME})\s*+(?:\(({_COLS})\)\s*+)?(?i:FROM)\s++(?i:STDIN)\b([^;]*+);"
)
_COPY_LOOSE = re.compile(r"(?i:COPY)\b[^;]*?\b(?i:FROM)\s++(?i:STDIN)\b[^;]*+;")
_COPY_UNSUPPORTED = re.compile(r"(?i)\b(?:csv|binary)\b")
_COPY_DELIMITER = re.compile(r"(?i)\bDELIMITER\s+(?:AS\s+)?(E?)'((?:[^']|'')*)'")
_COPY_NULL = re.compile(r"(?i)\bNULL\s+(?:AS\s+)?'((?:[^']|'')*)'")
_KEYWORD = re.compile(r"(?i)(INSERT|REPLACE|CREATE|COPY|SET|DELIMITER)\b")
_SET_SCS = re.compile(
    r"(?i)SET\s+(?:SESSION\s+|LOCAL\s+)?standard_conforming_strings\s*(?:=|TO)\s*'?(\w+)"
)
_DELIMITER_LINE = re.compile(r"(?i)DELIMITER[ \t]++(\S++)[^\n]*+")
_DOLLAR_TAG = re.compile(r"\$(?:[^\W\d]\w*+)?\$")
_SPACE = re.compile(r"\s*+")
_NOT_COLUMNS = frozenset((
    "PRIMARY", "KEY", "INDEX", "UNIQUE", "CONSTRAINT", "FOREIGN", "FULLTEXT", "SPATIAL",
    "CHECK", "EXCLUDE", "LIKE", "PERIOD",
))  # fmt: skip


def _string(quote: str, backslash: bool) -> str:
    """A quoted literal; possessive so a broken file cannot make the regex backtrack."""
    if backslash:
        return rf"{quote}[^{quote}\\]*+(?:(?:\\[\s\S]|{quote}{quote})[^{quote}\\]*+)*+{quote}"
    return rf"{quote}[^{quote}]*+(?:{quote}{quote}[^{quote}]*+)*+{quote}"


_NUMBER = r"[-+]?(?:\d++(?:\.\d*+)?|\.\d++)(?:[eE][-+]?\d++)?"
_HEXNUM = r"0[xX][0-9a-fA-F]*+|0[bB][01]++"
_XSTR = r"[xX]'[0-9a-fA-F\s]*+'|[bB]'[01]*+'"
_WORD = r"[A-Za-z_][\w.$]*+(?:\s*+\([^()'\"]*+\))?"
_CAST = r"(?:\s*+::\s*+[A-Za-z_][\w ]*+(?:\(\s*+\d++(?:\s*+,\s*+\d++)?\s*+\))?(?:\[\])*+)*+"


def _value_pattern(mysql: bool, backslash: bool) -> str:
    """One literal value; alternatives ordered by how common they are in dumps."""
    sq = _string("'", backslash)
    if mysql:
        intro = rf"_[A-Za-z0-9]++\s*+(?:{sq}|{_HEXNUM}|{_XSTR})|[nN]{sq}"
        alts = [sq, _HEXNUM, _NUMBER, _XSTR, intro, _string('"', True), _WORD]
        return "(?>" + "|".join(alts) + ")"
    esq = _string("'", True)
    alts = [sq, _NUMBER, f"[eE]{esq}", _XSTR, f"[nN]{sq}", _WORD]
    return "(?>" + "|".join(alts) + ")" + _CAST


_ESCAPES = {"0": "\0", "b": "\b", "n": "\n", "r": "\r", "t": "\t", "Z": "\x1a"}
_MY_SQ_ESC = re.compile(r"\\([\s\S])|''")
_MY_DQ_ESC = re.compile(r"\\([\s\S])|\"\"")
_PG_E_ESC = re.compile(
    r"((?:\\(?:[0-7]{1,3}|x[0-9a-fA-F]{1,2}))+)|\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})"
    r"|\\([\s\S])|''"
)
_COPY_ESC = re.compile(r"((?:\\(?:[0-7]{1,3}|x[0-9a-fA-F]{1,2}))+)|\\([\s\S])")
_C_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def _mysql_escape(match: re.Match[str]) -> str:
    char = match.group(1)
    if char is None:
        return match.group(0)[0]  # a doubled quote
    if char in "%_":
        return "\\" + char  # MySQL keeps these for LIKE patterns
    return _ESCAPES.get(char, char)


def _byte_run(run: str) -> str:
    """Octal/hex byte escapes, decoded together so a UTF-8 sequence becomes one char."""
    data = bytearray()
    for part in run.split("\\")[1:]:
        data.append(int(part[1:], 16) if part[0] == "x" else int(part, 8) & 0xFF)
    return decode(bytes(data))


def _code_point(digits: str) -> str:
    point = int(digits, 16)
    if point > 0x10FFFF or 0xD800 <= point <= 0xDFFF:
        return "\ufffd"  # a lone surrogate would break every UTF-8 writer later on
    return chr(point)


def _pg_escape(match: re.Match[str]) -> str:
    run, u4, u8, char = match.groups()
    if run is not None:
        return _byte_run(run)
    if u4 is not None or u8 is not None:
        return _code_point(u4 or u8)
    if char is None:
        return "'"
    return _C_ESCAPES.get(char, char)


def _copy_escape(match: re.Match[str]) -> str:
    run, char = match.groups()
    if run is not None:
        return _byte_run(run)
    return _C_ESCAPES.get(char, char)


_INTRODUCER = re.compile(r"_[A-Za-z0-9]++\s*+(?=['\"]|0[xXbB]|[xXbB]')")


def _hex_text(digits: str) -> str:
    digits = "".join(digits.split())
    if len(digits) % 2:
        digits = "0" + digits
    return decode(bytes.fromhex(digits))


def _bits_text(bits: str) -> str:
    return str(int(bits, 2)) if bits else ""


def _quoted_inner(tok: str, start: int) -> str:
    """The text between the quote at ``start`` and the last quote (casts follow it)."""
    end = len(tok) - 1 if tok[-1] == "'" else tok.rindex("'")
    return tok[start + 1 : end]


def _other_value(tok: str, mysql: bool, backslash: bool) -> str | None:
    """The rare literal forms: introducers, hex/bit strings, words, casts."""
    if not mysql and "::" in tok and tok[0] != "'" and "'" not in tok:
        tok = tok.split("::", 1)[0].rstrip()
    first = tok[0]
    if first == "_":
        intro = _INTRODUCER.match(tok)
        if intro is not None:  # else a bare word such as _foo
            return _convert(tok[intro.end() :], mysql, backslash)
    if len(tok) > 1 and tok[1] == "'":
        inner = _quoted_inner(tok, 1)
        low = first.lower()
        if low == "x":
            return _hex_text(inner)
        if low == "b":
            return _bits_text(inner)
        if low == "e":
            return _PG_E_ESC.sub(_pg_escape, inner) if "\\" in inner or "''" in inner else inner
        return _convert(tok[1:], mysql, backslash)  # N'...'
    if first == "0" and len(tok) > 1 and tok[1] in "xXbB":
        return _hex_text(tok[2:]) if tok[1] in "xX" else _bits_text(tok[2:])
    if first == '"':
        inner = tok[1:-1]
        return _MY_DQ_ESC.sub(_mysql_escape, inner) if "\\" in inner or '""' in inner else inner
    upper = tok.upper()
    if upper in ("NULL", "DEFAULT"):
        return None
    return tok


def _convert(tok: str, mysql: bool, backslash: bool) -> str | None:
    if tok[0] == "'":
        inner = _quoted_inner(tok, 0)
        if mysql:
            return _MY_SQ_ESC.sub(_mysql_escape, inner) if "\\" in inner or "''" in inner else inner
        if backslash:
            return _PG_E_ESC.sub(_pg_escape, inner) if "\\" in inner or "''" in inner else inner
        return inner.replace("''", "'")
    return _other_value(tok, mysql, backslash)


def _make_converter(mysql: bool, backslash: bool) -> Callable[[str], str | None]:
    """The per-value function of the hot loop: plain strings and numbers stay cheap."""
    sub_my = _MY_SQ_ESC.sub
    sub_pg = _PG_E_ESC.sub

    if mysql:

        def mysql_value(tok: str) -> str | None:
            first = tok[0]
            if first == "'":
                inner = tok[1:-1]
                if "\\" in inner or "''" in inner:
                    return sub_my(_mysql_escape, inner)
                return inner
            if first in "123456789-+." or (first == "0" and tok[1:2] not in ("x", "X", "b", "B")):
                return tok
            if tok == "NULL":
                return None
            return _other_value(tok, True, True)

        return mysql_value

    def pg_value(tok: str) -> str | None:
        first = tok[0]
        if first == "'":
            inner = tok[1:-1] if tok[-1] == "'" else _quoted_inner(tok, 0)
            if backslash and ("\\" in inner or "''" in inner):
                return sub_pg(_pg_escape, inner)
            return inner.replace("''", "'") if "''" in inner else inner
        if first in "0123456789-+." and ":" not in tok:
            return tok
        if tok == "NULL":
            return None
        return _other_value(tok, False, backslash)

    return pg_value


@dataclass(frozen=True)
class _Grammar:
    """Compiled regexes and the value converter for one dialect and string mode."""

    tuple_re: re.Pattern[str]
    value_re: re.Pattern[str]
    convert: Callable[[str], str | None]
    def_token: re.Pattern[str]
    tuple_plain: re.Pattern[str]


@functools.lru_cache(maxsize=4)
def _grammar(mysql: bool, backslash: bool) -> _Grammar:
    value = _value_pattern(mysql, backslash)
    # One whole tuple per match: group 1 spans its values, group 2 is the comma after it.
    # Without a comma the tuple must be followed by a visible character, so a tuple cut
    # at the end of the buffer is retried with more text rather than taken as the last.
    tuple_re = re.compile(
        rf"\s*+\(\s*+(?:({value}(?:\s*+,\s*+{value})*+)\s*+)?\)\s*+(?:(,)|(?=[\s\S]))"
    )
    comment = r"(?:--[^\n]*+|#[^\n]*+|/\*[\s\S]*?\*/)" if mysql else r"(?:--[^\n]*+|/\*[\s\S]*?\*/)"
    sq = _string("'", backslash)
    token = rf"{sq}|{_string(chr(34), mysql)}|`(?:[^`]|``)*+`|\[[^\]]*+\]|[(),]|[^\s,()'\"`]++"
    def_token = re.compile(rf"(?:\s++|{comment})*+({token})")
    return _Grammar(
        tuple_re=tuple_re,
        value_re=re.compile(value),
        convert=_make_converter(mysql, backslash),
        def_token=def_token,
        tuple_plain=re.compile(r"[^'\"()]*+"),
    )


_FAST_MAX_WIDTH = 256


@functools.lru_cache(maxsize=32)
def _fast_tuple(mysql: bool, backslash: bool, width: int) -> re.Pattern[str]:
    """A tuple of exactly ``width`` plain values whose groups *are* the values.

    Value ``i`` is ``NULL``, a plain number or a string without escapes or doubled quotes.
    Group ``i + 1`` holds the string's content (the group follows an opening quote and
    must be followed by the closing one) or the number; ``NULL`` leaves it unset. So
    ``groups()[:width]`` is the row as it is handed out, with no Python work per value.
    Group ``width + 1`` is the comma after the tuple. Anything else (escapes, doubled
    quotes, hex, casts) fails here and takes the general path.
    """
    content = "[^'\\\\]*+" if (mysql or backslash) else "[^']*+"
    value = rf"(?:'?+((?<='){content}(?=')|(?<!'){_NUMBER})'?+|NULL\b)"
    inner = r"\s*+,\s*+".join([value] * width)
    return re.compile(rf"\s*+\(\s*+{inner}\s*+\)\s*+(?:(,)|(?=[\s\S]))")


@functools.lru_cache(maxsize=16)
def _plain(stops: str) -> re.Pattern[str]:
    return re.compile("[^" + re.escape(stops) + "]*+")


@functools.lru_cache(maxsize=16)
def _quoted_body(quote: str, backslash: bool) -> re.Pattern[str]:
    return re.compile(f"[^{re.escape(quote)}\\\\]*+" if backslash else f"[^{re.escape(quote)}]*+")


def _unquote(ident: str) -> str:
    first = ident[0]
    if first == "`":
        return ident[1:-1].replace("``", "`")
    if first == '"':
        return ident[1:-1].replace('""', '"')
    if first == "[":
        return ident[1:-1]
    return ident


@functools.lru_cache(maxsize=1024)
def _name_parts(qualified: str) -> tuple[str, ...]:
    return tuple(_unquote(part) for part in _IDENT_RE.findall(qualified))


# --------------------------------------------------------------------------- recognising

_LEADING = re.compile(r"(?:\s++|;|--[^\n]*+(?:\n|$)|#[^\n]*+(?:\n|$)|/\*[\s\S]*?\*/)*+", re.ASCII)
_FIRST_WORD = re.compile(
    r"(?i)(?:SET|CREATE|INSERT|REPLACE|COPY|DROP|LOCK|UNLOCK|USE|BEGIN|START|ALTER|SELECT"
    r"|COMMENT|GRANT|REVOKE|DELIMITER|TRUNCATE|PRAGMA|COMMIT|WITH|DECLARE|SHOW)\b"
    r"|\\(?:connect|restrict|c)\b"
)
_BANNER = re.compile(
    r"(?im)^--[ \t]*(?:MySQL dump|MariaDB dump|PostgreSQL database dump|Dumped from database)"
)
_STATEMENT = re.compile(
    rf"(?im)^[ \t]*(?:(?:INSERT|REPLACE)(?:[ \t]+(?:LOW_PRIORITY|DELAYED|IGNORE))*[ \t]+INTO[ \t]+"
    rf"{_QNAME}\s*+(?:\(|VALUES?\b)|CREATE[ \t]+(?:(?:TEMPORARY|TEMP|UNLOGGED)[ \t]+)?TABLE[ \t]+"
    rf"(?:IF[ \t]+NOT[ \t]+EXISTS[ \t]+)?{_QNAME}\s*+\(|COPY[ \t]+{_QNAME}[^;\n]*FROM[ \t]+stdin)"
)
_MY_SURE = re.compile(r"(?im)^--[ \t]*(?:MySQL dump|MariaDB dump)")
_PG_SURE = re.compile(
    r"(?im)^--[ \t]*PostgreSQL database dump|^COPY[ \t][^\n;]*FROM[ \t]+stdin"
    r"|^\\(?:connect|restrict)\b"
)
_PG_MARKS = re.compile(
    r"(?im)^SET[ \t]+standard_conforming_strings|pg_catalog\.|\bOWNER TO\b|^PRAGMA\b"
    r"|^(?:INSERT|CREATE)\b[^\n(`]*(?:\bpublic\.|\")"
)
_MY_MARKS = re.compile(
    r"(?im)^/\*!\d{5}|^LOCK TABLES\b|\bENGINE\s*=|^(?:INSERT|REPLACE|CREATE)\b[^\n(\"]*`"
)


def sniff_sql(text: str) -> str | None:
    """The dialect (``MYSQL`` or ``POSTGRESQL``) of a SQL dump from its decoded head.

    ``text`` is the start of a file (say 64 KiB, decoded); it is a dump when, after
    comments, it opens with an SQL keyword and holds a table or data statement at the start
    of a line (or a mysqldump/pg_dump banner). A CSV or JSON file never opens like that.
    The dialect decides how backslashes in strings are read: marks of pg_dump (``COPY``,
    ``public.``, ``standard_conforming_strings``) or of mysqldump (backticks, ``ENGINE=``,
    ``/*!...*/``) are counted, and an unmarked dump is read as MySQL (backslash escapes),
    unless it double-quotes its identifiers as standard SQL (PostgreSQL, SQLite) does.
    """
    text = text.lstrip("\ufeff")
    lead = _LEADING.match(text)
    start = lead.end() if lead else 0
    if not _FIRST_WORD.match(text, start):
        return None
    if not (_BANNER.search(text) or _STATEMENT.search(text)):
        return None
    if _MY_SURE.search(text):
        return MYSQL
    if _PG_SURE.search(text):
        return POSTGRESQL
    return POSTGRESQL if len(_PG_MARKS.findall(text)) > len(_MY_MARKS.findall(text)) else MYSQL


# --------------------------------------------------------------------------- parsing

_RETRY, _NEXT, _END = 0, 1, 2


class _Parser:
    """A statement-level state machine over a text buffer refilled chunk by chunk.

    ``buf[pos:]`` is the unread text; :meth:`_more` drops ``buf[:pos]`` and appends the next
    chunk, so memory holds what is unread plus one chunk. Statement headers and ``CREATE
    TABLE`` bodies are parsed with up to ``max_record_bytes`` of look-ahead; everything
    that can be long (tuples, strings, comments, function bodies, COPY data) is consumed
    incrementally.
    """

    def __init__(
        self, chunks: Iterable[str], dialect: str, limits: ReaderLimits, stats: ReadStats
    ) -> None:
        self._chunks = iter(chunks)
        self.buf = ""
        self.pos = 0
        self.base = 0  # characters dropped before buf[0]
        self.eof = False
        self.sentinel = False
        self.limit = limits.max_record_bytes
        self.batch_rows = limits.batch_rows
        self.stats = stats
        self.mysql = dialect == MYSQL
        self.backslash = self.mysql
        self.g = _grammar(self.mysql, self.backslash)
        self._set_delimiter(";")
        self.tables: dict[tuple[str, ...], list[str]] = {}
        self.short: dict[str, tuple[str, ...] | None] = {}
        # Column names last used for a table's INSERT without a column list: pg_dump
        # --inserts writes one row per statement, which should not pay for a lookup each.
        self.hints: dict[tuple[str, ...], list[str]] = {}
        self.key: tuple[str, tuple[str, ...]] | None = None
        self.rows: list[list[str | None]] = []
        self.counts: dict[str, int] = {}
        self.handed = 0

    # ------------------------------------------------------------------ buffer

    def _more(self) -> bool:
        """Drop what was read and append the next chunk; False at the end of the input."""
        if self.eof:
            return False
        for chunk in self._chunks:
            if chunk:
                self.base += self.pos
                self.buf = self.buf[self.pos :] + chunk
                self.pos = 0
                return True
        self.eof = True
        return False

    def _need(self, count: int) -> None:
        while len(self.buf) - self.pos < count and self._more():
            pass

    def _set_delimiter(self, delimiter: str) -> None:
        self.delimiter = delimiter
        stops = ";'\"/-" + ("`#" if self.mysql else "$")
        if delimiter != ";" and delimiter[0] not in stops:
            stops += delimiter[0]
        self.plain = _plain(stops)
        extra = "" if delimiter == ";" else "|" + re.escape(delimiter)
        self.gap = re.compile(rf"(?:\s++|;{extra})*+")

    # ------------------------------------------------------------------ skipping

    def _skip_space(self) -> None:
        while True:
            self.pos = _SPACE.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.buf) or not self._more():
                return

    def _skip_line(self) -> None:
        while True:
            found = self.buf.find("\n", self.pos)
            if found >= 0:
                self.pos = found + 1
                return
            self.pos = len(self.buf)
            if not self._more():
                return

    def _skip_until(self, end: str, start: int) -> None:
        """Past the next ``end`` (a comment end, a dollar tag), however far it is."""
        self.pos = start
        while True:
            found = self.buf.find(end, self.pos)
            if found >= 0:
                self.pos = found + len(end)
                return
            self.pos = max(self.pos, len(self.buf) - len(end) + 1)
            if not self._more():
                self.pos = len(self.buf)
                return

    def _skip_quoted(self) -> bool:
        """Past the quoted text at ``pos``; False when the input ends inside it."""
        buf, pos = self.buf, self.pos
        quote = buf[pos]
        if self.mysql:
            escapes = quote != "`"
        else:
            escapes = quote == "'" and (self.backslash or (pos > 0 and buf[pos - 1] in "eE"))
        body = _quoted_body(quote, escapes)
        self.pos += 1
        while True:
            buf = self.buf
            pos = body.match(buf, self.pos).end()  # type: ignore[union-attr]
            if pos >= len(buf):
                self.pos = pos
                if not self._more():
                    return False
                continue
            if buf[pos] == "\\":  # only reached when backslash escapes apply
                if pos + 1 >= len(buf):
                    self.pos = pos
                    if not self._more():
                        return False
                    continue
                self.pos = pos + 2
                continue
            if pos + 1 >= len(buf) and not self.eof:
                self.pos = pos  # is this quote doubled? look at the next chunk
                self._more()
                continue
            if pos + 1 < len(buf) and buf[pos + 1] == quote:
                self.pos = pos + 2
                continue
            self.pos = pos + 1
            return True

    def _skip_statement(self) -> None:
        """Past the next statement terminator outside strings, comments and dollar quotes."""
        while True:
            buf = self.buf
            pos = self.plain.match(buf, self.pos).end()  # type: ignore[union-attr]
            self.pos = pos
            if pos >= len(buf):
                if not self._more():
                    return
                continue
            delimiter = self.delimiter
            if pos + max(1, len(delimiter) - 1) >= len(buf) and not self.eof:
                self._more()
                continue
            char = buf[pos]
            if delimiter != ";" and buf.startswith(delimiter, pos):
                self.pos = pos + len(delimiter)
                return
            if char == ";":
                self.pos = pos + 1
                if delimiter == ";":
                    return
            elif char in "'\"`":
                if not self._skip_quoted():
                    return
            elif (char == "-" and buf.startswith("--", pos)) or char == "#":
                self._skip_line()
            elif char == "/" and buf.startswith("/*", pos):
                self._skip_until("*/", pos + 2)
            elif char == "$" and not self.mysql:
                self._skip_dollar()
            else:
                self.pos = pos + 1

    def _skip_dollar(self) -> None:
        self._need(256)
        buf, pos = self.buf, self.pos
        tag = _DOLLAR_TAG.match(buf, pos)
        previous = buf[pos - 1] if pos > 0 else " "
        if tag is None or previous.isalnum() or previous == "_":
            self.pos = pos + 1  # "$1", or part of an identifier such as a$b
            return
        self._skip_until(tag.group(), tag.end())

    def _skip_gap(self) -> bool:
        """Past blanks, empty statements and comments; False at the end of the input."""
        while True:
            buf = self.buf
            pos = self.gap.match(buf, self.pos).end()  # type: ignore[union-attr]
            self.pos = pos
            if pos >= len(buf):
                if not self._more():
                    return False
                continue
            if pos + 1 >= len(buf) and not self.eof:
                self._more()
                continue
            if buf[pos] == "#" or buf.startswith("--", pos):
                self._skip_line()
            elif buf.startswith("/*", pos):
                self._skip_until("*/", pos + 2)
            else:
                return True

    # ------------------------------------------------------------------ output

    def _switch(
        self, table: tuple[str, ...], columns: list[str]
    ) -> Generator[SqlRows, None, list[list[str | None]]]:
        """The row list for ``table`` with ``columns``, handing out another table's rows."""
        key = (".".join(table), tuple(columns))
        if key != self.key:
            if self.rows:
                yield self._emit()
            self.key = key
        return self.rows

    def _emit(self) -> SqlRows:
        table, columns = self.key or ("", ())
        rows, self.rows = self.rows, []
        first = self.counts.get(table, 0) + 1
        self.counts[table] = first - 1 + len(rows)
        self.stats.records += len(rows)
        self.handed += len(rows)
        return SqlRows(table, list(columns), rows, first)

    def _columns_for(self, table: tuple[str, ...], width: int) -> list[str]:
        """Names for a statement without a column list: its CREATE TABLE's when the widths
        agree (the table name matched whole, or by its last part when that is unique)."""
        created = self.tables.get(table)
        if created is None:
            full = self.short.get(table[-1])
            created = self.tables.get(full) if full else None
        if created is not None and len(created) == width:
            return created
        return unique_names([], width)

    # ------------------------------------------------------------------ statements

    def parse(self) -> Iterator[SqlRows]:
        while self._skip_gap():
            self._need(self.limit)
            buf, pos = self.buf, self.pos
            if buf[pos] == "\\" and not self.mysql:
                self._skip_line()  # psql meta-command: no terminator
                continue
            keyword = _KEYWORD.match(buf, pos)
            word = keyword.group(1).upper() if keyword else ""
            if word in ("INSERT", "REPLACE"):
                yield from self._insert()
            elif word == "COPY":
                yield from self._copy()
            elif word == "CREATE":
                self._create()
            elif word == "SET":
                self._set()
            elif word == "DELIMITER" and self.mysql:
                line = _DELIMITER_LINE.match(buf, pos)
                if line is not None:
                    self._set_delimiter(line.group(1))
                    self.pos = line.end()
                else:
                    self._skip_line()
            else:
                self._skip_statement()
        if self.rows:
            yield self._emit()

    def _set(self) -> None:
        found = _SET_SCS.match(self.buf, self.pos)
        if found is not None and not self.mysql:
            self.backslash = found.group(1).lower() in ("off", "false", "0")
            self.g = _grammar(self.mysql, self.backslash)
        self._skip_statement()

    def _create(self) -> None:
        head = _CREATE_HEAD.match(self.buf, self.pos)
        if head is None:
            self._skip_statement()  # CREATE INDEX, FUNCTION, VIEW, TABLE ... AS SELECT
            return
        table = _name_parts(head.group(1))
        found = self._column_defs(head.end())
        if found is None:
            self.stats.skip(_BAD_CREATE)
            self._skip_statement()
            return
        names, self.pos = found
        self.hints.pop(table, None)
        if names and (table in self.tables or len(self.tables) < _MAX_TABLES):
            self.tables[table] = unique_names(names, min(len(names), MAX_COLUMNS))
            last = table[-1]
            self.short[last] = table if self.short.get(last, table) == table else None
        self._skip_statement()

    def _column_defs(self, start: int) -> tuple[list[str], int] | None:
        """Column names of a ``CREATE TABLE`` body: the first word of each element at depth 1
        that is not a constraint keyword; None when the body does not close in the buffer."""
        token_at = self.g.def_token.match
        buf, pos = self.buf, start
        depth, first = 1, True
        names: list[str] = []
        while True:
            found = token_at(buf, pos)
            if found is None:
                return None
            token = found.group(1)
            pos = found.end()
            char = token[0]
            if char == ",":
                if depth == 1:
                    first = True
                continue
            if char == "(":
                depth += 1
            elif char == ")":
                depth -= 1
                if depth == 0:
                    return names, pos
            elif first:
                if char in '`"[':
                    names.append(_unquote(token))
                elif token.upper() not in _NOT_COLUMNS:
                    names.append(token)
            first = False

    def _insert(self) -> Iterator[SqlRows]:
        head = _INSERT_HEAD.match(self.buf, self.pos)
        if head is None:
            self.stats.skip(_BAD_INSERT)
            self._skip_statement()
            return
        table = _name_parts(head.group(1))
        explicit = None
        if head.group(2) is not None:
            idents = [_unquote(i) for i in _IDENT_RE.findall(head.group(2))]
            explicit = unique_names(idents, len(idents))
        self.pos = head.end()
        yield from self._values(table, explicit)

    def _values(self, table: tuple[str, ...], explicit: list[str] | None) -> Iterator[SqlRows]:
        """The hot loop: one regex match per tuple.

        Rows of plain values go through :func:`_fast_tuple` (the match's groups are the
        row); a row with escapes or other literals is matched again by the general tuple
        pattern, whose values are found with ``findall`` and converted one by one.
        """
        g = self.g
        match, findall, convert = g.tuple_re.match, g.value_re.findall, g.convert
        limit, batch_rows, stats = self.limit, self.batch_rows, self.stats
        width = len(explicit) if explicit is not None else -1
        rows: list[list[str | None]] | None = None
        fast = comma = None
        guess = False  # names are the hint, to be checked on the first row
        if explicit is None and table in self.hints:
            explicit = self.hints[table]
            width, guess = len(explicit), True
        if explicit is not None and width <= MAX_COLUMNS:
            rows = yield from self._switch(table, explicit)
            if 0 < width <= _FAST_MAX_WIDTH:
                fast, comma = _fast_tuple(self.mysql, self.backslash, width).match, width + 1
        buf, pos = self.buf, self.pos
        while True:
            if fast is not None:
                m = fast(buf, pos)
                if m is not None:
                    end = m.end()
                    if end - pos > limit:
                        stats.skip(_TOO_LONG)
                    else:
                        guess = False
                        rows.append(list(m.groups()[:width]))  # type: ignore[union-attr]
                        if len(rows) >= batch_rows:  # type: ignore[arg-type]
                            yield self._emit()
                            rows = self.rows
                    pos = end
                    if m.lastindex != comma:
                        break
                    continue
            m = match(buf, pos)
            if m is None:
                self.buf, self.pos = buf, pos
                step = self._tuple_trouble()
                buf, pos = self.buf, self.pos
                if step == _END:
                    return
                continue
            end = m.end()
            if end - pos > limit:
                stats.skip(_TOO_LONG)
            else:
                start, stop = m.span(1)
                row = list(map(convert, findall(buf, start, stop))) if start >= 0 else []
                if guess and len(row) != width:
                    width, fast = -1, None  # the hint was wrong: name this statement anew
                guess = False
                if len(row) == width and rows is not None:
                    rows.append(row)
                    if len(rows) >= batch_rows:
                        yield self._emit()
                        rows = self.rows
                elif width < 0:
                    width = len(row)
                    if width > MAX_COLUMNS:
                        stats.skip(_TOO_WIDE)
                    else:
                        names = self._columns_for(table, width)
                        if table in self.hints or len(self.hints) < _MAX_TABLES:
                            self.hints[table] = names
                        rows = yield from self._switch(table, names)
                        rows.append(row)
                        if 0 < width <= _FAST_MAX_WIDTH:
                            fast = _fast_tuple(self.mysql, self.backslash, width).match
                            comma = width + 1
                        if len(rows) >= batch_rows:
                            yield self._emit()
                            rows = self.rows
                elif width > MAX_COLUMNS:
                    stats.skip(_TOO_WIDE)
                else:
                    stats.skip(_WIDTH)
            pos = end
            if m.lastindex != 2:
                break
        if buf[pos] == ";" and self.delimiter == ";":
            self.buf, self.pos = buf, pos + 1  # the common end, without the general checks
            return
        self.buf, self.pos = buf, pos
        self._end_values()

    def _tuple_trouble(self) -> int:
        """The tuple at ``pos`` did not match: read more, or skip it and count why."""
        if not self.eof and len(self.buf) - self.pos <= self.limit + 64:
            self._more()
            return _RETRY
        if self.eof and not self.sentinel:
            self.buf += ";"  # an unterminated last statement still ends
            self.sentinel = True
            return _RETRY
        self._skip_space()
        if self.pos >= len(self.buf):
            return _END
        if self.buf[self.pos] != "(":
            self.stats.skip(_BAD_INSERT)
            self._skip_statement()
            return _END
        start = self.base + self.pos
        if not self._skip_tuple():
            self.stats.skip(_TRUNCATED)
            return _END
        length = self.base + self.pos - start
        self.stats.skip(_TOO_LONG if length > self.limit else _MALFORMED_ROW)
        self._skip_space()
        if self.pos < len(self.buf) and self.buf[self.pos] == ",":
            self.pos += 1
            return _NEXT
        self._end_values()
        return _END

    def _skip_tuple(self) -> bool:
        """Past the parenthesised tuple at ``pos``, quote-aware; False at the end of input."""
        plain = self.g.tuple_plain
        depth = 0
        while True:
            buf = self.buf
            pos = plain.match(buf, self.pos).end()  # type: ignore[union-attr]
            self.pos = pos
            if pos >= len(buf):
                if not self._more():
                    return False
                continue
            char = buf[pos]
            if char == "(":
                depth += 1
                self.pos = pos + 1
            elif char == ")":
                depth -= 1
                self.pos = pos + 1
                if depth <= 0:
                    return True
            elif not self._skip_quoted():
                return False

    def _end_values(self) -> None:
        """After the last tuple: the terminator, or a trailing clause to skip."""
        self._skip_space()
        buf, pos = self.buf, self.pos
        if pos >= len(buf):
            return
        if self.delimiter != ";" and buf.startswith(self.delimiter, pos):
            self.pos = pos + len(self.delimiter)
            return
        if buf[pos] == ";":
            self.pos = pos + 1
            return
        if buf[pos] == "(":
            self.stats.skip(_BAD_INSERT)  # tuples without a comma between them
        self._skip_statement()

    # ------------------------------------------------------------------ COPY

    def _copy(self) -> Iterator[SqlRows]:
        head = _COPY_HEAD.match(self.buf, self.pos)
        if head is None:
            if _COPY_LOOSE.match(self.buf, self.pos) is None:
                self._skip_statement()  # COPY ... TO stdout, FROM 'file'
                return
            self.stats.skip(_BAD_COPY)
            self._skip_statement()
            self._skip_line()
            for _ in self._copy_blocks():
                pass
            return
        table = _name_parts(head.group(1))
        explicit = None
        if head.group(2) is not None:
            idents = [_unquote(i) for i in _IDENT_RE.findall(head.group(2))]
            explicit = unique_names(idents, len(idents))
        options = head.group(3)
        self.pos = head.end()
        self._skip_line()  # the data starts on the next line
        if _COPY_UNSUPPORTED.search(options):
            for data in self._copy_blocks():
                self.stats.skip(_COPY_FORMAT, data.count("\n") + 1)
            return
        delimiter, null = "\t", "\\N"
        found = _COPY_DELIMITER.search(options)
        if found is not None:
            text = found.group(2).replace("''", "'")
            if found.group(1):
                text = _COPY_ESC.sub(_copy_escape, text)
            delimiter = text if len(text) == 1 else delimiter
        found = _COPY_NULL.search(options)
        if found is not None:
            null = found.group(1).replace("''", "'")
        yield from self._copy_rows(table, explicit, delimiter, null)

    def _copy_blocks(self) -> Iterator[str]:
        """The data lines of a COPY block, a buffer's worth at a time, up to ``\\.``:
        each piece is whole lines joined by newlines."""
        limit = self.limit
        while True:
            buf, pos = self.buf, self.pos
            end = buf.rfind("\n", pos)
            if end < 0:
                if self.eof:
                    tail = buf[pos:].rstrip("\r")
                    self.pos = len(buf)
                    if tail and tail != "\\.":
                        yield tail
                    return
                if len(buf) - pos > limit:
                    self.stats.skip(_TOO_LONG)
                    self._skip_line()
                    continue
                self._more()
                continue
            found = _terminator(buf, pos, end)
            if found is not None:
                start, self.pos = found
                if start > pos:
                    yield buf[pos : start - 1]
                return
            self.pos = end + 1
            yield buf[pos:end]

    def _lines(self, data: str) -> list[str]:
        lines = data.split("\n")
        if "\r" in data:
            lines = [line[:-1] if line.endswith("\r") else line for line in lines]
        if len(data) > self.limit:
            kept = [line for line in lines if len(line) <= self.limit]
            if len(kept) < len(lines):
                self.stats.skip(_TOO_LONG, len(lines) - len(kept))
            lines = kept
        return lines

    def _copy_rows(
        self, table: tuple[str, ...], explicit: list[str] | None, delimiter: str, null: str
    ) -> Iterator[SqlRows]:
        """COPY text format is TSV with backslash escapes: a buffer's worth of lines is split
        with str methods at once, and only lines holding a backslash get per-field work."""
        stats, batch_rows = self.stats, self.batch_rows
        unescape = _COPY_ESC.sub
        plain_null = "\\" not in null
        # With a one-backslash marker (\N), a line with as many backslashes as marker
        # fields holds no other escape.
        counted_null = null.count("\\") == 1
        width = len(explicit) if explicit is not None else -1
        rows: list[list[str | None]] | None = None
        if explicit is not None and width <= MAX_COLUMNS:
            rows = yield from self._switch(table, explicit)
        escaped_delimiter = "\\" + delimiter
        for data in self._copy_blocks():
            lines = self._lines(data)
            if not lines:
                continue
            block: list[list[str | None]] = [line.split(delimiter) for line in lines]  # type: ignore[misc]
            if escaped_delimiter in data:
                block = [
                    _split_escaped(line, delimiter) if escaped_delimiter in line else row  # type: ignore[misc]
                    for line, row in zip(lines, block, strict=True)
                ]
            if rows is None:
                width = len(block[0]) if width < 0 else width
                if width > MAX_COLUMNS:
                    stats.skip(_TOO_WIDE, len(block))
                    continue
                rows = yield from self._switch(table, self._columns_for(table, width))
            widths = set(map(len, block))
            if widths != {width}:
                keep = [len(row) == width for row in block]
                stats.skip(_WIDTH, keep.count(False))
                lines = [line for line, ok in zip(lines, keep, strict=True) if ok]
                block = [row for row, ok in zip(block, keep, strict=True) if ok]
            if "\\" in data:
                for row, line in zip(block, lines, strict=True):
                    if "\\" not in line:
                        continue
                    nulls = row.count(null) if counted_null else -1
                    if nulls == line.count("\\"):  # only NULL markers: replace in place
                        for _ in range(nulls):
                            row[row.index(null)] = None
                    else:
                        row[:] = [
                            None if f == null else (unescape(_copy_escape, f) if "\\" in f else f)  # type: ignore[arg-type, operator]
                            for f in row
                        ]
            if plain_null and null in data:
                block = [[None if f == null else f for f in row] for row in block]
            start = 0
            while start < len(block):
                take = batch_rows - len(rows)
                rows.extend(block[start : start + take])
                start += take
                if len(rows) >= batch_rows:
                    yield self._emit()
                    rows = self.rows


@functools.lru_cache(maxsize=8)
def _field_re(delimiter: str) -> re.Pattern[str]:
    d = re.escape(delimiter)
    return re.compile(rf"(?:[^\\{d}]++|\\[\s\S]?)*+")


def _split_escaped(line: str, delimiter: str) -> list[str]:
    """Split a COPY line whose data holds a backslash-escaped delimiter (rare: slow path)."""
    field = _field_re(delimiter).match
    fields: list[str] = []
    pos = 0
    while True:
        end = field(line, pos).end()  # type: ignore[union-attr]
        fields.append(line[pos:end])
        if end >= len(line):
            return fields
        pos = end + 1


def _terminator(buf: str, start: int, end: int) -> tuple[int, int] | None:
    """The ``\\.`` line among the complete lines ``buf[start:end + 1]``: where it starts and
    where the line after it starts. A data line cannot start with ``\\.`` (a backslash in
    data is written ``\\\\``), so this is the end of the COPY block."""
    if buf.startswith("\\.", start):
        at = start
    else:
        at = buf.find("\n\\.", start, end) + 1
        if at == 0:
            return None
    while True:
        tail = buf[at + 2 : at + 4]
        if tail[:1] == "\n":
            return at, at + 3
        if tail == "\r\n":
            return at, at + 4
        at = buf.find("\n\\.", at, end) + 1
        if at == 0:
            return None


def parse_sql(
    chunks: Iterable[str],
    dialect: str,
    *,
    limits: ReaderLimits | None = None,
    stats: ReadStats | None = None,
    display_name: str = "SQL dump",
) -> Iterator[SqlRows]:
    """Stream the rows of a SQL dump given as text chunks of any size.

    Chunks may split the text anywhere (inside a string, an escape, a keyword); memory
    holds the unread rest of the current chunk, one more chunk and at most
    ``limits.max_record_bytes`` of look-ahead. Rows of one table and column list are
    gathered across statements into batches of at most ``limits.batch_rows``.

    :raises UnreadableDatasetError: rows were tried but not a single one could be read.
    """
    if dialect not in (MYSQL, POSTGRESQL):
        raise ValueError(f"unknown SQL dialect {dialect!r}")
    stats = stats if stats is not None else ReadStats()
    parser = _Parser(chunks, dialect, limits or ReaderLimits(), stats)
    yield from parser.parse()
    if parser.handed == 0 and stats.skipped:
        raise UnreadableDatasetError(
            f"{display_name}: no rows could be read from this SQL dump "
            f"({stats.skipped} skipped as unreadable)"
        )


def read_sql_dump(
    path: Path,
    *,
    dialect: str | None = None,
    limits: ReaderLimits | None = None,
    stats: ReadStats | None = None,
    display_name: str | None = None,
    chunk_chars: int = CHUNK_CHARS,
) -> Iterator[SqlRows]:
    """Open ``path`` as a SQL dump and return an iterator over its rows (see :func:`parse_sql`).

    The encoding is guessed from the first 64 KiB as for every text reader (BOM, UTF-8,
    cp1252 fallback, UTF-16); ``dialect`` defaults to what :func:`sniff_sql` finds. The
    checks run now, so a file that is no dump fails at the call, not at the first row.

    :raises UnreadableDatasetError: the file cannot be opened or read, is not a SQL dump,
        or no row at all could be read from it.
    """
    path = Path(path)
    name = display_name or path.name
    head = read_head_or_fail(path, HEAD_BYTES, name)
    encoding = detect_encoding(head)
    if dialect is None:
        dialect = sniff_sql(decode(head[encoding.bom :], encoding.codec))
        if dialect is None:
            raise UnreadableDatasetError(f"{name}: not a SQL dump we can read")
    if dialect not in (MYSQL, POSTGRESQL):
        raise ValueError(f"unknown SQL dialect {dialect!r}")
    stats = stats if stats is not None else ReadStats()
    return _read_file(path, name, encoding, dialect, limits, stats, max(1, chunk_chars))


def _read_file(
    path: Path,
    name: str,
    encoding: Encoding,
    dialect: str,
    limits: ReaderLimits | None,
    stats: ReadStats,
    chunk_chars: int,
) -> Iterator[SqlRows]:
    try:
        with open_text(path, encoding, stats) as text:
            chunks = iter(functools.partial(text.read, chunk_chars), "")
            rows = parse_sql(chunks, dialect, limits=limits, stats=stats, display_name=name)
            with contextlib.closing(rows):
                yield from rows
    except OSError as exc:
        raise UnreadableDatasetError(
            f"{name}: cannot be read past record {stats.records} ({exc.strerror or 'I/O error'})"
        ) from exc


class SqlDumpReader(TableReader):
    """A SQL dump as a reader of several tables in one pass.

    ``multi_table`` tells the scan that batches carry their ``table`` and that columns
    must be recognised per table (a dump holds patients next to settings and logs);
    ``columns`` and :meth:`sample` describe the first table with rows. Records are
    numbered per table, from 1.

    :raises UnreadableDatasetError: the file cannot be read, is no SQL dump, or holds no
        row that can be read.
    """

    format = "sql"
    multi_table = True

    def _start(self) -> None:
        self.has_header = True
        first = next(self._rows(ReadStats(), peek=True), None)
        if first is None:
            raise UnreadableDatasetError(f"{self.display_name}: a SQL dump without table rows")
        self.columns = list(first.columns)
        self.table = first.table
        self._first = first

    def _rows(self, stats: ReadStats, *, peek: bool = False) -> Iterator[SqlRows]:
        rows = read_sql_dump(
            self.path, limits=self.limits, stats=stats, display_name=self.display_name
        )
        if peek:
            # Only the first batch is wanted; closing the generator closes the file.
            with contextlib.closing(rows):
                yield from itertools.islice(rows, 1)
        else:
            yield from rows

    def sample(self, rows: int = 1000) -> pa.RecordBatch:
        return _record_batch(self._first.columns, self._first.rows[:rows])

    def batches(self) -> Iterator[TableBatch]:
        self.stats.reset()
        yield from gc_paused(self._batches())

    def _batches(self) -> Iterator[TableBatch]:
        for part in self._rows(self.stats):
            yield TableBatch(
                _record_batch(part.columns, part.rows), part.first_record, table=part.table
            )


def _record_batch(columns: list[str], rows: list[list[str | None]]) -> pa.RecordBatch:
    names = unique_names(list(columns), len(columns))
    cells = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    return pa.record_batch([pa.array(c, pa.string()) for c in cells], names=names)
