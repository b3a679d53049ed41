"""A site that challenges the headless shell's fingerprint but lets Chrome through: the run
tries again with Chrome at once, and later runs use Chrome for a while (doctor says so)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import CLI, processes_mentioning
from support.site import TroubledSite

from consolescrape import model
from consolescrape.browser import shell
from consolescrape.config import Settings


def test_the_shell_these_tests_need_is_installed() -> None:
    """scripts/install-browser installs it; without it the tests below would prove nothing."""
    assert shell.headless_shell(Settings(home=Path("/nonexistent")), headed=False) is not None


@pytest.fixture
def env(site: TroubledSite, own_profile: Path) -> Iterator[dict[str, str]]:
    site.reset()
    yield {
        "CONSOLESCRAPE_USAGE_URL": site.url,
        "CONSOLESCRAPE_PROFILE_DIR": str(own_profile),
        "CONSOLESCRAPE_TIMEOUT": "40",
    }
    site.reset()
    assert processes_mentioning(own_profile) == [], "a Chrome or chromedriver outlived the run"


def test_a_bot_check_only_the_shell_gets_is_passed_with_chrome_and_remembered(
    cli: CLI, home: Path, site: TroubledSite, env: dict[str, str]
) -> None:
    site.configure(fingerprint_check=True)
    first = cli("run", "--no-sync", "--verbose", env=env)
    assert first.code == 0, first.stderr
    assert "the site showed the headless shell a bot check: trying again with Chrome" in (
        first.stderr
    )
    assert "browser: chromium-headless-shell launched" in first.stderr
    assert "browser: chromium launched" in first.stderr
    saved = json.loads((home / "usage-data.json").read_text())
    assert saved["currentSession"]["percentageUsed"] == 47
    refused = json.loads((home / "shell-refused.json").read_text())
    until = model.parse_time(refused["until"])
    assert timedelta(days=6) < until - datetime.now(UTC) <= timedelta(days=7)

    # The next run goes to Chrome at once: no shell, no second try.
    second = cli("run", "--no-sync", "--verbose", env=env)
    assert second.code == 0, second.stderr
    assert "headless-shell launched" not in second.stderr
    assert "trying again" not in second.stderr
    doctor = cli("doctor", env=env)
    assert "the site showed the headless shell a bot check, so runs use Chrome until" in (
        doctor.stdout
    )

    # Once the time is up, the shell is tried again.
    (home / "shell-refused.json").write_text(
        json.dumps({"until": model.format_time(datetime.now(UTC) - timedelta(minutes=1))})
    )
    site.reset()
    third = cli("run", "--no-sync", "--verbose", env=env)
    assert third.code == 0, third.stderr
    assert "browser: chromium-headless-shell launched" in third.stderr


def test_a_bot_check_chrome_gets_too_is_exit_4_after_one_more_try(
    cli: CLI, home: Path, site: TroubledSite, env: dict[str, str]
) -> None:
    site.configure(bot_check=True)
    result = cli("run", "--no-sync", "--verbose", env=env)
    assert result.code == 4
    assert "bot check: the site asks to verify you are human" in result.stderr
    assert result.stderr.count("trying again with Chrome") == 1
    assert (home / "shell-refused.json").exists()
