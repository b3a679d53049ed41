"""The worker's shared Chrome (shared_chrome.py) lends a browser that knows nothing of the last
read: no cookie, no hung page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.common.exceptions import WebDriverException
from shared_chrome import SharedChrome
from support.site import StandIn

from consolescrape.config import Settings
from consolescrape.errors import LoggedOut, ScrapeFailed

KEY = "shared-chrome-test-session-5150"
PAGES = Path(__file__).parent / "pages"


@pytest.fixture(scope="module")
def site() -> Iterator[StandIn]:
    with StandIn(session_key=KEY) as server:
        yield server


def settings(home: Path, site: StandIn, timeout: float = 30.0) -> Settings:
    return Settings(home=home, usage_url=site.url, timeout=timeout)


def test_a_read_without_a_session_finds_no_cookie_of_the_last_read(
    shared_chrome: SharedChrome, site: StandIn, tmp_path: Path
) -> None:
    assert shared_chrome.read(settings(tmp_path, site), KEY).session is not None
    with pytest.raises(LoggedOut):
        shared_chrome.read(settings(tmp_path, site), None)


def test_a_hung_page_is_not_the_next_reads_problem(
    shared_chrome: SharedChrome, site: StandIn, tmp_path: Path
) -> None:
    site.set_page(PAGES / "busy.html")  # its script never yields
    with pytest.raises((ScrapeFailed, WebDriverException)):
        shared_chrome.read(settings(tmp_path, site, timeout=1.5), KEY)
    site.reset()
    assert shared_chrome.read(settings(tmp_path, site), KEY).session is not None


def test_a_read_that_failed_unexpectedly_gets_a_new_browser(
    shared_chrome: SharedChrome, site: StandIn, tmp_path: Path
) -> None:
    with pytest.raises(RuntimeError), shared_chrome.session(settings(tmp_path, site), KEY):
        raise RuntimeError("a bug in a test")
    launches = shared_chrome.launches
    assert shared_chrome.read(settings(tmp_path, site), KEY).session is not None
    assert shared_chrome.launches == launches + 1
