"""Shared helpers for the black-box CLI tests: run ``cohortwatch`` as a user runs it.

Every command runs in a subprocess (``python -m monitor.cli``) with an environment cleaned
of the variables that would change where state or the key is found, so a developer's own
``$STATE_DIRECTORY`` or ``$COHORTWATCH_CONFIG`` never leaks into a test. Start-up of the
program costs most of each test's time, so :class:`Scenarios` runs independent command
sequences side by side. :class:`ResidueScanner` searches bytes for raw personal values
(privacy rule 4, and the messages of bad-input runs). Data is synthetic only
(:mod:`matchers.synthetic`). The ``tor_network`` fixture is the private Tor network of
:mod:`monitor.tor.testnet`, started once per session by the first test that asks for it.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from matchers.synthetic import Person, display_name, drop_diacritics, format_date, reformat_bsn
from monitor.errors import TorError
from monitor.tor import testnet

CLI = (sys.executable, "-m", "monitor.cli")
REPO = Path(__file__).resolve().parent.parent
_SCRUB = ("STATE_DIRECTORY", "CREDENTIALS_DIRECTORY", "COHORTWATCH_CONFIG", "JOURNAL_STREAM")


@dataclass(frozen=True)
class Result:
    """What a user sees of one command: exit status, stdout, stderr."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> dict[str, Any]:
        """The JSON report on stdout; a crash (exit 1 with a traceback) fails loudly here."""
        assert "Traceback" not in self.stderr, self
        try:
            return json.loads(self.stdout)
        except json.JSONDecodeError:
            raise AssertionError(f"no JSON report on stdout:\n{self}") from None

    def __str__(self) -> str:  # shown by assertion messages
        return (
            f"$ cohortwatch {' '.join(self.args)}\n-> exit {self.returncode}\n"
            f"--- stdout\n{self.stdout[-3000:]}\n--- stderr\n{self.stderr[-3000:]}"
        )


def cli_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
    env.update(extra or {})
    return env


def _argv(args: Sequence[str | Path], state: Path | None) -> tuple[str, ...]:
    head: tuple[str, ...] = ("--state-dir", str(state)) if state is not None else ()
    return (*head, *(str(a) for a in args))


def run(
    *args: str | Path,
    state: Path | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 120,
) -> Result:
    """Run ``cohortwatch [--state-dir STATE] ARGS`` and capture everything."""
    argv = _argv(args, state)
    proc = subprocess.run(
        [*CLI, *argv],
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        env=cli_env(env),
        cwd=cwd or tempfile.gettempdir(),
        timeout=timeout,
        check=False,
    )
    return Result(argv, proc.returncode, proc.stdout, proc.stderr)


class Running:
    """A command started with :func:`start`; :meth:`result` waits for it."""

    def __init__(self, argv: tuple[str, ...], proc: subprocess.Popen[str]) -> None:
        self.argv, self.proc = argv, proc

    def result(self, timeout: float = 120) -> Result:
        out, err = self.proc.communicate(timeout=timeout)
        return Result(self.argv, self.proc.returncode, out, err)


def start(
    *args: str | Path,
    state: Path | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Running:
    """Start ``cohortwatch [--state-dir STATE] ARGS`` without waiting for it."""
    argv = _argv(args, state)
    proc = subprocess.Popen(
        [*CLI, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="replace",
        env=cli_env(env),
        cwd=cwd or tempfile.gettempdir(),
    )
    return Running(argv, proc)


def run_many(
    calls: Iterable[Sequence[str | Path]],
    *,
    state: Path | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 120,
) -> list[Result]:
    """Run independent commands side by side (interpreter start-up dominates their time).

    Note: the first ``check-dataset`` on a state directory should not run beside another
    one (see test_cli.py::test_first_scan_waits_for_a_busy_database).
    """
    started = [start(*args, state=state, env=env, cwd=cwd) for args in calls]
    return [running.result(timeout) for running in started]


def assert_clean_error(result: Result, *, forbidden: Iterable[str] = ()) -> None:
    """Exit 2, a message on stderr without a traceback, and none of ``forbidden`` in it."""
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr, result
    assert "Traceback" not in result.stdout, result
    message = result.stderr.strip()
    assert message, result
    assert len(message.splitlines()) == 1, result
    for value in forbidden:
        if value:
            assert value.casefold() not in result.stderr.casefold(), (value, result)
            assert value.casefold() not in result.stdout.casefold(), (value, result)


def write_rows(
    path: Path,
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    delimiter: str = ";",
    encoding: str = "utf-8",
) -> Path:
    """A delimited file with a header row, written with the csv module."""
    with path.open("w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh, delimiter=delimiter, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def fixed_key(path: Path, seed: bytes = b"cohortwatch-tests") -> Path:
    """Put a known 32-byte key at ``path`` (0600), so that runs are reproducible.

    ``init`` keeps an existing valid key, so this makes every encoding in the state
    database the same from run to run: a test over its bytes is then deterministic.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    path.write_bytes(hashlib.sha256(seed).digest())
    path.chmod(0o600)
    return path


class Scenarios:
    """Independent command sequences of a test module, run side by side in threads.

    Starting the program costs most of a CLI test's time, and most sequences do not depend
    on each other: each scenario (a function of a fresh directory) runs its commands and
    returns what it saw; the module's tests then assert on those outcomes. An exception in
    a scenario is raised in the tests that read it, not elsewhere.
    """

    def __init__(self) -> None:
        self._functions: dict[str, Callable[[Path], Any]] = {}

    def __call__(self, function: Callable[[Path], Any]) -> Callable[[Path], Any]:
        self._functions[function.__name__] = function
        return function

    def start(self, base: Path, workers: int = 3) -> Outcomes:
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="scenario")
        futures = {}
        for name, function in self._functions.items():
            where = base / name
            where.mkdir()
            futures[name] = pool.submit(function, where)
        pool.shutdown(wait=False)
        return Outcomes(futures)


class Outcomes:
    """What each scenario returned, waited for on first use."""

    def __init__(self, futures: dict[str, Future[Any]]) -> None:
        self._futures = futures

    def __getitem__(self, name: str) -> Any:
        return self._futures[name].result(timeout=280)

    def wait(self) -> None:
        for future in self._futures.values():
            future.exception(timeout=280)


# --------------------------------------------------------------------------- residue scanner

_LETTERS = r"[^\W\d_]"
NAME_STYLES = ("full", "first", "initials", "inverted", "inverted_initials", "registry")
DATE_STYLES = ("iso", "dmy_dash", "ymd_compact", "dmy_slash", "dmy_dot", "text_nl")


def _trie_pattern(words: Iterable[str]) -> str:
    """One regular expression for many literal words, shaped as a trie (fast in ``re``)."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        ends = "" in node
        alternatives = [re.escape(ch) + build(node[ch]) for ch in sorted(node) if ch]
        if not alternatives:
            return ""
        if len(alternatives) == 1 and not ends:
            return alternatives[0]
        group = "(?:" + "|".join(alternatives) + ")"
        return group + "?" if ends else group

    return build(trie)


def _texts(data: bytes) -> Iterator[tuple[str, str]]:
    """The ways a value can sit in bytes: UTF-8 (and ASCII), Latin-1/cp1252, UTF-16."""
    yield "utf-8", data.decode("utf-8", errors="replace")
    yield "latin-1", data.decode("latin-1")
    for codec in ("utf-16-le", "utf-16-be"):
        for offset in (0, 1):
            chunk = data[offset:]
            chunk = chunk[: len(chunk) // 2 * 2]
            yield f"{codec}@{offset}", chunk.decode(codec, errors="replace")


@dataclass
class Hit:
    source: str
    encoding: str
    offset: int
    value: str

    def __str__(self) -> str:
        return f"{self.source} [{self.encoding} @{self.offset}]: {self.value!r}"


@dataclass
class ResidueScanner:
    """Searches bytes for raw personal values.

    Values are compared case-folded. Letters-only values of four letters must stand as a
    word (no letter on either side), so that 'Anna' is not found in 'Johanna' or in a
    random run of encoded bytes; longer values and values with digits are found anywhere.
    Values shorter than four characters are not searched (they occur everywhere).
    """

    values: set[str] = field(default_factory=set)

    def add(self, *values: str) -> None:
        for value in values:
            value = value.strip()
            if len(value) >= 4:
                self.values.add(value.casefold())
                self.values.add(drop_diacritics(value).casefold())

    def compile(self) -> re.Pattern[str]:
        short = {v for v in self.values if len(v) == 4 and re.fullmatch(r"[^\W\d_]+", v)}
        long = self.values - short
        parts = []
        if long:
            parts.append(_trie_pattern(long))
        if short:
            parts.append(f"(?<!{_LETTERS})(?:{_trie_pattern(short)})(?!{_LETTERS})")
        return re.compile("|".join(parts) or r"(?!x)x")

    def scan(self, sources: dict[str, bytes]) -> list[Hit]:
        pattern = self.compile()
        hits = []
        for source, data in sources.items():
            for encoding, text in _texts(data):
                for m in pattern.finditer(text.casefold()):
                    hits.append(Hit(source, encoding, m.start(), m.group()))
        return hits


def _expand(name: str, data: bytes) -> Iterator[tuple[str, bytes]]:
    """The bytes of a file, and the members of a zip or gzip file (compressed bytes
    would hide any value from the search)."""
    yield name, data
    if data.startswith(b"PK\x03\x04"):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for member in archive.namelist():
                yield from _expand(f"{name}!{member}", archive.read(member))
    elif data.startswith(b"\x1f\x8b"):
        yield from _expand(f"{name}!gunzip", gzip.decompress(data))


def files_under(*roots: Path) -> dict[str, bytes]:
    """Every regular file below the roots (and inside their zip/gzip files), by path."""
    out = {}
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.is_symlink():
                out.update(_expand(str(path), path.read_bytes()))
    return out


def person_values(p: Person) -> list[str]:
    """Every raw value of a person, in the forms a program might write it."""
    rng = random.Random(0)
    values = [p.bsn, reformat_bsn(p.bsn, rng, "space"), reformat_bsn(p.bsn, rng, "dots"),
              reformat_bsn(p.bsn, rng, "dashes"), p.postcode, p.postcode.replace(" ", "")]
    if p.bsn.startswith("0"):
        values.append(p.bsn[1:])
    values += [p.given_names, *p.given_names.split()]
    values += [core for core in re.split(r"[\s\-]+", p.surname) if len(core) > 3]
    values += [p.surname, f"{p.prefix} {p.surname}".strip(), f"{p.surname}, {p.prefix}"]
    values += [display_name(p, style) for style in NAME_STYLES]
    values += [format_date(p.dob, rng, style) for style in DATE_STYLES]
    return values


# --------------------------------------------------------------------------- Tor test network


def in_ci() -> bool:
    """``CI=true``: tests that cannot run must fail, not skip."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def require_tor() -> None:
    """Skip the calling test when tor is not installed — fail it under ``CI=true``."""
    if testnet.tor_binaries() is None:
        reason = "tor is not installed (`make test` installs it; or: apt-get install tor)"
        if in_ci():
            pytest.fail(f"{reason}; CI=true: the Tor tests must run", pytrace=False)
        pytest.skip(reason)


@pytest.fixture(scope="session")
def tor_network(request: pytest.FixtureRequest) -> Iterator[testnet.TorTestNetwork]:
    """The private Tor network (:mod:`monitor.tor.testnet`): started on first use, stopped at
    session end.

    Without ``tor`` installed the test is skipped — or fails under ``CI=true``. A network
    that is not usable within 120 s fails the test with the tor logs' tail.
    """
    require_tor()
    cache = getattr(request.config, "cache", None)
    key_cache = cache.mkdir("tornet-authority-keys") if cache is not None else None
    try:
        network = testnet.launch(timeout=120, key_cache=key_cache)
    except TorError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield network
    network.stop()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that uses the Tor network is a ``tor`` test, so ``-m tor`` selects it."""
    for item in items:
        uses_tor = "tor_network" in getattr(item, "fixturenames", ())
        if uses_tor and item.get_closest_marker("tor") is None:
            item.add_marker(pytest.mark.tor)
