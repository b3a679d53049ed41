"""A command forked from the warm interpreter (support/warm.py) answers as a new interpreter
running `python -m consolescrape` does: the same exit code, stdout and stderr."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support.warm import Warm, executed, needs_exec


@pytest.mark.parametrize(
    ("args", "stdin"),
    [
        (["--version"], None),
        (["status", "--json"], None),  # the home, from the environment
        (["sync", "--no-such-option"], None),  # a usage error: exit 2, the program's name
        (["login", "--session-key-stdin"], "sk-ant-not-a-key\n"),  # stdin, and exit 4
        (["history", "--csv"], None),
    ],
)
def test_a_warm_command_answers_as_a_new_interpreter_does(
    warm: Warm, tmp_path: Path, args: list[str], stdin: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the child's working directory is the test's
    env = {
        **os.environ,
        "CONSOLESCRAPE_HOME": str(tmp_path / "home"),
        "CONSOLESCRAPE_USAGE_URL": "http://127.0.0.1:9/settings/usage",
        "TZ": "Asia/Kolkata",
    }
    forked = warm.run(args, env=env, stdin=stdin, timeout=60)
    new = executed(args, env=env, stdin=stdin, timeout=60)
    assert (forked.returncode, forked.stdout) == (new.returncode, new.stdout)
    assert untimed(forked.stderr) == untimed(new.stderr)


def untimed(text: str) -> str:
    """stderr without the timestamps that start its lines (the two may be a second apart)."""
    return "\n".join(line.partition("Z ")[2] or line for line in text.splitlines())


def test_start_up_settings_go_to_a_new_interpreter() -> None:
    assert needs_exec({"PYTHONPROFILEIMPORTTIME": "1"})
    assert needs_exec({"LC_ALL": "C"})
    assert not needs_exec({"TZ": "UTC", "CONSOLESCRAPE_HOME": "/x"})
    assert not needs_exec(dict(os.environ))
