from __future__ import annotations

from pathlib import Path

import pytest

from matchers.engine import MatchSettings
from matchers.errors import ConfigError
from matchers.readers.base import ReaderLimits
from monitor.config import BloomSettings, load_config
from monitor.crawl import CrawlerSettings
from monitor.tor.settings import TorSettings
from monitor.watchlist import WatchlistSettings


def _write(tmp_path: Path, text: str) -> str:
    p = tmp_path / "c.toml"
    p.write_text(text, encoding="utf-8")
    return str(p)


def test_defaults_without_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COHORTWATCH_CONFIG", raising=False)
    cfg = load_config(None)
    assert cfg.source == "built-in defaults"
    assert 0 < cfg.matching.name_dob_threshold <= 1


def test_values_are_read(tmp_path: Path) -> None:
    cfg = load_config(_write(
        tmp_path,
        "[matching]\nname_dob_threshold = 0.9\nmax_block = 10\naccept_conflicting_dob = false\n",
    ))
    assert cfg.matching.name_dob_threshold == 0.9
    assert cfg.matching.max_block == 10
    assert cfg.matching.accept_conflicting_dob is False


def test_environment_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COHORTWATCH_CONFIG", _write(tmp_path, "[bloom]\nk = 7\n"))
    assert load_config(None).bloom.k == 7


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("[matching]\nname_dob_treshold = 0.9\n", "matching.name_dob_treshold"),
        ("[matchng]\n", "'matchng'"),
        ("[matching]\nname_dob_threshold = 'high'\n", "matching.name_dob_threshold"),
        ("[matching]\nmax_block = 1.5\n", "matching.max_block"),
        ("[matching]\nname_dob_threshold = 1.5\n", "matching.name_dob_threshold"),
        ("[matching]\npostcode_min_name = 2\n", "matching.postcode_min_name"),
        ("[matching]\naccept_conflicting_dob = 1\n", "matching.accept_conflicting_dob"),
        ("[matching]\nmax_block = true\n", "matching.max_block"),
        ("key_file = 3\n", "key_file"),
        ("[bloom]\nbits = 100\n", "bloom"),
    ],
)
def test_errors_name_file_and_key_path(tmp_path: Path, text: str, where: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert path in str(err.value)
    assert where in str(err.value)


def test_bad_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(_write(tmp_path, "[matching\n"))
    with pytest.raises(ConfigError, match="not found"):
        load_config(str(tmp_path / "nope.toml"))


def test_shipped_example_config_loads_and_documents_the_defaults() -> None:
    """config/cohortwatch.example.toml (also quoted in the README) stays true to the code."""
    example = Path(__file__).resolve().parents[1] / "config" / "cohortwatch.example.toml"
    cfg = load_config(str(example))
    assert cfg.matching == MatchSettings()
    assert cfg.limits == ReaderLimits()
    assert cfg.bloom == BloomSettings()
    assert cfg.tor == TorSettings()
    assert cfg.crawler == CrawlerSettings()
    assert cfg.watchlist.threshold == WatchlistSettings().threshold
    assert "Clinical Diagnostics NMDL" in [e.name for e in cfg.watchlist.entries]


def test_tor_and_crawler_sections(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, '[tor]\nsocks = "127.0.0.1:9150"\ncontrol = ""\n'
                                       "[crawler]\nconcurrency = 2\n"))
    assert cfg.tor.socks_address() == ("127.0.0.1", 9150) and cfg.tor.control == ""
    assert cfg.crawler.concurrency == 2
    with pytest.raises(ConfigError, match=r"at 'tor.socks': expected host:port"):
        load_config(_write(tmp_path, '[tor]\nsocks = "9050"\n'))
    with pytest.raises(ConfigError, match=r"at 'tor.sock': unknown key"):
        load_config(_write(tmp_path, '[tor]\nsock = "127.0.0.1:9050"\n'))
    with pytest.raises(ConfigError, match=r"at 'tor.managed': expected bool"):
        load_config(_write(tmp_path, "[tor]\nmanaged = 1\n"))
    with pytest.raises(ConfigError, match=r"at 'crawler.concurrency'"):
        load_config(_write(tmp_path, '[crawler]\nconcurrency = "8"\n'))
