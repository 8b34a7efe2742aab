"""SQL dump reader: mysqldump and pg_dump text, streamed over arbitrary chunk boundaries.

All values are synthetic: invented names, BSNs made to pass the 11-proof, random strings.
Building SQL text from strings is what these tests are about, hence the S608 exemption;
"secret" names a made-up value that must not appear in messages (S105).
"""

# ruff: noqa: S608, S105

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matchers.errors import UnreadableDatasetError
from matchers.readers.base import ReaderLimits, ReadStats
from matchers.readers.sqldump import (
    MYSQL,
    POSTGRESQL,
    SqlRows,
    parse_sql,
    read_sql_dump,
    sniff_sql,
)

Rows = dict[str, tuple[list[str], list[list[str | None]]]]


def _collect(batches: Iterable[SqlRows]) -> Rows:
    """Rows per table (``table(col,...)`` for a second column set of a table); checks that
    record numbers run on per table without gaps and batches are never empty."""
    out: Rows = {}
    counts: dict[str, int] = {}
    for batch in batches:
        assert batch.rows
        assert batch.first_record == counts.get(batch.table, 0) + 1
        counts[batch.table] = counts.get(batch.table, 0) + len(batch.rows)
        key = batch.table
        if key in out and out[key][0] != batch.columns:
            key = f"{batch.table}({','.join(batch.columns)})"
        out.setdefault(key, (batch.columns, []))[1].extend(batch.rows)
    return out


def _parse(
    text: str | Iterable[str],
    dialect: str = MYSQL,
    stats: ReadStats | None = None,
    limits: ReaderLimits | None = None,
) -> Rows:
    chunks = [text] if isinstance(text, str) else text
    return _collect(parse_sql(chunks, dialect, stats=stats, limits=limits))


def _pieces(text: str, size: int) -> Iterator[str]:
    return (text[i : i + size] for i in range(0, len(text), size))


# --------------------------------------------------------------------------- MySQL

MYSQL_DUMP = r"""-- MySQL dump 10.13  Distrib 8.0.36, for Linux (x86_64)
--
-- Host: localhost    Database: lab
/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;
/*!40101 SET NAMES utf8mb4 */;
/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;
# a hash comment; with a semicolon
DROP TABLE IF EXISTS `deelnemers`;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
CREATE TABLE `deelnemers` (
  `id` int NOT NULL AUTO_INCREMENT,
  `bsn` char(9) DEFAULT NULL,
  `naam` varchar(100) DEFAULT 'onbekend, (nog)' COMMENT 'it\'s; a name',
  `soort` enum('a','b,c') NOT NULL,
  `key` varchar(3),
  PRIMARY KEY (`id`),
  UNIQUE KEY `bsn_uq` (`bsn`),
  KEY `naam_idx` (`naam`(10)),
  CONSTRAINT `fk_x` FOREIGN KEY (`id`) REFERENCES `x` (`id`) ON DELETE CASCADE
) ENGINE=InnoDB AUTO_INCREMENT=4 DEFAULT CHARSET=utf8mb4;
/*!40101 SET character_set_client = @saved_cs_client */;

LOCK TABLES `deelnemers` WRITE;
/*!40000 ALTER TABLE `deelnemers` DISABLE KEYS */;
INSERT INTO `deelnemers` VALUES (1,'123456782','Jan de Vries','a','k1'),(2,'111222333','O\'Brien\
, Anna; (zie \"dossier\")','b,c',NULL),(3,NULL,'it''s \\ here\nand\there','a','');
/*!40000 ALTER TABLE `deelnemers` ENABLE KEYS */;
UNLOCK TABLES;

/* a block comment; INSERT INTO `deelnemers` VALUES (9,'x','y','a','z'); */
-- INSERT INTO `deelnemers` VALUES (8,'x','y','a','z');
INSERT IGNORE INTO `lab`.`uitslagen` (`deelnemer_id`, uitslag, `datum`)
VALUES (1,'negatief','2025-01-02'),
(2, 'positief' , '2025-02-03');
REPLACE INTO uitslagen (deelnemer_id,uitslag,datum) VALUES (3,'onbekend',NULL);
INSERT INTO `deelnemers` (`id`,`naam`) VALUES (4,'Piet') ON DUPLICATE KEY UPDATE naam=VALUES(naam);
"""


def test_mysqldump_tables_columns_and_values() -> None:
    stats = ReadStats()
    tables = _parse(MYSQL_DUMP, MYSQL, stats)
    columns, rows = tables["deelnemers"]
    assert columns == ["id", "bsn", "naam", "soort", "key"]
    assert rows == [
        ["1", "123456782", "Jan de Vries", "a", "k1"],
        ["2", "111222333", 'O\'Brien\n, Anna; (zie "dossier")', "b,c", None],
        ["3", None, "it's \\ here\nand\there", "a", ""],
    ]
    # Same table, another column list: a table of its own column set, numbered on.
    assert tables["lab.uitslagen"] == (
        ["deelnemer_id", "uitslag", "datum"],
        [["1", "negatief", "2025-01-02"], ["2", "positief", "2025-02-03"]],
    )
    assert tables["uitslagen"] == (["deelnemer_id", "uitslag", "datum"], [["3", "onbekend", None]])
    assert tables["deelnemers(id,naam)"] == (["id", "naam"], [["4", "Piet"]])
    assert stats.records == 7 and stats.skipped == 0


def test_batches_split_by_table_and_column_list() -> None:
    batches = list(parse_sql([MYSQL_DUMP], MYSQL))
    assert [(b.table, b.first_record, len(b.rows)) for b in batches] == [
        ("deelnemers", 1, 3),
        ("lab.uitslagen", 1, 2),
        ("uitslagen", 1, 1),
        ("deelnemers", 4, 1),
    ]
    assert batches[-1].columns == ["id", "naam"]


def test_batch_rows_bound_and_gathering_across_statements() -> None:
    text = "".join(f"INSERT INTO t VALUES ({i},'a{i}'),({i + 100},'b{i}');\n" for i in range(10))
    batches = list(parse_sql([text], MYSQL, limits=ReaderLimits(batch_rows=3)))
    assert [len(b.rows) for b in batches] == [3] * 6 + [2]
    assert [b.first_record for b in batches] == [1, 4, 7, 10, 13, 16, 19]
    assert batches[0].columns == ["column_1", "column_2"]


def test_mysql_literals() -> None:
    text = (
        "INSERT INTO t VALUES (-1.5e3, +2, .5, 0x4A616E, X'50696574', x'', b'101', 0b11,"
        " _binary 'bin\\'ary', _utf8mb4'\\0\\Z\\b\\%\\_\\x', N'nat', \"dq \\\" and \"\"\","
        " null, DEFAULT, true, CURRENT_TIMESTAMP, NOW());\n"
    )
    (_, rows) = _parse(text)["t"]
    assert rows == [
        [
            "-1.5e3", "+2", ".5", "Jan", "Piet", "", "5", "3", "bin'ary",
            "\0\x1a\b\\%\\_x", "nat", 'dq " and "', None, None, "true", "CURRENT_TIMESTAMP",
            "NOW()",
        ]
    ]  # fmt: skip


def test_hex_literals_decode_as_text_with_fallback() -> None:
    text = "INSERT INTO t VALUES (0xC3A9, 0xE9, X'4a 6f');\n"
    assert _parse(text)["t"][1] == [["é", "é", "Jo"]]


def test_schema_qualified_and_quoted_names() -> None:
    text = (
        'CREATE TABLE "zorg"."Patiënt Data" ("Naam" text, "a""b" int);\n'
        'INSERT INTO "zorg"."Patiënt Data" VALUES (\'x\', 1);\n'
        "INSERT INTO [dbo].[klant] ([naam]) VALUES (N'y');\n"
    )
    tables = _parse(text, POSTGRESQL)
    assert tables["zorg.Patiënt Data"] == (["Naam", 'a"b'], [["x", "1"]])
    assert tables["dbo.klant"] == (["naam"], [["y"]])


def test_insert_without_list_falls_back_when_widths_differ() -> None:
    text = (
        "CREATE TABLE t (a int, b int);\n"
        "INSERT INTO t VALUES (1,2,3);\n"
        "INSERT INTO t VALUES (4,5);\n"
        "INSERT INTO t VALUES (6,7),(8,9,10),(11,12);\n"
    )
    stats = ReadStats()
    batches = list(parse_sql([text], MYSQL, stats=stats))
    assert [(b.columns, b.rows) for b in batches] == [
        (["column_1", "column_2", "column_3"], [["1", "2", "3"]]),
        (["a", "b"], [["4", "5"], ["6", "7"], ["11", "12"]]),
    ]
    assert stats.skip_reasons == {"wrong number of values": 1}


def test_create_table_later_redefined_renames_columns() -> None:
    text = (
        "CREATE TABLE t (a int, b int);\nINSERT INTO t VALUES (1,2);\n"
        "DROP TABLE t;\nCREATE TABLE t (c int, d int);\nINSERT INTO t VALUES (3,4);\n"
    )
    batches = list(parse_sql([text], MYSQL))
    assert [(b.columns, b.rows) for b in batches] == [
        (["a", "b"], [["1", "2"]]),
        (["c", "d"], [["3", "4"]]),
    ]


def test_delimiter_blocks_and_routines_are_not_rows() -> None:
    text = (
        "DELIMITER ;;\n"
        "CREATE DEFINER=`root`@`%` PROCEDURE `p`()\nBEGIN\n"
        "  INSERT INTO log VALUES (NEW.id, NOW());\n  SELECT 'a;;b';\nEND ;;\n"
        "/*!50003 CREATE*/ /*!50003 TRIGGER `tr` BEFORE INSERT ON `t` FOR EACH ROW BEGIN\n"
        "INSERT INTO log VALUES (1, 'x'); END */;;\n"
        "DELIMITER ;\n"
        "INSERT INTO t VALUES (1,'ok');\n"
    )
    assert _parse(text) == {"t": (["column_1", "column_2"], [["1", "ok"]])}


# --------------------------------------------------------------------------- PostgreSQL

PG_DUMP = r"""--
-- PostgreSQL database dump
--

\restrict AbCdEf123

-- Dumped from database version 16.2

SET statement_timeout = 0;
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);

CREATE FUNCTION public.audit() RETURNS trigger
    LANGUAGE plpgsql
    AS $_$
BEGIN
  INSERT INTO public.log VALUES ('it''s; $$ not a row', $1);
  RETURN NULL;
END;
$_$;

CREATE FUNCTION public.f2() RETURNS text LANGUAGE sql AS $$ SELECT 'x;y' $$;

CREATE TABLE public.deelnemers (
    id integer NOT NULL,
    bsn character(9),
    naam text DEFAULT 'a, b'::text,
    tags text[],
    CONSTRAINT bsn_check CHECK ((length(bsn) = 9))
);

ALTER TABLE public.deelnemers OWNER TO lab;

COPY public.deelnemers (id, bsn, naam, tags) FROM stdin;
1	123456782	Jan\tde Vries	{a,b}
2	\N	caf\303\251 \x41 \\N	\N
3	111222333	regel1\nregel2\r\\	{}
\.

COPY public.leeg (a) FROM stdin;
\.

INSERT INTO public.deelnemers VALUES (4, '987654321', 'it''s C:\temp', NULL);
INSERT INTO public.deelnemers (id, naam) VALUES (5, E'a\nb\'c\\d\101\u00e9'),
    (6, '2020-01-01'::date) ON CONFLICT DO NOTHING;

\unrestrict AbCdEf123
"""


def test_pg_dump_copy_and_inserts() -> None:
    stats = ReadStats()
    tables = _parse(PG_DUMP, POSTGRESQL, stats)
    columns, rows = tables["public.deelnemers"]
    assert columns == ["id", "bsn", "naam", "tags"]
    assert rows == [
        ["1", "123456782", "Jan\tde Vries", "{a,b}"],
        ["2", None, "café A \\N", None],
        ["3", "111222333", "regel1\nregel2\r\\", "{}"],
        ["4", "987654321", "it's C:\\temp", None],
    ]
    assert tables["public.deelnemers(id,naam)"] == (
        ["id", "naam"],
        [["5", "a\nb'c\\dAé"], ["6", "2020-01-01"]],
    )
    assert "public.log" not in tables and "public.leeg" not in tables
    assert stats.skipped == 0 and stats.records == 6


def test_standard_conforming_strings_off() -> None:
    text = (
        "SET standard_conforming_strings = off;\n"
        "INSERT INTO t VALUES ('a\\'b\\\\c');\n"
        "SET standard_conforming_strings = on;\n"
        "INSERT INTO t VALUES ('a\\b');\n"
    )
    assert _parse(text, POSTGRESQL)["t"][1] == [["a'b\\c"], ["a\\b"]]


def test_copy_options_and_unsupported_formats() -> None:
    text = (
        "COPY t (a, b) FROM stdin WITH DELIMITER '|' NULL '';\n1|\n|x\\|y\n\\.\n"
        'COPY u (a) FROM stdin WITH (FORMAT csv);\n"1"\n"2"\n\\.\n'
        "COPY v TO stdout;\n"
    )
    stats = ReadStats()
    tables = _parse(text, POSTGRESQL, stats)
    assert tables == {"t": (["a", "b"], [["1", None], [None, "x|y"]])}
    assert stats.skip_reasons == {"unsupported COPY format": 2}


def test_copy_without_terminator_and_crlf() -> None:
    text = "COPY t (a, b) FROM stdin;\r\n1\tx\r\n2\ty\r\n\\.\r\nCOPY t (a, b) FROM stdin;\n3\tz"
    assert _parse(text, POSTGRESQL)["t"][1] == [["1", "x"], ["2", "y"], ["3", "z"]]


# --------------------------------------------------------------------------- chunking


def _long_dump() -> str:
    """Tricky constructs placed beyond the look-ahead, where chunk boundaries matter."""
    plain = ",".join(f"({i},'naam {i}',NULL)" for i in range(60))
    copy_lines = "".join(f"{i}\tnaam {i}\t\\N\n" for i in range(60))
    body = "x" * 1200
    return (
        MYSQL_DUMP.replace("-- MySQL dump", "-- dump")
        + f"INSERT INTO big VALUES {plain},(61,'a\\'b''c\\\\',NULL),(62,'x;y),(z',0x41),"
        "(63,'\\\\','\\n');\n"
        f"/* {body}; 'x */\n"
        f"CREATE TABLE after_comment (a text, b text, c text);\n"
        f"INSERT INTO after_comment VALUES ('1','2','3');\n"
        f"-- {body}\n"
        f"INSERT INTO after_comment VALUES ('4','5','6');\n"
        f"DROP VIEW `{body}`;\n"
        f"INSERT INTO after_comment VALUES ('7','8','9');\n"
    ), (
        PG_DUMP.replace("\\restrict AbCdEf123", "")
        + f"CREATE FUNCTION g() AS $body$ {body}; 'x $body$;\n"
        + f"COPY public.big (a, b, c) FROM stdin;\n{copy_lines}61\tcaf\\303\\251\\t\t\\\\.\n\\.\n"
        + "INSERT INTO public.big VALUES (62, E'\\'x\\\\', 'y''z');\n"
    )


def test_every_chunk_size_gives_the_same_rows() -> None:
    for text, dialect in zip(_long_dump(), (MYSQL, POSTGRESQL), strict=True):
        whole = _parse(text, dialect)
        assert sum(len(rows) for _, rows in whole.values()) > 60
        for size in (*range(1, 14), 64, 1000, 4096):
            assert _parse(_pieces(text, size), dialect) == whole, (dialect, size)


def test_two_chunks_split_at_every_position() -> None:
    text = (
        "INSERT INTO t VALUES ('a\\'b''c\\\\d;e)(f',NULL,-1.5),('\\n\\t', 0x41, x'42');\n"
        "/* c;'*/ -- x'\n# y'\nINSERT INTO u (a) VALUES (N'q');\n"
    )
    whole = _parse(text)
    assert whole == {
        "t": (
            ["column_1", "column_2", "column_3"],
            [["a'b'c\\d;e)(f", None, "-1.5"], ["\n\t", "A", "B"]],
        ),
        "u": (["a"], [["q"]]),
    }
    pg = "COPY t (a) FROM stdin;\nx\\ty\n\\N\n\\.\nCREATE FUNCTION f() AS $q$ ; $q$;\n" + (
        "INSERT INTO t VALUES (E'\\'', 'a''b');\n"
    )
    pg_whole = _parse(pg, POSTGRESQL)
    assert pg_whole == {
        "t": (["a"], [["x\ty"], [None]]),
        "t(column_1,column_2)": (["column_1", "column_2"], [["'", "a'b"]]),
    }
    for position in range(len(text) + 1):
        assert _parse([text[:position], text[position:]]) == whole, position
    for position in range(len(pg) + 1):
        assert _parse([pg[:position], pg[position:]], POSTGRESQL) == pg_whole, position


def test_huge_statement_streams_row_by_row() -> None:
    """A single 200k-tuple line is handed out in batches while most of it is unread."""
    rows = 20_000
    text = "INSERT INTO t VALUES " + ",".join(f"({i},'naam {i}')" for i in range(rows)) + ";\n"
    read = 0

    def chunks() -> Iterator[str]:
        nonlocal read
        for piece in _pieces(text, 4096):
            read += len(piece)
            yield piece

    limits = ReaderLimits(max_record_bytes=4096, batch_rows=100)
    batches = parse_sql(chunks(), MYSQL, limits=limits)
    first = next(batches)
    assert len(first.rows) == 100 and read <= 4 * 4096 < len(text) // 20
    assert sum(len(b.rows) for b in batches) + 100 == rows


# --------------------------------------------------------------------------- broken input


def test_malformed_tuple_is_skipped_and_the_rest_read() -> None:
    text = (
        "INSERT INTO t VALUES (1,'a'),(2,'b' 'c'),(3,'d'),(4, foo bar),(5,'e');\n"
        "INSERT INTO t VALUES (6,'f') (7,'g');\n"
        "INSERT INTO t VALUES;\n"
        "INSERT INTO t VALUES (8,'h');\n"
        "INSERT INTO WHERE garbage;\n"
        "INSERT INTO t VALUES (9,'i');\n"
    )
    stats = ReadStats()
    rows = _parse(text, MYSQL, stats)["t"][1]
    assert [r[0] for r in rows] == ["1", "3", "5", "6", "8", "9"]
    assert stats.skip_reasons == {"malformed row": 2, "malformed INSERT statement": 3}


def test_truncated_dump_keeps_rows_before_the_cut() -> None:
    text = "INSERT INTO t VALUES (1,'a'),(2,'b'),(3,'unterminat"
    stats = ReadStats()
    assert _parse(text, MYSQL, stats)["t"][1] == [["1", "a"], ["2", "b"]]
    assert stats.skip_reasons == {"truncated row": 1}
    assert _parse("INSERT INTO t VALUES (1,'a'),(2,'b')")["t"][1] == [["1", "a"], ["2", "b"]]


def test_value_over_the_limit_is_skipped_not_loaded() -> None:
    limits = ReaderLimits(max_record_bytes=1024)
    huge = "x" * 5000
    text = (
        f"INSERT INTO t VALUES (1,'a'),(2,'{huge}'),(3,'b'),(4,'{huge[:600]}');\n"
        f"INSERT INTO t VALUES (5,'{huge}');\nINSERT INTO t VALUES (6,'c');\n"
    )
    for size in (7, 100, 1 << 20):
        stats = ReadStats()
        rows = _parse(_pieces(text, size), MYSQL, stats, limits)["t"][1]
        assert [r[0] for r in rows] == ["1", "3", "4", "6"]
        assert stats.skip_reasons == {"record too long": 2}
    copy = f"COPY t (a, b) FROM stdin;\n1\ta\n2\t{huge}\n3\tb\n\\.\n"
    for size in (7, 1 << 20):
        stats = ReadStats()
        rows = _parse(_pieces(copy, size), POSTGRESQL, stats, limits)["t"][1]
        assert rows == [["1", "a"], ["3", "b"]]
        assert stats.skip_reasons == {"record too long": 1}


def test_copy_ragged_lines_counted() -> None:
    text = "COPY t (a, b) FROM stdin;\n1\ta\n2\n3\tb\tc\n4\td\n\\.\n"
    stats = ReadStats()
    assert _parse(text, POSTGRESQL, stats)["t"][1] == [["1", "a"], ["4", "d"]]
    assert stats.skip_reasons == {"wrong number of values": 2}


def test_nothing_readable_raises_without_values() -> None:
    secret = "123456782"
    text = f"INSERT INTO t VALUES ('{secret}' '{secret}');\n"
    with pytest.raises(UnreadableDatasetError) as err:
        _parse(text)
    assert secret not in str(err.value) and "1 skipped" in str(err.value)
    assert _parse("CREATE TABLE t (a int);\nSET x = 1;\n") == {}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pieces=st.lists(
        st.sampled_from([
            "INSERT INTO t VALUES ", "(1,'a')", ",", ";", "'", "\\", '"', "(", ")", "--",
            "\n", "/*", "*/", "$$", "$x$", "COPY t (a) FROM stdin;\n", "\\.\n", "\t", "NULL",
            "CREATE TABLE t (a int", "DELIMITER ;;\n", "#", "E'", "0x", "`", "SET ",
            "standard_conforming_strings = off;", "\\N", "x",
        ]),
        max_size=40,
    ),
    dialect=st.sampled_from([MYSQL, POSTGRESQL]),
    size=st.integers(1, 50),
)  # fmt: skip
def test_garbage_never_raises_anything_else(pieces: list[str], dialect: str, size: int) -> None:
    text = "".join(pieces)
    with contextlib.suppress(UnreadableDatasetError):
        _parse(_pieces(text, size), dialect, limits=ReaderLimits(max_record_bytes=1024))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    head=st.sampled_from([
        "INSERT INTO t VALUES (", "INSERT INTO t (a) VALUES (1),(", "CREATE TABLE t (",
        "COPY t (a, b) FROM stdin;\n", "DELIMITER $$\n", "",
    ]),
    body=st.text("_.xXbBeEN0123456789'\"`\\(),;$-/*#:\n\t LU", max_size=60),
    dialect=st.sampled_from([MYSQL, POSTGRESQL]),
    size=st.integers(1, 30),
)  # fmt: skip
def test_random_characters_never_raise(head: str, body: str, dialect: str, size: int) -> None:
    with contextlib.suppress(UnreadableDatasetError):
        _parse(_pieces(head + body, size), dialect, limits=ReaderLimits(max_record_bytes=1024))


def test_mysql_delimiter_with_dollars() -> None:
    text = (
        "DELIMITER $$\nCREATE PROCEDURE p() BEGIN SELECT '$$'; INSERT INTO x VALUES (1); END$$\n"
        "DELIMITER ;\nINSERT INTO t VALUES (_x, _binary 'y', a$b);\n"
    )
    assert _parse(text) == {"t": (["column_1", "column_2", "column_3"], [["_x", "y", "a$b"]])}


# --------------------------------------------------------------------------- round trip

_MY_ESCAPES = str.maketrans({
    "\\": "\\\\", "'": "\\'", '"': '\\"', "\n": "\\n", "\r": "\\r", "\0": "\\0",
    "\x1a": "\\Z", "\t": "\\t",
})  # fmt: skip
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_E_ESCAPES = str.maketrans({"\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def _mysql_literal(value: str | None, doubled: bool) -> str:
    if value is None:
        return "NULL"
    if doubled:  # mysqldump escapes with backslashes; hand-made dumps double quotes
        return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"
    return "'" + value.translate(_MY_ESCAPES) + "'"


def _pg_literal(value: str | None, e_string: bool) -> str:
    if value is None:
        return "NULL"
    if e_string:
        return "E'" + value.translate(_E_ESCAPES) + "'"
    return "'" + value.replace("'", "''") + "'"


def _copy_field(value: str | None, octal: bool) -> str:
    if value is None:
        return "\\N"
    text = value.translate(_COPY_ESCAPES)
    if octal:  # non-ASCII as escaped UTF-8 bytes, as some tools write it
        text = "".join(
            "".join(f"\\{b:03o}" for b in ch.encode()) if ord(ch) > 127 else ch for ch in text
        )
    return text


_VALUE = st.none() | st.lists(
    st.characters(blacklist_categories=("Cs",))
    | st.sampled_from(["'", '"', "\\", "\n", "\r", "\t", ";", ",", "(", ")", "$$", "\\N", "é"]),
    max_size=12,
).map("".join)


@st.composite
def _tables(draw: st.DrawFn) -> list[list[str | None]]:
    width = draw(st.integers(1, 5))
    return draw(st.lists(st.lists(_VALUE, min_size=width, max_size=width), min_size=1, max_size=8))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=_tables(), flags=st.lists(st.booleans(), min_size=4, max_size=4), size=st.integers(1, 40)
)
def test_round_trip(rows: list[list[str | None]], flags: list[bool], size: int) -> None:
    width = len(rows[0])
    names = [f"c{i}" for i in range(width)]
    head = f"CREATE TABLE `t` ({', '.join(f'`{n}` text' for n in names)});\n"
    tuples = ",".join(
        "(" + ",".join(_mysql_literal(v, flags[0]) for v in row) + ")" for row in rows
    )
    mysql = head + f"INSERT INTO `t` VALUES {tuples};\n"
    assert _parse(_pieces(mysql, size), MYSQL) == {"t": (names, rows)}

    copy = f"COPY public.t ({', '.join(names)}) FROM stdin;\n" + "".join(
        "\t".join(_copy_field(v, flags[1]) for v in row) + "\n" for row in rows
    )
    assert _parse(_pieces(copy + "\\.\n", size), POSTGRESQL) == {"public.t": (names, rows)}

    inserts = "".join(
        f"INSERT INTO public.t ({', '.join(names)}) VALUES ("
        + ", ".join(_pg_literal(v, flags[2] != (i % 2 == 0)) for v in row)
        + ");\n"
        for i, row in enumerate(rows)
    )
    assert _parse(_pieces(inserts, size), POSTGRESQL) == {"public.t": (names, rows)}


# --------------------------------------------------------------------------- recognising


def test_sniff_recognises_dumps() -> None:
    assert sniff_sql(MYSQL_DUMP) == MYSQL
    assert sniff_sql(PG_DUMP) == POSTGRESQL
    assert sniff_sql("\ufeffINSERT INTO `t` VALUES (1,'a\\'b');\n") == MYSQL
    assert sniff_sql('PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\nCREATE TABLE "t" (a);\n') == (
        POSTGRESQL
    )
    assert sniff_sql("SET NAMES utf8;\nCREATE TABLE klant (id int);\n") == MYSQL
    assert sniff_sql("-- PostgreSQL database dump\nSET x = 0;\n") == POSTGRESQL


@pytest.mark.parametrize(
    "text",
    [
        "id,naam,bsn\n1,Jan,123456782\n",
        "INSERT;INTO;t\n1;2;3\n",
        "naam\tsql\nJan\tINSERT INTO t VALUES (1);\n",
        json.dumps([{"sql": "INSERT INTO t VALUES (1)"}]),
        '{"a": 1}\n{"a": "CREATE TABLE t (x int)"}\n',
        "Set,Create\nINSERT INTO,x\n",
        "",
        "-- only a comment\n",
    ],
)
def test_sniff_rejects_other_text(text: str) -> None:
    assert sniff_sql(text) is None


def test_read_sql_dump_file(tmp_path: Path) -> None:
    path = tmp_path / "dump.sql"
    text = MYSQL_DUMP.replace("Jan de Vries", "José de Vriës")
    path.write_bytes(text.replace("\n", "\r\n").encode("cp1252"))
    stats = ReadStats()
    tables = _collect(read_sql_dump(path, stats=stats, chunk_chars=5))
    assert tables["deelnemers"][1][0] == ["1", "123456782", "José de Vriës", "a", "k1"]
    assert tables["deelnemers"][1][2][2] == "it's \\ here\nand\there"
    assert stats.records == 7

    utf16 = tmp_path / "dump16.sql"
    utf16.write_bytes(PG_DUMP.encode("utf-16"))
    assert _collect(read_sql_dump(utf16))["public.deelnemers"][1][0][2] == "Jan\tde Vries"


def test_read_sql_dump_refuses_what_is_not_a_dump(tmp_path: Path) -> None:
    csv = tmp_path / "leak.csv"
    csv.write_text("bsn;naam\n123456782;Jan\n")
    with pytest.raises(UnreadableDatasetError, match=r"^leak\.csv: not a SQL dump"):
        read_sql_dump(csv)
    with pytest.raises(UnreadableDatasetError, match="cannot be read"):
        read_sql_dump(tmp_path / "missing.sql")
    forced = _collect(read_sql_dump(csv, dialect=MYSQL))
    assert forced == {}


def test_messages_never_hold_values(tmp_path: Path) -> None:
    path = tmp_path / "x.sql"
    secret = "Anna-Maria van der Berg"
    path.write_text(f"INSERT INTO `t` VALUES ('{secret}\\');\n")
    stats = ReadStats()
    with pytest.raises(UnreadableDatasetError) as err:
        list(read_sql_dump(path, stats=stats))
    text = str(err.value) + repr(stats)
    assert not re.search("Anna|Berg", text)
