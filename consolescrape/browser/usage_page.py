"""Reading the usage page: what page the browser shows, and the limits its text and bars show.

This is the file to open when the site's markup changes. The text itself is parsed by the pure
`consolescrape.extract`; here are the scripts run in the page, the waits on its content, the
route to the usage panel, and the per-limit merge with what the endpoint said.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any
from urllib.parse import urljoin, urlsplit

from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.webdriver import WebDriver

from consolescrape import extract
from consolescrape.browser.session import NETWORK_ADVICE, Browser, first_line, origin_path
from consolescrape.config import DEFAULT_USAGE_URL
from consolescrape.errors import (
    LOGIN_ADVICE,
    BotCheck,
    LoggedOut,
    NoPlanLimits,
    ScrapeFailed,
    SiteTrouble,
)
from consolescrape.extract import PageKind
from consolescrape.model import Snapshot

logger = logging.getLogger(__name__)

#: A usage page that shows some limits but not all, unchanged for this long, is complete.
SETTLE = 1.0
#: A usage page that shows no limit yet may still be filling its rows: give it longer.
SETTLE_EMPTY = 3.0
#: How long a page that landed off the usage route may take to route there by itself.
OFF_ROUTE_GRACE = 2.0
#: Once the endpoint has answered with limits, the page gets this long to add what it lacks.
API_PATIENCE = 5.0
BOT_ADVICE = (
    'the site showed a bot check ("Just a moment..."); open it once in a visible browser with '
    "`consolescrape login` to pass it, or try again later"
)


#: What a page says of itself beyond its text: its HTTP status (the navigation's
#: responseStatus; 0 where the browser does not say) and whether it carries a bot-check
#: platform's own markup — Cloudflare's challenge settings object, its orchestrate script (not
#: the /jsd/ detection script every page of the site loads), its form or its stage — which is
#: in the document from the first byte, whatever the title or the text rendered later.
SIGNALS_JS = """
const nav = performance.getEntriesByType("navigation")[0];
const CHALLENGE = 'script[src*="/cdn-cgi/challenge-platform/"][src*="orchestrate"], '
  + 'form#challenge-form, form[action*="__cf_chl"], #challenge-stage, #challenge-running, '
  + '#challenge-error-text, #cf-challenge-running';
const signals = {status: (nav && nav.responseStatus) || 0,
                 challenge: !!(window._cf_chl_opt || document.querySelector(CHALLENGE))};
"""

STATE_JS = (
    SIGNALS_JS
    + """
const body = document.body;
return {...signals, url: location.href, title: document.title || "",
        text: body ? body.innerText : "", ready: document.readyState};
"""
)

#: The usage content: from the usage heading to the end of the panel that holds it — the dialog,
#: else <main>, else the body — across sibling sections (the session and the weekly block may
#: each be a container of its own), less any navigation or sidebar inside it. Also the page's
#: state (url, title, readiness, language, status, bot-check markup), so one script per poll
#: says everything.
CONTENT_JS = (
    SIGNALS_JS
    + """
const HEADINGS = ["plan usage limits", "your usage limits"];
const BARS = '[role="meter"], [role="progressbar"]';
const NAV = 'nav, aside, [role="navigation"], [role="complementary"]';
const PANEL = 'dialog, [role="dialog"], main, [role="main"]';
const norm = (s) => (s || "").replace(/\\s+/g, " ").trim().toLowerCase();
const isHeading = (s) => HEADINGS.some((h) => s.startsWith(h) && s.length <= h.length + 30);
const body = document.body;
const page = {...signals, url: location.href, title: document.title || "",
              ready: document.readyState, lang: document.documentElement.lang || ""};
if (!body) return {...page, text: "", meters: [], scope: "none"};
let head = null;
for (const el of document.querySelectorAll('h1, h2, h3, h4, [role="heading"]')) {
  if (isHeading(norm(el.textContent)) && !el.closest(NAV)) { head = el; break; }
}
if (!head) {
  const walker = document.createTreeWalker(body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (isHeading(norm(n.textContent)) && !n.parentElement.closest(NAV)) {
      head = n.parentElement; break;
    }
  }
}
const anchor = head || body;
const box = anchor.closest('dialog, [role="dialog"]') || anchor.closest('main, [role="main"]')
  || (head ? null : document.querySelector(PANEL)) || body;
let text = box.innerText;
for (const nav of box.querySelectorAll(NAV)) {
  if (head && nav.contains(head)) continue;
  const part = nav.innerText.trim();
  if (part) text = text.replace(part, "\\n");
}
const meters = [];
for (const bar of box.querySelectorAll(BARS)) {
  if (bar.closest(NAV)) continue;
  if (head && !(head.compareDocumentPosition(bar) & Node.DOCUMENT_POSITION_FOLLOWING)) continue;
  const value = parseFloat(bar.getAttribute("aria-valuenow"));
  meters.push(Number.isFinite(value) ? value : null);
}
return {...page, text: text, meters: meters,
        scope: box.tagName.toLowerCase() + (head ? "" : " (no heading)")};
"""
)


@dataclass(frozen=True)
class PageState:
    url: str
    title: str
    text: str
    ready: str
    lang: str = ""
    #: the page's HTTP status (0: not known) and whether it carries bot-check markup
    status: int = 0
    challenge: bool = False

    @classmethod
    def from_js(cls, raw: object) -> PageState:
        doc = raw if isinstance(raw, dict) else {}
        status = doc.get("status")
        return cls(
            str(doc.get("url") or ""),
            str(doc.get("title") or ""),
            str(doc.get("text") or ""),
            str(doc.get("ready") or ""),
            str(doc.get("lang") or ""),
            status if isinstance(status, int) and not isinstance(status, bool) else 0,
            doc.get("challenge") is True,
        )

    @property
    def kind(self) -> PageKind:
        return extract.classify_page(
            self.url, self.title, self.text, status=self.status, challenge=self.challenge
        )


def off_route(state: PageState, target: str) -> bool:
    """Landed elsewhere on the site (e.g. /new without '#settings/usage'), not on the usage page."""
    here, there = urlsplit(state.url), urlsplit(target)
    return (
        here.netloc == there.netloc
        and here.path.rstrip("/") != there.path.rstrip("/")
        and "settings/usage" not in here.fragment
    )


def _on_site(state: PageState, target: str) -> bool:
    """A page of the site itself has loaded (not about:blank, an error page or another host)."""
    return state.ready in ("interactive", "complete") and (
        urlsplit(state.url).netloc == urlsplit(target).netloc
    )


#: Where Chrome puts a page it could not load at all (connection refused, DNS failure).
NETWORK_ERROR_URL = "chrome-error://"
#: HTTP statuses that say the usage page is not at this URL (the status and its name).
GONE_STATUSES = {404: "Not Found", 410: "Gone"}
#: Where the site sends an account without a paid plan instead of the usage page.
FREE_PLAN_PATHS = ("/upgrade",)
FREE_PLAN_ADVICE = (
    "the usage page exists only for paid plans (Pro, Max, Team, Enterprise); if this account has "
    "one, log in with it: `consolescrape login`"
)
LANGUAGE_ADVICE = (
    "consolescrape reads the English interface: set claude.ai → Settings → General → Language "
    "to English (the account setting overrides the browser's language)"
)


def stop_for(state: PageState, browser: Browser) -> None:
    """Raise the error a page means when it is not one to read: offline, login, bot check, free."""
    target = browser.settings.usage_url
    if state.url.startswith(NETWORK_ERROR_URL):
        # Offline laptop, DNS failure, site down: no point waiting for the deadline.
        raise ScrapeFailed(
            f"cannot reach the usage page {origin_path(target)}: the browser shows a network error",
            NETWORK_ADVICE,
        )
    here = urlsplit(state.url)
    if here.netloc == urlsplit(target).netloc and here.path.startswith(FREE_PLAN_PATHS):
        raise NoPlanLimits(
            "this account has no plan usage limits (free plan): the site sends it to "
            f"{origin_path(state.url)} instead of the usage page",
            FREE_PLAN_ADVICE,
        )
    kind = state.kind
    if kind is PageKind.UNKNOWN and state.status in GONE_STATUSES:
        # Not a page that may still render its numbers: waiting out the deadline tells nothing.
        raise ScrapeFailed(
            f"the usage page answered HTTP {state.status} ({GONE_STATUSES[state.status]}) "
            f"at {origin_path(state.url)}",
            f"check CONSOLESCRAPE_USAGE_URL (or --url); the default is {DEFAULT_USAGE_URL}",
        )
    if kind is PageKind.LOGIN:
        raise LoggedOut(
            "not logged in: the usage page asks for a login (the session expired or was never "
            "stored)",
            LOGIN_ADVICE,
        )
    if kind is PageKind.BOT_CHECK:
        raise bot_check()


def bot_check() -> BotCheck:
    return BotCheck("bot check: the site asks to verify you are human", BOT_ADVICE)


def site_trouble(state: PageState, api: extract.Reading | None, target: str) -> SiteTrouble | None:
    """The passing condition that explains a page without numbers: the endpoint's answer (429,
    5xx) or an outage page; None when neither says so."""
    if api is not None and api.trouble:
        return SiteTrouble(api.trouble)
    host = urlsplit(target).hostname or "the site"
    if state.kind is PageKind.OUTAGE:
        found = extract.page_trouble(state.status, state.title, state.text, host=host)
        return SiteTrouble(found or f"{host} shows an outage page; the next run tries again")
    return None


def page_timeout(browser: Browser) -> ScrapeFailed:
    last = page_state(browser)
    return ScrapeFailed(
        f"page timeout: the usage page did not show within {browser.seconds:g} s "
        f"(at {origin_path(last.url)}, titled {last.title[:60]!r})",
        f"check CONSOLESCRAPE_USAGE_URL; debug files are in {browser.settings.debug_dir}",
    )


def land(browser: Browser, url: str) -> PageState:
    """Load the usage URL and wait until a page of the site has loaded (it may still render).

    Returns once the page is the usage page, or a logged-in page of the site whose content may
    still come; raises for a login page, a bot check, a network error or the free-plan page.
    """
    logger.debug(f"page: opening {origin_path(url)}")
    browser.get(url)
    began = time.monotonic()

    def landed(driver: WebDriver) -> PageState | None:
        state = page_state(browser)
        if state.kind is not PageKind.UNKNOWN or state.url.startswith(NETWORK_ERROR_URL):
            return state
        return state if _on_site(state, url) else None

    state: PageState | None = browser.wait(landed)
    if state is None:
        raise page_timeout(browser)
    stop_for(state, browser)
    logger.debug(f"page: {state.kind.value} page after {time.monotonic() - began:.2f} s")
    return state


def open_usage(browser: Browser, url: str) -> PageState:
    """Load the usage URL and wait until the page shows the usage content (or says why not).

    If the site lands elsewhere (the usage page may live at /new#settings/usage, a settings
    panel over the chat page) and stays there, try that route once.
    """
    state = land(browser, url)
    reroute = Reroute(browser, url)

    def named(driver: WebDriver) -> PageState | None:
        state = page_state(browser)
        stop_for(state, browser)
        if state.kind is PageKind.USAGE:
            return state
        reroute.check(state)
        return None

    if state.kind is not PageKind.USAGE:
        state = browser.wait(named)
        if state is None:
            raise page_timeout(browser)
    return state


class Reroute:
    """Off the usage route for a while (the chat page, the hash lost): try the panel route once."""

    def __init__(self, browser: Browser, target: str) -> None:
        self.browser = browser
        self.target = target
        self.landed: dict[str, float] = {}
        self.done = False

    def check(self, state: PageState) -> None:
        since = self.landed.setdefault(state.url, time.monotonic())
        if (
            not self.done
            and off_route(state, self.target)
            and state.ready == "complete"
            and time.monotonic() - since >= OFF_ROUTE_GRACE
        ):
            route = urljoin(self.target, "/new#settings/usage")
            logger.debug("page: landed on %s; trying %s", origin_path(state.url), route)
            self.done = True
            self.browser.get(route)


@dataclass
class _Progress:
    """What the page loop has seen so far."""

    began: float
    best: Snapshot | None = None
    problem: Exception | None = None
    last_seen: object = None
    unchanged_since: float = 0.0
    state: PageState | None = None


def read_usage(browser: Browser, *, tz: tzinfo, api: extract.Reading | None) -> Snapshot:
    """Merge the endpoint's limits with the page text's, limit by limit; the endpoint wins.

    The page is waited for only while it can still add a limit: done as soon as the merge has
    every expected section; else once the page's content stops changing for SETTLE seconds
    (SETTLE_EMPTY while the page shows no limit), or API_PATIENCE after the endpoint answered.
    """
    model_row = browser.settings.model_row
    readings = [api] if api is not None and (api.limits or api.spend) else []
    if api is not None and api.organization is not None and api.organization.page_shows:
        return _pinned_only(browser, api, readings)
    if readings:
        with contextlib.suppress(extract.NoUsage):
            from_api = extract.merge(readings, now=datetime.now(UTC), model_row=model_row)
            if not from_api.is_partial:
                # Everything the server needs came from the endpoint: one look at the page for
                # any further row, without waiting for it to render.
                return _merge_once(browser, readings, from_api, tz=tz)
    progress = _Progress(began=time.monotonic())
    progress.unchanged_since = progress.began
    reroute = Reroute(browser, browser.settings.usage_url)

    def complete(driver: WebDriver) -> bool:
        raw = driver.execute_script(CONTENT_JS)
        doc = raw if isinstance(raw, dict) else {}
        state = progress.state = PageState.from_js(doc)
        if not (api and api.limits):
            stop_for(state, browser)  # the endpoint's data proves the session is good
        try:
            reroute.check(state)
        except ScrapeFailed:
            if not readings:
                raise
            return True  # the panel route did not load: keep what the endpoint gave
        try:
            page: extract.Reading | None = _read_content(doc, tz=tz)
        except extract.NoUsage as exc:
            page, progress.problem = None, exc
        if not readings and not (page and page.limits):
            _stop_early(state, api, browser)
        try:
            progress.best = extract.merge(
                [*readings, *([page] if page else [])], now=datetime.now(UTC), model_row=model_row
            )
        except extract.NoUsage as exc:
            progress.best, progress.problem = None, exc
            if page is not None and page.spend is not None:
                return True  # the page shows a spend cap and no limit: nothing more will come
        if progress.best is not None and not progress.best.is_partial:
            return True
        # The endpoint's trouble (a 429) is the page's too: waiting out a settle is enough.
        patient = bool(readings) or bool(api and api.trouble)
        return _settled(progress, state, page, patient)

    browser.wait(complete)
    if progress.best is None:
        raise _no_usage(browser, progress, api)
    return progress.best


def _pinned_only(
    browser: Browser, api: extract.Reading, readings: list[extract.Reading]
) -> Snapshot:
    """CONSOLESCRAPE_ORG names another organization than the one the page shows: only the
    endpoint speaks for it, and the page's numbers are never merged in."""
    org = api.organization
    assert org is not None
    logger.debug(f"page: shows {org.page_shows}, not {org.describe()}: not read")
    if readings:
        with contextlib.suppress(extract.NoUsage):
            return extract.merge(
                readings, now=datetime.now(UTC), model_row=browser.settings.model_row
            )
    if api.trouble:
        raise SiteTrouble(api.trouble)
    if api.challenge:
        raise bot_check()
    raise ScrapeFailed(
        f"no usage for {org.describe()} (CONSOLESCRAPE_ORG): the endpoint gave none, and the "
        f"page shows another organization ({org.page_shows})",
        "try again later; `--verbose` shows what the endpoint answered",
    )


def _stop_early(state: PageState, api: extract.Reading | None, browser: Browser) -> None:
    """Nothing to read yet, and the page will not change that: a bot check the endpoint ran
    into, or an outage page. Said at once instead of after a settle or the deadline."""
    if api is not None and api.challenge:
        raise bot_check()
    if state.kind is PageKind.OUTAGE:
        trouble = site_trouble(state, api, browser.settings.usage_url)
        if trouble is not None:
            raise trouble


def _read_content(doc: dict[str, Any], *, tz: tzinfo) -> extract.Reading:
    """What CONTENT_JS's answer shows (NoUsage when it shows no usage at all)."""
    meters = [m if isinstance(m, int | float) else None for m in doc.get("meters") or []]
    return extract.read_page(str(doc.get("text") or ""), meters, now=datetime.now(UTC), tz=tz)


def _settled(
    progress: _Progress, state: PageState, page: extract.Reading | None, patient: bool
) -> bool:
    """Whether the page has had its chance; `patient`: the endpoint already answered (with
    limits, or with trouble), so the page gets API_PATIENCE at most."""
    now = time.monotonic()
    if patient and now - progress.began >= API_PATIENCE:
        return True
    # What the page shows, not its raw text: a ticking countdown or "Last updated" must not keep
    # a page from ever settling, while a row that renders late still counts as a change.
    seen = (
        _shown(progress.best) if progress.best else None,
        re.sub(r"\d+", "#", state.text),
    )
    if seen != progress.last_seen:
        progress.last_seen, progress.unchanged_since = seen, now
        return False
    settle = SETTLE if page is not None and page.limits else SETTLE_EMPTY
    return state.ready == "complete" and now - progress.unchanged_since >= settle


def _merge_once(
    browser: Browser, readings: list[extract.Reading], from_api: Snapshot, *, tz: tzinfo
) -> Snapshot:
    assert browser.driver is not None
    try:
        raw = browser.driver.execute_script(CONTENT_JS)
        page = _read_content(raw if isinstance(raw, dict) else {}, tz=tz)
    except (extract.NoUsage, WebDriverException):
        return from_api
    model_row = browser.settings.model_row
    return extract.merge([*readings, page], now=datetime.now(UTC), model_row=model_row)


def _no_usage(
    browser: Browser, progress: _Progress, api: extract.Reading | None
) -> ScrapeFailed | SiteTrouble:
    """Why nothing could be read: the site's passing trouble, a bot check the endpoint ran
    into, a spend-only plan, another language, or an unknown page."""
    problem = progress.problem
    if isinstance(problem, extract.SpendCapOnly):
        return NoPlanLimits.spend_cap(str(problem), problem.spend.to_json())
    if progress.state is not None:
        trouble = site_trouble(progress.state, api, browser.settings.usage_url)
        if trouble is not None:
            return trouble
    if api is not None and api.challenge:
        return bot_check()
    state = progress.state
    if state is not None and _foreign(state):
        return ScrapeFailed(
            "the usage page is not in English"
            + (f" (lang={state.lang!r})" if state.lang else "")
            + ": consolescrape cannot read its labels",
            LANGUAGE_ADVICE,
        )
    off = state is not None and off_route(state, browser.settings.usage_url)
    if state is not None and state.kind is PageKind.UNKNOWN and off:
        return page_timeout(browser)
    reason = first_line(str(problem or "nothing readable"))
    return ScrapeFailed(
        f"no usage section: the page shows no usage limit we can read ({reason})",
        f"the page may have changed; see {browser.settings.debug_dir}",
    )


_ENGLISH_WORDS = ("usage", "limit", "session", "weekly", "resets", "used")


def _foreign(state: PageState) -> bool:
    """The page's language is not English: by its lang attribute, or percentages without words."""
    lang = state.lang.strip().lower()
    if lang and not lang.startswith("en"):
        return True
    text = state.text.casefold()
    return bool(re.search(r"\d\s*%", text)) and not any(w in text for w in _ENGLISH_WORDS)


def _shown(snapshot: Snapshot) -> list[tuple[str, str, float]]:
    """The limits as the page words them (resets_at moves with the clock for a countdown)."""
    rows = [("session", snapshot.session)] if snapshot.session else []
    rows += sorted(snapshot.weekly.items())
    return [(key, limit.resets_in, limit.percentage_used) for key, limit in rows if limit]


def log_origins(snapshot: Snapshot) -> None:
    """Where each limit came from, for --verbose: 'currentSession ← five_hour, …'."""
    parts = [f"{key} ← {origin}" for key, origin in snapshot.origins.items()]
    logger.debug(f"limits ({snapshot.source}): {', '.join(parts)}")


def page_state(browser: Browser) -> PageState:
    """Where the browser is and what its whole page says (to tell a login from a bot check)."""
    assert browser.driver is not None
    return PageState.from_js(browser.driver.execute_script(STATE_JS))
