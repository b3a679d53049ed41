"""What a run spares the browser (besides the headless shell, `shell.py`):

- the endpoint first, asked from a JSON document of the site (its cookies, its origin): no app
  script runs and nothing else loads. The page is opened only when the endpoint does not give
  every section the server needs, and then it is read exactly as without this step;
- on the page: no fonts or media (the text is read without them); images are off from the start.

Measured on the heavy stand-in (benchmarks/heavy_site.py, `make bench`): README "What a run costs".
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from urllib.parse import urljoin, urlsplit

from selenium.common.exceptions import TimeoutException, WebDriverException

from consolescrape import extract
from consolescrape.browser.endpoint import API_TIMEOUT, read_api
from consolescrape.browser.session import Browser, first_line
from consolescrape.browser.usage_page import NETWORK_ERROR_URL
from consolescrape.model import Snapshot

logger = logging.getLogger(__name__)

#: A JSON document of the site from which to ask the endpoint: loading it runs no script and
#: loads no script, stylesheet, font or image.
ENDPOINT_DOCUMENT = "/api/organizations"
#: What the page's text is read without (Chrome's wildcard patterns, with and without a query).
EXTRAS = tuple(
    f"*.{ext}{query}"
    for ext in ("woff2", "woff", "ttf", "otf", "eot", "mp4", "webm", "ogg", "mp3", "m4a", "wav")
    for query in ("", "?*")
)


@dataclass(frozen=True)
class FirstLook:
    """What the endpoint said before any page of the app was opened."""

    #: The endpoint was asked (from a document of the site); False: ask it from the page.
    asked: bool
    api: extract.Reading | None = None
    #: Every section the server needs, from the endpoint alone: no page to open.
    snapshot: Snapshot | None = None


def endpoint_first(browser: Browser, *, tz: tzinfo) -> FirstLook:
    """Ask the endpoint from a JSON document of the site; the snapshot when that is enough."""

    assert browser.driver is not None
    target = browser.settings.usage_url
    url = urljoin(target, ENDPOINT_DOCUMENT)
    # Bounded like one endpoint request: a site that does not answer leaves the page its time.
    browser.driver.set_page_load_timeout(max(0.5, min(API_TIMEOUT, browser.remaining())))
    try:
        browser.driver.get(url)
        here = browser.driver.current_url
        # An unreachable site leaves Chrome's error page, which keeps the URL asked for: only
        # the document knows. Asking the endpoint from it would wait out API_TIMEOUT for nothing.
        shown = str(browser.driver.execute_script("return document.URL"))
    except (TimeoutException, WebDriverException) as exc:
        logger.debug(f"api: {ENDPOINT_DOCUMENT} did not load ({first_line(str(exc.msg))})")
        return FirstLook(asked=False)
    if shown.startswith(NETWORK_ERROR_URL) or urlsplit(here).netloc != urlsplit(target).netloc:
        return FirstLook(asked=False)  # an error page, or sent elsewhere (another host)
    api = read_api(browser, tz=tz)
    return FirstLook(True, api, _complete(api, browser.settings.model_row))


def _complete(api: extract.Reading | None, model_row: str) -> Snapshot | None:
    if api is None or not (api.limits or api.spend):
        return None
    try:
        snapshot = extract.merge([api], now=datetime.now(UTC), model_row=model_row)
    except extract.NoUsage:
        return None
    return None if snapshot.is_partial else snapshot


def block_extras(browser: Browser) -> None:
    """Fonts and media stay unloaded on the page: its text is read without them."""

    assert browser.driver is not None
    with contextlib.suppress(WebDriverException):
        # The blocklist applies only while the Network domain is on.
        browser.driver.execute_cdp_cmd("Network.enable", {})
        browser.driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": list(EXTRAS)})
