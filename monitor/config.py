"""Configuration: one TOML file, validated once into frozen dataclasses.

Unknown keys are errors (a typo in a threshold must not pass silently) and every error names
the file and the key path, e.g. ``config.toml: at 'matching.name_dob_threshold': ...``.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alerts.settings import AlertSettings, load_alert_settings
from matchers.archives import ArchiveLimits
from matchers.engine import MatchSettings
from matchers.errors import ConfigError
from matchers.readers.base import ReaderLimits
from monitor.crawl.settings import CrawlerSettings
from monitor.ops_settings import MetricsSettings, load_metrics_settings
from monitor.sites.load import CONFIG_KEYS as SITE_KEYS
from monitor.sites.load import load_config_sites
from monitor.sites.model import Site
from monitor.tor.settings import TorSettings, load_tor_settings
from monitor.watchlist import WatchlistSettings, load_watchlist

__all__ = ["Config", "load_config"]


@dataclass(frozen=True)
class BloomSettings:
    """Filter geometry; changing it requires re-enrolling every cohort."""

    bits: int = 256
    k: int = 6


@dataclass(frozen=True)
class Config:
    source: str = "built-in defaults"
    key_file: Path | None = None
    matching: MatchSettings = field(default_factory=MatchSettings)
    limits: ReaderLimits = field(default_factory=ReaderLimits)
    bloom: BloomSettings = field(default_factory=BloomSettings)
    archives: ArchiveLimits = field(default_factory=ArchiveLimits)
    sites: tuple[Site, ...] = ()
    sites_dir: Path | None = None
    tor: TorSettings = field(default_factory=TorSettings)
    crawler: CrawlerSettings = field(default_factory=CrawlerSettings)
    watchlist: WatchlistSettings = field(default_factory=WatchlistSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)


def _section(cls: type, data: Any, where: str, source: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: at '{where}': expected a table")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in fields:
            known = ", ".join(sorted(fields))
            raise ConfigError(f"{source}: at '{where}.{key}': unknown key (known: {known})")
        default = getattr(cls(), key)
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise ConfigError(f"{source}: at '{where}.{key}': expected true or false")
            values[key] = value
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{source}: at '{where}.{key}': expected a number")
        if isinstance(default, int) and not isinstance(value, int):
            raise ConfigError(f"{source}: at '{where}.{key}': expected a whole number")
        if value < 0:
            raise ConfigError(f"{source}: at '{where}.{key}': must not be negative")
        values[key] = value
    return cls(**values)


def load_config(option: str | None) -> Config:
    """Read ``--config``, else ``$COHORTWATCH_CONFIG``, else built-in defaults.

    :raises ConfigError: unreadable file, bad TOML, unknown key or wrong type.
    :raises SiteConfigError: an invalid site definition (see :mod:`monitor.sites.load`).
    """
    name = option or os.environ.get("COHORTWATCH_CONFIG")
    if not name:
        return Config()
    path = Path(name)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read configuration ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    sections = {
        "matching": MatchSettings,
        "limits": ReaderLimits,
        "bloom": BloomSettings,
        "archives": ArchiveLimits,
        "crawler": CrawlerSettings,
    }
    kwargs: dict[str, Any] = {"source": str(path)}
    kwargs.update(load_config_sites(data, path))  # [sites.NAME] tables and sites_dir/*.toml
    for key, value in data.items():
        if key == "key_file":
            if not isinstance(value, str):
                raise ConfigError(f"{path}: at 'key_file': expected a path string")
            kwargs["key_file"] = Path(value)
        elif key in sections:
            kwargs[key] = _section(sections[key], value, key, str(path))
        elif key == "tor":
            kwargs["tor"] = load_tor_settings(value, str(path))
        elif key == "watchlist":
            kwargs["watchlist"] = load_watchlist(value, "watchlist", str(path))
        elif key == "metrics":
            kwargs["metrics"] = load_metrics_settings(value, str(path))
        elif key == "alerts":
            kwargs["alerts"] = load_alert_settings(value, str(path))
        elif key not in SITE_KEYS:
            known = ", ".join(["key_file", *sections, "tor", "watchlist", "metrics",
                               "alerts", *SITE_KEYS])
            raise ConfigError(f"{path}: at '{key}': unknown key (known: {known})")
    cfg = Config(**kwargs)
    m = cfg.matching
    for name_ in (
        "name_dob_threshold", "given_weight", "given_floor", "initial_weight",
        "partial_dob_min_name", "dob_postcode_min_name", "postcode_min_name",
        "correction_min_name",
    ):
        if not 0 <= getattr(m, name_) <= 1:
            raise ConfigError(f"{path}: at 'matching.{name_}': must be between 0 and 1")
    if cfg.bloom.bits % 64 or not 1 <= cfg.bloom.k <= 16:
        raise ConfigError(f"{path}: at 'bloom': bits must be a multiple of 64 and k 1..16")
    return cfg
