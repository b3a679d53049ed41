"""The site's JSON endpoint, asked from inside the logged-in page (its cookies, its bot-check
clearance): GET /api/organizations, pick the organization, GET /api/organizations/{uuid}/usage.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime, tzinfo
from urllib.parse import quote, urlsplit

from selenium.common.exceptions import JavascriptException, TimeoutException

from consolescrape import extract
from consolescrape.browser.session import Browser, first_line
from consolescrape.errors import ConfigError
from consolescrape.sanitize import clean

logger = logging.getLogger(__name__)

#: Per request to the site's JSON endpoint.
API_TIMEOUT = 10.0

#: GET a same-origin path with the page's own cookies; {status, text, retryAfter, mitigated}
#: (status 0: no answer). `cf-mitigated: challenge` is how Cloudflare marks a bot check.
FETCH_JS = """
const [path, ms, done] = arguments;
const abort = new AbortController();
const timer = setTimeout(() => abort.abort(), ms);
fetch(path, {credentials: "include", headers: {"Accept": "application/json"}, signal: abort.signal})
  .then(async (r) => done({status: r.status, text: await r.text(), cookie: document.cookie,
                           retryAfter: r.headers.get("retry-after"),
                           mitigated: r.headers.get("cf-mitigated")}))
  .catch((e) => done({status: 0, text: String(e), cookie: document.cookie}))
  .finally(() => clearTimeout(timer));
"""


class Refused(ValueError):
    """The endpoint answered, but not 200: its status and what its headers say about it."""

    def __init__(self, message: str, status: int, retry_after: str | None, mitigated: str) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        self.mitigated = mitigated


def _fetch_json(browser: Browser, path: str) -> tuple[object, str]:
    """GET `path` from inside the page; (parsed JSON, document.cookie). ValueError on failure."""
    assert browser.driver is not None
    seconds = min(API_TIMEOUT, browser.remaining())
    if seconds <= 0.2:
        raise ValueError("no time left")
    browser.driver.set_script_timeout(seconds + 1)
    raw = browser.driver.execute_async_script(FETCH_JS, path, int(seconds * 1000))
    doc = raw if isinstance(raw, dict) else {}
    status, text = doc.get("status"), str(doc.get("text") or "")
    if status != 200:
        message = f"{path} answered {status or 'nothing'}: {_excerpt(text)}"
        if isinstance(status, int) and status:
            retry_after = doc.get("retryAfter")
            raise Refused(
                message,
                status,
                retry_after if isinstance(retry_after, str) else None,
                str(doc.get("mitigated") or "").strip().lower(),
            )
        raise ValueError(message)
    try:
        return json.loads(text), str(doc.get("cookie") or "")
    except ValueError:
        raise ValueError(f"{path} answered something that is not JSON: {_excerpt(text)}") from None


def _excerpt(text: str) -> str:
    """A short, printable excerpt of an answer (it may be an HTML error page)."""
    return repr(" ".join(clean(text[:200]).split())[:80])


def _cookie_value(cookies: str, name: str) -> str | None:
    for part in cookies.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


def read_api(browser: Browser, *, tz: tzinfo) -> extract.Reading | None:
    """What the site's JSON endpoint says, as the page itself loads it; None when it fails.

    When it fails with a bot check or the site's passing trouble (429, 5xx), a reading without
    limits says so (`challenge`, `trouble`): the page may still carry the run. The reading
    names the organization asked (`organization`); a CONSOLESCRAPE_ORG that names none of the
    listed ones is a configuration error.
    """
    began = time.monotonic()
    choice: extract.Choice | None = None
    try:
        orgs, cookies = _fetch_json(browser, "/api/organizations")
        choice = _choose(browser, orgs, _cookie_value(cookies, "lastActiveOrg"))
        if choice is None:
            raise ValueError("no organization with chat among /api/organizations")
        path = f"/api/organizations/{quote(choice.uuid, safe='')}/usage"
        usage, _ = _fetch_json(browser, path)
        reading = extract.read_api(usage, now=datetime.now(UTC), tz=tz)
    except Refused as exc:
        return _refused(browser, exc, choice)
    except _api_errors() as exc:
        logger.debug(f"api: {first_line(str(exc))}; the page text has to carry the run")
        return _without_limits(choice)
    reading.organization = choice
    found = ", ".join(reading.limits) or "no limit"
    logger.debug(f"api: {found} in {time.monotonic() - began:.2f} s")
    for note in reading.notes:
        logger.debug(f"api: skipped {note}")
    for key, reason in reading.errors.items():
        logger.debug(f"api: {key}: {reason}")
    return reading


ORG_ADVICE = (
    "set CONSOLESCRAPE_ORG to the uuid or the name of one of the listed organizations, or unset "
    "it to read the one the site shows"
)


def _choose(browser: Browser, orgs: object, last_active: str | None) -> extract.Choice | None:
    try:
        choice = extract.choose_organization(orgs, last_active, browser.settings.org)
    except extract.UnknownOrganization as exc:
        raise ConfigError(str(exc), ORG_ADVICE) from None
    if choice is not None:
        also = ""
        if choice.other_paid:
            also = (
                f"; also paid: {', '.join(choice.other_paid)} — "
                "CONSOLESCRAPE_ORG=<uuid or name> picks another"
            )
        logger.debug(f"api: reading organization {choice.describe()} ({choice.reason}){also}")
    return choice


def _without_limits(choice: extract.Choice | None) -> extract.Reading | None:
    """No usage from the endpoint. Only a pinned organization other than the page's still has
    something to say: the page's numbers are not its numbers."""
    if choice is not None and choice.page_shows:
        return extract.Reading(organization=choice)
    return None


def _refused(
    browser: Browser, exc: Refused, choice: extract.Choice | None
) -> extract.Reading | None:
    """A bot check or the site's passing trouble, as a reading without limits that says so
    (the page may still carry the run); None for any other refusal."""
    logger.debug(f"api: {first_line(str(exc))}; the page text has to carry the run")
    if exc.mitigated == "challenge":
        return extract.Reading(challenge=True, organization=choice)
    host = urlsplit(browser.settings.usage_url).hostname or "the site"
    trouble = extract.endpoint_trouble(
        exc.status, exc.retry_after, host=host, now=datetime.now(UTC)
    )
    if trouble:
        return extract.Reading(trouble=trouble, organization=choice)
    return _without_limits(choice)


def _api_errors() -> tuple[type[Exception], ...]:
    """What makes the endpoint path give up: a bad answer, a script error, a script timeout."""

    return (ValueError, JavascriptException, TimeoutException)
