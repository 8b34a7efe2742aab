"""Which column holds what: finding BSN, name, birth-date... columns in any table.

Leaked tables and cohort files name their columns in Dutch or English, abbreviated,
prefixed (``PATIENT_GEBOORTEDATUM``) or misspelt (``Achternm``); some have no header at
all. Roles are found in three steps, later ones winning:

1. header words, matched token-aware against Dutch and English synonyms, fuzzily only
   for long words (so ``datum_afname`` does not become a birth date);
2. content, on a sample of rows: a column of 11-proof-valid numbers is the BSN column, a
   column of dates whose years look like birth years is the birth date, Dutch postcodes
   are postcodes; name columns are guessed from content only when the file has no header;
3. overrides from the user (``--map ROLE=COLUMN``), which must name existing columns.

Nothing here keeps or reports a value: only column names and roles leave this module.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from functools import lru_cache

import pyarrow as pa
from rapidfuzz import fuzz
from stdnum.nl import bsn as stdnum_bsn

from matchers.dates import parse_date
from matchers.errors import ConfigError, NoUsableColumnsError

__all__ = [
    "ROLES",
    "ColumnRoles",
    "describe_columns",
    "detect_columns",
    "match_header",
    "no_usable_columns_error",
    "parse_mapping",
]

ROLES = ("bsn", "given", "initials", "prefix", "surname", "full_name", "dob", "postcode", "ref")


@dataclass(frozen=True)
class ColumnRoles:
    """The column (by name) that plays each role; None when no column does."""

    bsn: str | None = None
    given: str | None = None
    initials: str | None = None
    prefix: str | None = None
    surname: str | None = None
    full_name: str | None = None
    dob: str | None = None
    postcode: str | None = None
    ref: str | None = None

    def usable_for_matching(self) -> bool:
        """A BSN, or a birth date with a surname or full name: what matching needs."""
        return self.bsn is not None or (
            self.dob is not None and (self.surname is not None or self.full_name is not None)
        )

    def describe(self) -> dict[str, str]:
        """Role -> column for the roles found, in ``ROLES`` order (for reports)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}


_SYNONYMS: dict[str, tuple[str, ...]] = {
    "bsn": (
        "bsn",
        "burgerservicenummer",
        "burger service nummer",
        "sofinummer",
        "sofi nummer",
        "sofi",
        "sofinr",
        "citizen service number",
        "bsn nummer",
        "bsn nr",
        "bsnnr",
    ),
    "given": (
        "voornaam",
        "voornamen",
        "roepnaam",
        "first name",
        "firstname",
        "given name",
        "given names",
        "forename",
        "forenames",
        "vnaam",
    ),
    "initials": ("voorletters", "voorletter", "initialen", "initials", "voorl", "vl"),
    "prefix": (
        "tussenvoegsel",
        "tussenvoegsels",
        "voorvoegsel",
        "voorvoegsels",
        "prefix",
        "tussenv",
        "tv",
        "tsv",
        "voorv",
        "name prefix",
    ),
    "surname": (
        "achternaam",
        "geslachtsnaam",
        "surname",
        "last name",
        "lastname",
        "family name",
        "familienaam",
        "achternamen",
        "eigen naam",
    ),
    "full_name": (
        "naam",
        "volledige naam",
        "name",
        "full name",
        "fullname",
        "patient",
        "patientnaam",
        "patient naam",
        "naam patient",
        "clientnaam",
        "client naam",
    ),
    "dob": (
        "geboortedatum",
        "geboorte datum",
        "geb datum",
        "gebdatum",
        "gebdat",
        "geb dat",
        "dob",
        "birth date",
        "birthdate",
        "date of birth",
        "birthday",
        "geboren",
    ),
    "postcode": ("postcode", "zip", "zipcode", "zip code", "postal code", "postalcode"),
    "ref": (
        "ref",
        "referentie",
        "reference",
        "id",
        "kenmerk",
        "patient id",
        "client id",
        "patientnummer",
        "clientnummer",
        "dossiernummer",
        "volgnummer",
        "record id",
        "patient nr",
        "client nr",
    ),
}
# Roles whose words are specific enough to count anywhere in a header ("bsn patient");
# "naam", "patient" or "id" only count as the last word ("patient id" is a ref, not a name).
_ANYWHERE = frozenset({"bsn", "given", "initials", "prefix", "surname", "dob", "postcode"})
# Words that qualify other columns ("Geboortedatum patiënt", "patient_nr") count only alone.
_ALONE = frozenset({"patient", "client"})
_FUZZY_MIN_LEN = 6
_FUZZY_RATIO = 85.0
_ACCEPT = 60.0
_CONTENT_SHARE = 0.6
_AUTO_NAME = re.compile(r"column_\d+")


def _normalise(text: str) -> tuple[str, ...]:
    text = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", text)  # camelCase -> camel Case
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    return tuple(re.sub(r"[^a-z0-9]+", " ", text).split())


_TABLE = [
    (role, tuple(_normalise(word)), "".join(_normalise(word)))
    for role, words in _SYNONYMS.items()
    for word in words
]


def _word_score(role: str, tokens: tuple[str, ...], words: tuple[str, ...], compact: str) -> float:
    if "".join(tokens) == compact:
        return 100.0
    if compact in _ALONE:
        return 0.0
    n = len(words)
    if tokens[-n:] == words:
        return 95.0
    if role in _ANYWHERE and any(tokens[i : i + n] == words for i in range(len(tokens) - n + 1)):
        return 88.0
    if len(compact) < _FUZZY_MIN_LEN:
        return 0.0
    candidates = {"".join(tokens), tokens[-1], "".join(tokens[-2:])}
    ratio = max(fuzz.ratio(c, compact) for c in candidates)
    return 60.0 + (ratio - _FUZZY_RATIO) if ratio >= _FUZZY_RATIO else 0.0


@lru_cache(maxsize=4096)
def _header_scores(header: str) -> dict[str, float]:
    tokens = _normalise(header)
    scores: dict[str, float] = {}
    if not tokens:
        return scores
    for role, words, compact in _TABLE:
        score = _word_score(role, tokens, words, compact)
        if score >= _ACCEPT and score > scores.get(role, 0.0):
            scores[role] = score
    return scores


def match_header(header: str) -> tuple[str, float] | None:
    """The role a header text names best, with its score (60-100), or None.

    100 is an exact synonym, 95 a synonym as the last word(s), 88 a specific synonym
    elsewhere, 60-75 a near spelling of a long synonym.
    """
    scores = _header_scores(header)
    if not scores:
        return None
    role = max(scores, key=lambda r: (scores[r], -ROLES.index(r)))
    return role, scores[role]


_DIGIT_RUN = re.compile(r"\d{4,}")


def safe_label(name: str, position: int | None = None) -> str:
    """A column name as it may be printed, or its position when the name may be data.

    Headers of dumps are labels, but JSON object keys can be values (records keyed by BSN
    or by name). A segment is printed only when it has no run of four digits and either
    is one word or reads as a known header; otherwise the column is named by position.
    """
    ok = len(name) <= 60 and not _DIGIT_RUN.search(name)
    if ok:
        for segment in name.split("."):
            if segment.strip() and len(segment.split()) > 1 and match_header(segment) is None:
                ok = False
                break
    if ok:
        return name
    return f"column {position}" if position is not None else "column (name withheld)"


def safe_roles(
    roles: ColumnRoles, columns: Sequence[str], trusted: Iterable[str] = ()
) -> dict[str, str]:
    """``roles.describe()`` with column names passed through :func:`safe_label`, except
    those the user typed (``--map``)."""
    index = {c: i + 1 for i, c in enumerate(columns)}
    known = set(trusted)
    return {
        r: c if c in known else safe_label(c, index.get(c)) for r, c in roles.describe().items()
    }


def describe_columns(columns: Sequence[str], limit: int = 30) -> str:
    """Column names for a message: quoted, long ones cut, at most ``limit`` of them;
    names that may be data are replaced by their position (:func:`safe_label`)."""
    labels = [safe_label(c, i + 1) for i, c in enumerate(columns[:limit])]
    shown = [repr(c if len(c) <= 40 else c[:37] + "...") for c in labels]
    if len(columns) > limit:
        shown.append(f"and {len(columns) - limit} more")
    return ", ".join(shown) or "none"


def no_usable_columns_error(
    display_name: str, columns: Sequence[str], roles: ColumnRoles | None = None
) -> NoUsableColumnsError:
    """The error callers raise when ``roles.usable_for_matching()`` is false."""
    labels = safe_roles(roles, columns) if roles else {}
    found = ", ".join(f"{r}={c!r}" for r, c in labels.items())
    return NoUsableColumnsError(
        f"{display_name}: no column holds BSNs, nor names with birth dates "
        f"(columns: {describe_columns(columns)}; recognised: {found or 'none'}); "
        "name them with --map bsn=COLUMN, or --map surname=COLUMN --map dob=COLUMN"
    )


def parse_mapping(items: Sequence[str]) -> dict[str, str]:
    """Parse ``--map ROLE=COLUMN`` options into {role: column}.

    :raises ConfigError: an item without ``=``, an unknown role, or a role given twice.
    """
    mapping: dict[str, str] = {}
    for item in items:
        role, sep, column = item.partition("=")
        role, column = role.strip().lower(), column.strip()
        if not sep or not role or not column:
            raise ConfigError(f"--map {item!r}: expected ROLE=COLUMN, e.g. --map bsn='Patient nr'")
        if role not in ROLES:
            raise ConfigError(f"--map: unknown role {role!r}; roles are {', '.join(ROLES)}")
        if role in mapping:
            raise ConfigError(f"--map: role {role!r} given more than once")
        mapping[role] = column
    return mapping


def _resolve_overrides(
    columns: Sequence[str], overrides: Mapping[str, str] | None
) -> dict[str, str]:
    resolved: dict[str, str] = {}
    for role, column in (overrides or {}).items():
        if role not in ROLES:
            raise ConfigError(
                f"column mapping: unknown role {role!r}; roles are {', '.join(ROLES)}"
            )
        if column in columns:
            resolved[role] = column
        elif column.isdigit() and 1 <= int(column) <= len(columns):
            resolved[role] = columns[int(column) - 1]  # a 1-based position, for headerless files
        else:
            raise ConfigError(
                f"column mapping {role}={column!r}: no such column; "
                f"the columns are {describe_columns(columns)}"
            )
    return resolved


# ---- content checks -------------------------------------------------------------------

_SAMPLE_VALUES = 500
_BSN_SEPARATORS = str.maketrans("", "", " .-")
_DIGIT = re.compile(r"\d")
_POSTCODE = re.compile(r"[1-9]\d{3}\s?[A-Za-z]{2}")
_INITIALS = re.compile(r"(?:[A-Z]\.?\s?-?){1,6}")
_NAME_CHARS = re.compile(r"[^\W\d_][^\W\d_ .,'\-]*(?:[ .,'\-]+[^\W\d_]+)*[.]?")
_PREFIX_WORDS = frozenset((
    "van", "de", "der", "den", "het", "'t", "ter", "ten", "te", "in", "op", "aan", "bij",
    "uit", "voor", "d'", "da", "dos", "du", "la", "le", "von", "zu", "del", "della", "di",
))  # fmt: skip


def _values(sample: pa.RecordBatch, column: str) -> list[str]:
    index = sample.schema.get_field_index(column)
    if index < 0:
        return []
    array = sample.column(index)
    if not pa.types.is_string(array.type) and not pa.types.is_large_string(array.type):
        array = array.cast(pa.string())
    values = []
    for value in array.to_pylist():
        if value is not None and value.strip():
            values.append(value.strip())
            if len(values) >= _SAMPLE_VALUES:
                break
    return values


def _share(values: Sequence[str], test: Callable[[str], object]) -> float:
    if not values:
        return 0.0
    return sum(1 for v in values if test(v)) / len(values)


def _bsn_ok(value: str) -> bool:
    digits = value.translate(_BSN_SEPARATORS)
    if not (digits.isascii() and digits.isdigit()) or len(digits) not in (8, 9):
        return False
    return bool(stdnum_bsn.is_valid(digits.zfill(9)))


def _has_digit(value: str) -> bool:
    return _DIGIT.search(value) is not None


def _dates(values: Sequence[str]) -> tuple[float, list[int]]:
    years = []
    for value in values:
        parsed = parse_date(value)
        if parsed is not None:
            years.append(parsed[0])
    return (len(years) / len(values) if values else 0.0), years


def _birth_like(years: list[int]) -> bool:
    """Years of a population's births: none in the future, spread over several years.

    A sample date or a registration date clusters in a few recent years.
    """
    if not years:
        return False
    this_year = datetime.now(UTC).year
    plausible = sum(1 for y in years if 1890 <= y <= this_year) / len(years)
    return plausible >= 0.95 and (max(years) - min(years) >= 5 or len(years) < 5)


def _prefix_like(value: str) -> bool:
    return all(token in _PREFIX_WORDS for token in value.lower().split())


def _name_like(value: str) -> bool:
    """Letters in 1+ words with a capitalised one: "Jan de Vries", "Vries, J. de"."""
    return (
        len(value) <= 80
        and _NAME_CHARS.fullmatch(value) is not None
        and any(token[:1].isupper() for token in value.split())
    )


def _full_name_pattern(value: str) -> bool:
    if "," in value:
        return True
    tokens = value.lower().split()
    return len(tokens) >= 3 and any(t in _PREFIX_WORDS for t in tokens[1:-1])


class _Assignment:
    """Roles given to columns, one role per column and one column per role."""

    def __init__(self, fixed: Mapping[str, str]) -> None:
        self.fixed = dict(fixed)
        self.role_of: dict[str, str] = {c: r for r, c in fixed.items()}
        self.column_of: dict[str, str] = dict(fixed)

    def free(self, role: str, column: str) -> bool:
        return role not in self.column_of and column not in self.role_of

    def set(self, role: str, column: str) -> None:
        """Give ``role`` to ``column``, taking both from whatever held them (not overrides)."""
        if role in self.fixed or column in self.fixed.values():
            return
        self.drop(role)
        old = self.role_of.pop(column, None)
        if old is not None:
            del self.column_of[old]
        self.role_of[column] = role
        self.column_of[role] = column

    def drop(self, role: str) -> None:
        if role in self.fixed:
            return
        column = self.column_of.pop(role, None)
        if column is not None:
            del self.role_of[column]


def _by_header(columns: Sequence[str], roles: _Assignment) -> None:
    ranked = []
    for position, column in enumerate(columns):
        for role, score in _header_scores(column).items():
            ranked.append((-score, position, ROLES.index(role), role, column))
    for _, _, _, role, column in sorted(ranked):
        if roles.free(role, column):
            roles.set(role, column)


def _content_bsn(columns: Sequence[str], values: dict[str, list[str]], roles: _Assignment) -> None:
    if "bsn" in roles.fixed:
        return
    header = roles.column_of.get("bsn")
    shares = {c: _share(values[c], _bsn_ok) for c in columns if values[c]}
    if header is not None and values[header]:
        if _share(values[header], _has_digit) < 0.2:
            roles.drop("bsn")  # a "BSN" column without numbers in it: not one
        elif shares[header] >= _CONTENT_SHARE:
            return
    elif header is not None:
        return  # an empty BSN column: nothing to go on but its name
    fixed = set(roles.fixed.values())
    # A column whose header names another role keeps it: a birth date written dd-mm-yyyy
    # is eight digits that pass the 11-proof one time in eleven — every time in a one-row
    # file.
    candidates = [
        c
        for c in shares
        if shares[c] >= _CONTENT_SHARE
        and c not in fixed
        and roles.role_of.get(c) in (None, "bsn", "ref")
    ]
    if candidates:
        roles.set("bsn", max(candidates, key=lambda c: shares[c]))


def _content_dob(columns: Sequence[str], values: dict[str, list[str]], roles: _Assignment) -> None:
    if "dob" in roles.fixed:
        return
    header = roles.column_of.get("dob")
    dated: dict[str, tuple[float, list[int]]] = {}
    for column in columns:
        taken = roles.role_of.get(column)
        if not values[column] or (taken not in (None, "dob", "ref")):
            continue
        if _share(values[column], _has_digit) >= 0.5:
            dated[column] = _dates(values[column])
    if header is not None and header in dated and dated[header][0] >= _CONTENT_SHARE:
        return
    candidates = [
        c
        for c, (share, years) in dated.items()
        if share >= _CONTENT_SHARE and _birth_like(years) and c != header
    ]
    if candidates:
        roles.set("dob", max(candidates, key=lambda c: dated[c][0]))
    elif header is not None and values[header] and header not in dated:
        roles.drop("dob")  # named a birth date, but holds no numbers


def _content_postcode(
    columns: Sequence[str], values: dict[str, list[str]], roles: _Assignment
) -> None:
    if "postcode" in roles.column_of:
        return
    for column in columns:
        if (
            column not in roles.role_of
            and values[column]
            and _share(values[column], _POSTCODE.fullmatch) >= _CONTENT_SHARE
        ):
            roles.set("postcode", column)
            return


def _drop_numeric_names(values: dict[str, list[str]], roles: _Assignment) -> None:
    for role in ("given", "initials", "prefix", "surname", "full_name"):
        column = roles.column_of.get(role)
        if column is not None and values[column] and _share(values[column], _has_digit) >= 0.5:
            roles.drop(role)


def _content_names(
    columns: Sequence[str], values: dict[str, list[str]], roles: _Assignment
) -> None:
    """Name roles for a file without a header, from the shape of the values."""
    free = [c for c in columns if c not in roles.role_of and len(values[c]) >= 3]
    single: list[str] = []
    for column in free:
        vals = values[column]
        if _share(vals, _prefix_like) >= 0.8 and "prefix" not in roles.column_of:
            roles.set("prefix", column)
        elif _share(vals, _INITIALS.fullmatch) >= 0.8 and "initials" not in roles.column_of:
            roles.set("initials", column)
        elif _share(vals, _name_like) >= 0.8:
            tokens = sum(len(v.split()) for v in vals) / len(vals)
            if tokens > 4:
                continue  # free text, not a name
            multi = _share(vals, lambda v: len(v.split()) >= 2)
            if (
                multi >= 0.7
                and _share(vals, _full_name_pattern) >= 0.1
                and "full_name" not in roles.column_of
            ):
                roles.set("full_name", column)
            elif _share(vals, lambda v: v.split()[0].lower() in _PREFIX_WORDS) >= 0.1:
                if "surname" not in roles.column_of:
                    roles.set("surname", column)
            else:
                single.append(column)
    prefix = roles.column_of.get("prefix")
    if prefix is not None:
        at = columns.index(prefix)
        before = [c for c in single if columns.index(c) < at]
        after = [c for c in single if columns.index(c) > at]
        if after and "surname" not in roles.column_of:
            roles.set("surname", after[0])
            single.remove(after[0])
        if before and "given" not in roles.column_of:
            roles.set("given", before[-1])
            single.remove(before[-1])
    for role in ("given", "surname"):
        if single and role not in roles.column_of:
            roles.set(role, single.pop(0))


def detect_columns(
    columns: Sequence[str],
    sample: pa.RecordBatch | None,
    *,
    overrides: Mapping[str, str] | None = None,
    has_header: bool | None = None,
) -> ColumnRoles:
    """Find the role of each column from its header and a sample of its values.

    ``overrides`` ({role: column}, from :func:`parse_mapping`) win over everything; a
    column may also be given by its 1-based position. ``has_header`` defaults to "unless
    every column is named ``column_N``" (how readers name the columns of a headerless file).
    Callers check ``usable_for_matching()`` and raise :func:`no_usable_columns_error`.

    :raises ConfigError: an override names an unknown role or a column that is not there.
    """
    columns = list(columns)
    roles = _Assignment(_resolve_overrides(columns, overrides))
    if has_header is None:
        has_header = not all(_AUTO_NAME.fullmatch(c) for c in columns)
    if has_header:
        _by_header(columns, roles)
    if sample is not None and sample.num_rows:
        values = {c: _values(sample, c) for c in columns}
        _content_bsn(columns, values, roles)
        _drop_numeric_names(values, roles)
        _content_dob(columns, values, roles)
        _content_postcode(columns, values, roles)
        if not has_header:
            _content_names(columns, values, roles)
    return ColumnRoles(**roles.column_of)
