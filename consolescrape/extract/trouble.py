"""Passing trouble of the usage site (rate limits, server errors, outage pages), put in words.

Pure: the browser hands over HTTP statuses, headers and page text. A condition named here is
one where a person should do nothing: the next run tries again (README, Exit codes).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

#: What each transient status means, in the words a person reads.
_STATUS_WORDS = {
    408: "request timeout",
    425: "too early",
    429: "rate limited",
    500: "internal server error",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway timeout",
    520: "unknown error at its edge",
    521: "web server down",
    522: "connection timed out at its edge",
    523: "origin unreachable",
    524: "timeout at its edge",
    529: "overloaded",
}

#: claude.ai's outage page's own words ("Claude will return soon … is currently experiencing a
#: temporary service disruption"), which no usage page or chat title in the sidebar carries.
#: Generic words ("bad gateway", "under maintenance": a chat may be titled so) count only with
#: the error status such pages are served with.
_OUTAGE_WORDING = re.compile(
    r"\bwill return soon\b|\bexperiencing a temporary service disruption\b", re.IGNORECASE
)
_OUTAGE_HEADLINE = re.compile(
    r"^\s*(.*(?:will return soon|maintenance|be back).*?)\s*$", re.M | re.I
)


def is_transient(status: int) -> bool:
    """A status that says "not now" rather than "never": 408, 425, 429 and every 5xx."""
    return status in (408, 425, 429) or 500 <= status <= 599


def status_words(status: int) -> str:
    """'429 (rate limited)', '503 (service unavailable)', '599'."""
    words = _STATUS_WORDS.get(status)
    return f"{status} ({words})" if words else str(status)


def _wait(seconds: float) -> str:
    seconds = max(1, round(seconds))
    if seconds < 120:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 120 else f"{round(minutes / 60)} hr"


def retry_after(value: str | None, *, now: datetime) -> float | None:
    """Seconds a Retry-After header asks for (a number, or an HTTP date); None when absent."""
    text = (value or "").strip()
    if not text:
        return None
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - now).total_seconds())


def endpoint_trouble(
    status: int, retry_after_header: str | None, *, host: str, now: datetime
) -> str | None:
    """'claude.ai answered 429 (rate limited, it asks to wait 2 min); the next run tries again'
    for a transient answer of the site's JSON endpoint; None for any other status."""
    if not is_transient(status):
        return None
    words = status_words(status)
    wait = retry_after(retry_after_header, now=now)
    if wait is not None:
        asks = f"it asks to wait {_wait(wait)}"
        words = f"{words[:-1]}, {asks})" if words.endswith(")") else f"{words} ({asks})"
    return f"{host} answered {words}; the next run tries again"


def is_outage_page(status: int, title: str, text: str) -> bool:
    """An outage, maintenance or error page: an error status (429, 5xx), or an outage page's
    own words. Only asked of a page that shows no usage limits."""
    return is_transient(status) or bool(
        _OUTAGE_WORDING.search(text) or _OUTAGE_WORDING.search(title)
    )


def page_trouble(status: int, title: str, text: str, *, host: str) -> str | None:
    """What an outage, maintenance or error page says ("Claude will return soon", HTTP 500),
    when the page is one; None otherwise."""
    if not is_outage_page(status, title, text):
        return None
    worded = _OUTAGE_WORDING.search(text) or _OUTAGE_WORDING.search(title)
    headline = _OUTAGE_HEADLINE.search(text)
    shown = headline[1][:60] if headline else title.strip()[:60]
    parts = [f'"{shown}"'] if shown else []
    if status:
        parts.append(f"HTTP {status_words(status)}")
    detail = f" ({', '.join(parts)})" if parts else ""
    kind = "an outage page" if worded or status >= 500 else "an error page"
    return f"{host} shows {kind}{detail}; the next run tries again"
