"""Health pings (healthchecks.io style) reach a real local server, and never raise."""

from __future__ import annotations

import time
from pathlib import Path

from conftest import CLI

from consolescrape.sync import ping_health


def test_success_pings_the_url_and_failure_pings_url_fail(pings: tuple[str, list[str]]) -> None:
    url, seen = pings
    assert ping_health(url, ok=True)
    assert ping_health(url + "/", ok=False)
    assert seen == ["/ping/abc", "/ping/abc/fail"]


def test_unreachable_ping_returns_false_instead_of_raising() -> None:
    assert ping_health("http://127.0.0.1:9/ping", ok=True) is False


def test_a_trickling_health_check_cannot_keep_a_run_alive(
    cli: CLI, home: Path, trickling_server: str
) -> None:
    # No profile: the run fails at once (exit 3) and pings URL/fail on its way out.
    started = time.monotonic()
    result = cli("run", env={"CONSOLESCRAPE_HEALTHCHECK_URL": trickling_server})
    assert result.code == 3, result.stderr
    assert time.monotonic() - started < 9, "the README promises at most 5 s for the ping"
    assert "health ping failed" in result.stderr
