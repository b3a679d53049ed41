"""One GET of Claude Code's OAuth usage endpoint under a hard deadline, and what its answer
means. The only module of this package that imports requests (inside the function)."""

from __future__ import annotations

import json
import logging
from urllib.parse import urlsplit

import requests

from consolescrape import sanitize, version
from consolescrape.config import Secret
from consolescrape.errors import (
    ConfigError,
    ConsolescrapeError,
    LoggedOut,
    ScrapeFailed,
    SiteTrouble,
)
from consolescrape.sync.answers import excerpt, read_capped, retry_after
from consolescrape.sync.post import DeadlineHit, connection_reason, hard_deadline, new_session

logger = logging.getLogger(__name__)

#: The header Claude Code sends to this endpoint; without it the endpoint refuses OAuth.
BETA = "oauth-2025-04-20"
#: The longest the one request may take (less when the run's budget is smaller).
SECONDS = 10.0
#: What to do about an expired or refused token: Claude Code refreshes its own login.
REFRESH_ADVICE = "open Claude Code (or run `claude`) once to refresh its login"
#: A `claude setup-token` token has the inference scope only.
SCOPE_ADVICE = (
    "a token made by `claude setup-token` cannot read usage (it lacks the user:profile scope): "
    "log in to Claude Code itself on this machine (`claude`, then /login), or use "
    "CONSOLESCRAPE_SOURCE=browser"
)
#: A busy or unreachable endpoint: a passing condition.
BUSY_ADVICE = (
    "nothing to fix: the previous data is kept and the next run asks again "
    "(CONSOLESCRAPE_SOURCE=auto reads the usage page meanwhile)"
)
URL_ADVICE = (
    "check CONSOLESCRAPE_OAUTH_URL (unset, it is https://api.anthropic.com/api/oauth/usage)"
)


class Unavailable(Exception):
    """The OAuth source cannot give numbers this run.

    `why` is the short reason `auto` names when it falls back to the browser; `error` is what
    the run ends with when the source is `oauth` alone.
    """

    def __init__(self, why: str, error: ConsolescrapeError) -> None:
        super().__init__(why)
        self.why = why
        self.error = error


def get_usage(url: str, token: Secret, seconds: float = SECONDS) -> object:
    """The endpoint's answer, parsed; Unavailable for anything but a 200 with JSON in it.

    No redirect is followed (the token must not travel to another host), the answer is read up
    to a size cap, and the whole request ends within `seconds` whatever the server does.
    """
    host = urlsplit(url).hostname or url
    shown = f"{round(seconds, 1):g}"
    headers = {
        "Authorization": f"Bearer {token.reveal()}",
        "anthropic-beta": BETA,
        "Accept": "application/json",
        "User-Agent": f"consolescrape/{version()}",
    }
    try:
        with new_session() as session, hard_deadline(seconds):
            response = session.get(
                url,
                headers=headers,
                timeout=(min(seconds, 5.0), seconds),
                allow_redirects=False,
                stream=True,
            )
            raw = read_capped(response)
    except DeadlineHit:
        raise _unreachable(host, f"no complete answer within {shown} s") from None
    except requests.exceptions.SSLError:
        raise Unavailable(
            "unreachable (TLS certificate check failed)",
            ConfigError(
                f"TLS certificate check failed for {host}",
                "a proxy that intercepts TLS? set REQUESTS_CA_BUNDLE to its CA, or use "
                "CONSOLESCRAPE_SOURCE=browser",
            ),
        ) from None
    except requests.exceptions.Timeout:
        raise _unreachable(host, f"no answer within {shown} s") from None
    except requests.exceptions.RequestException as exc:
        raise _unreachable(host, connection_reason(exc)) from None
    return meaning(response.status_code, raw, token, retry=response.headers.get("Retry-After"))


def _unreachable(host: str, reason: str) -> Unavailable:
    return Unavailable(
        f"unreachable ({reason})",
        SiteTrouble(
            f"cannot reach the OAuth usage endpoint at {host}: {reason}; the next run tries again",
            BUSY_ADVICE,
        ),
    )


def message(raw: bytes, token: Secret) -> str:
    """The endpoint's own words ({"error": {"message": …}}), or a short excerpt; never the
    token."""
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        doc = None
    text = None
    if isinstance(doc, dict):
        error = doc.get("error")
        text = error.get("message") if isinstance(error, dict) else doc.get("message")
    if isinstance(text, str) and text.strip():
        return excerpt(sanitize.clean(text).encode(), [token])
    return excerpt(raw, [token])


def meaning(status: int, raw: bytes, token: Secret, *, retry: str | None = None) -> object:
    """What one answer means: its parsed JSON (200), or Unavailable with the reason."""
    if status == 200:
        try:
            return json.loads(raw)
        except (ValueError, RecursionError):
            raise Unavailable(
                "unreadable answer",
                ScrapeFailed(
                    f"the OAuth usage endpoint answered something that is not JSON: "
                    f"{message(raw, token)!r}",
                    "try again later, or use CONSOLESCRAPE_SOURCE=browser",
                ),
            ) from None
    said = message(raw, token)
    if status == 401:
        raise Unavailable(
            "token refused (HTTP 401: expired or revoked)",
            LoggedOut(
                f"the OAuth usage endpoint refused Claude Code's login token (HTTP 401: {said}); "
                "consolescrape never refreshes it",
                REFRESH_ADVICE,
            ),
        )
    if status == 403 and "user:profile" in said:
        raise Unavailable(
            "token refused (HTTP 403: no user:profile scope)",
            LoggedOut(
                f"the OAuth usage endpoint refused the token (HTTP 403: {said})", SCOPE_ADVICE
            ),
        )
    if status == 403:
        raise Unavailable(
            "token refused (HTTP 403)",
            LoggedOut(
                f"the OAuth usage endpoint refused the token (HTTP 403: {said})", REFRESH_ADVICE
            ),
        )
    if status in (408, 429) or status >= 500:
        raise _trouble(status, said, retry)
    if 300 <= status < 400 or status in (404, 405):
        raise Unavailable(
            f"refused (HTTP {status})",
            ConfigError(
                f"the OAuth usage endpoint answered {status} ({said}); redirects are not followed",
                URL_ADVICE,
            ),
        )
    raise Unavailable(
        f"refused (HTTP {status})",
        ScrapeFailed(
            f"the OAuth usage endpoint refused the request (HTTP {status}: {said})",
            "the endpoint may have changed; use CONSOLESCRAPE_SOURCE=browser meanwhile",
        ),
    )


def _trouble(status: int, said: str, retry: str | None) -> Unavailable:
    what = "rate limited" if status == 429 else said or "server error"
    wait = retry_after(retry)
    later = f", asks to retry in {wait:.0f} s" if wait is not None else ""
    return Unavailable(
        f"busy (HTTP {status})",
        SiteTrouble(
            f"the OAuth usage endpoint answered {status} ({what}{later}); the next run tries again",
            BUSY_ADVICE,
        ),
    )
