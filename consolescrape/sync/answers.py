"""What the server answered, and what that means: the one place a status code is read."""

from __future__ import annotations

import email.utils
import enum
import html
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from consolescrape import sanitize
from consolescrape.config import Secret
from consolescrape.errors import ConfigError, SyncRefused

if TYPE_CHECKING:
    import requests

#: Answers are read up to this size; a server's error page is never worth more.
MAX_RESPONSE_BYTES = 64 * 1024
RETRYABLE_STATUS = {408, 425, 429}


class Verdict(enum.Enum):
    """What one answer of the server means for the snapshot it was sent."""

    SENT = "sent"
    #: no answer, a server error or "later" (429): worth another attempt within the budget
    RETRY = "retry"
    #: this snapshot is refused for good (400, 413, 422...): set it aside, go on with the rest
    DATA_REFUSED = "data refused"
    #: the key is refused (401/403): every further item would be too
    KEY_REFUSED = "key refused"
    #: no retry can fix it: a redirect, no endpoint at this URL (404/405)
    MISCONFIGURED = "misconfigured"


@dataclass(frozen=True)
class Answer:
    """What one POST ended with; `status` 0 when no HTTP answer came."""

    status: int
    message: str
    retry_after: float | None = None
    location: str | None = None
    #: no server answered at this address at all (connection refused, unknown host)
    unreachable: bool = False

    @property
    def verdict(self) -> Verdict:
        """The one place that decides what a status code means (sync, resend and doctor)."""
        if 200 <= self.status < 300:
            return Verdict.SENT
        if 300 <= self.status < 400 or self.status in (404, 405):
            return Verdict.MISCONFIGURED
        if self.status in (401, 403):
            return Verdict.KEY_REFUSED
        if self.status == 0 or self.status >= 500 or self.status in RETRYABLE_STATUS:
            return Verdict.RETRY
        if 400 <= self.status < 500:
            return Verdict.DATA_REFUSED
        return Verdict.RETRY  # 1xx or anything else unexpected: not a refusal of the data

    def misconfiguration(self, url: str) -> ConfigError:
        """The configuration error a MISCONFIGURED answer means, with the setting to fix."""
        if 300 <= self.status < 400:
            return ConfigError(
                f"the endpoint answered {self.status}, redirecting to "
                f"{self.location or '(no Location)'}; redirects are not followed",
                "set CLAUDE_SYNC_URL to the final URL (e.g. https:// instead of http://)",
            )
        return ConfigError(
            f"the endpoint answered {self.status} ({self.message or 'not found'}) for POST {url}",
            "check CLAUDE_SYNC_URL: it must be the receiving endpoint's full URL",
        )


def excerpt(raw: bytes, secrets: list[Secret], limit: int = 160) -> str:
    """A short one-line excerpt of a body that may be an HTML page with a stack trace.

    Scrubbed before it is cut: a cut must not leave half of an echoed key behind.
    """
    text = raw.decode("utf-8", errors="replace")
    title = re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
    if title:
        text = title.group(1)
    else:
        text = re.sub(r"<(script|style)\b.*?</\1>", " ", text, flags=re.IGNORECASE | re.DOTALL)
        text = re.sub(r"<[^>]+>", " ", text)
    text = " ".join(sanitize.scrub(html.unescape(text), secrets).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def server_message(raw: bytes, secrets: list[Secret]) -> str:
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):  # a deeply nested body is as unreadable as a broken one
        return excerpt(raw, secrets)
    if not isinstance(doc, dict):
        return excerpt(raw, secrets)
    parts = [str(doc[k]) for k in ("errorCode", "message") if doc.get(k)]
    if doc.get("suggestion"):
        parts.append(f"({doc['suggestion']})")
    return excerpt(" ".join(parts).encode(), secrets) if parts else excerpt(raw, secrets)


def retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def read_capped(response: requests.Response) -> bytes:
    try:
        return response.raw.read(MAX_RESPONSE_BYTES, decode_content=True) or b""
    except Exception:  # a body cut short is still an answer (a signal is no Exception: it ends)
        return b""
    finally:
        response.close()


def describe(answer: Answer) -> str:
    if answer.status == 0:
        return answer.message
    return f"HTTP {answer.status}" + (f" {answer.message}" if answer.message else "")


def refusal(
    answer: Answer, kept: str = "the snapshot was moved to outbox/rejected/"
) -> SyncRefused:
    if answer.verdict is Verdict.KEY_REFUSED:
        return SyncRefused(
            f"the server refused the API key (HTTP {answer.status}: {answer.message})",
            "check CLAUDE_SYNC_API_KEY against the server's key; nothing more was sent",
        )
    return SyncRefused(
        f"the server refused the data (HTTP {answer.status}: {answer.message})",
        f"{kept}; see the server's message above for what to fix",
    )
