"""Where state lives: ``--state-dir``, else ``$STATE_DIRECTORY`` (systemd), else ./.cohortwatch."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["resolve_state_dir"]


def resolve_state_dir(option: str | None) -> Path:
    """The state directory chosen by option, systemd or default (first entry of a
    colon-separated ``$STATE_DIRECTORY``, as systemd may pass several)."""
    if option:
        return Path(option)
    env = os.environ.get("STATE_DIRECTORY")
    if env:
        return Path(env.split(":")[0])
    return Path(".cohortwatch")
