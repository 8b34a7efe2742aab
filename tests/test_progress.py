"""The progress bar: on stderr for a person at a terminal, silent for pipes and journald."""

from __future__ import annotations

import os
import pty
import subprocess
from pathlib import Path

from conftest import CLI, cli_env, run

from matchers.synthetic import make_people, write_people_csv


def test_progress_only_on_a_terminal(tmp_path: Path) -> None:
    people = make_people(120, seed=5)
    write_people_csv(tmp_path / "cohort.csv", people[:60])
    # a leak large enough for several batches: the bar is drawn between batches
    write_people_csv(tmp_path / "leak.csv", people * 1500)
    state = tmp_path / "state"
    assert run("init", state=state).returncode == 0
    assert run("cohort", "enroll", tmp_path / "cohort.csv", "--name", "c",
               state=state).returncode == 0

    quiet = run("check-dataset", tmp_path / "leak.csv", "--json", state=state)
    assert quiet.returncode == 1, quiet
    assert quiet.stderr == "", quiet

    leader, follower = pty.openpty()
    env = cli_env({"COLUMNS": "120"})
    proc = subprocess.run(
        [*CLI, "--state-dir", str(state), "check-dataset", str(tmp_path / "leak.csv"),
         "--json"],
        stdout=subprocess.PIPE, stderr=follower, env=env, timeout=120, check=False,
    )
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    assert proc.returncode == 1
    text = seen.decode("utf-8", "replace")
    assert "leak.csv" in text and "records" in text and "%" in text and "MB" in text, text
    assert b'"schema"' in proc.stdout  # the report itself still goes to stdout
