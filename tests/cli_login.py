"""Logging a profile in to the stand-in site as a user does: `consolescrape login
--session-key-stdin`. Shared by the tests' logged-in profile and the benchmarks."""

from __future__ import annotations

import subprocess
import sys


def login_command(url: str, *options: str) -> list[str]:
    """The real CLI logging in to `url` with the session key it reads on stdin."""
    return [
        sys.executable,
        "-m",
        "consolescrape",
        "login",
        "--session-key-stdin",
        "--url",
        url,
        *options,
    ]


def log_in(url: str, session_key: str, env: dict[str, str]) -> None:
    """Log the profile that `env` names in to `url`, quietly; fails loudly if it cannot."""
    subprocess.run(login_command(url, "--quiet"), input=session_key.encode(), env=env, check=True)
