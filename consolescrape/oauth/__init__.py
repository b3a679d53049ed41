"""Claude Code's OAuth usage endpoint: the limits without a browser (README, "Reading without a
browser"). No Selenium, no Chrome. One job per module:

- `credentials`: Claude Code's token, read-only, where Claude Code keeps it; never refreshed;
- `client`: one GET under a hard deadline, and what its answer means;
- this module: token → one GET → the site endpoint's own reader → a Snapshot.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from datetime import UTC, datetime

from consolescrape import errors, extract
from consolescrape.config import Secret, Settings
from consolescrape.model import Snapshot
from consolescrape.oauth import credentials
from consolescrape.oauth.client import REFRESH_ADVICE, SCOPE_ADVICE, Unavailable, get_usage
from consolescrape.oauth.credentials import NoToken, Token
from consolescrape.words import duration

__all__ = ["REFRESH_ADVICE", "Token", "Unavailable", "read", "usable_token"]

logger = logging.getLogger(__name__)

NO_LOGIN_ADVICE = (
    "log in to Claude Code on this machine (`claude`, then /login), or use "
    "CONSOLESCRAPE_SOURCE=browser (the default)"
)


def usable_token(now: datetime, *, keychain_seconds: float = credentials.KEYCHAIN_SECONDS) -> Token:
    """Claude Code's token if it can be used as it is; Unavailable (no token, expired, without
    the usage scope) otherwise. Nothing is refreshed or written."""
    try:
        token = credentials.find(now, keychain_seconds=keychain_seconds)
    except NoToken as exc:
        raise Unavailable(
            "no token",
            errors.LoggedOut(f"no Claude Code login found ({exc})", NO_LOGIN_ADVICE),
        ) from None
    if token.expired(now):
        assert token.expires_at is not None
        ago = duration((now - token.expires_at).total_seconds())
        raise Unavailable(
            f"token expired {ago} ago",
            errors.LoggedOut(
                f"Claude Code's login token in {token.where} expired {ago} ago; consolescrape "
                "never refreshes it (that would log Claude Code out)",
                REFRESH_ADVICE,
            ),
        )
    if token.lacks_profile_scope:
        raise Unavailable(
            "token lacks the user:profile scope",
            errors.LoggedOut(
                f"Claude Code's token in {token.where} lacks the user:profile scope the usage "
                "endpoint requires",
                SCOPE_ADVICE,
            ),
        )
    return token


def read(settings: Settings, *, seconds: float, secrets: list[Secret]) -> Snapshot:
    """The limits from the OAuth usage endpoint within `seconds`, read by the same reader as
    the site's endpoint; Unavailable when this source cannot give them.

    The token is added to `secrets`, so every line and result redacts it.
    """
    began = time.monotonic()
    token = usable_token(datetime.now(UTC), keychain_seconds=min(5.0, seconds / 2))
    secrets.append(token.secret)
    usage = get_usage(settings.oauth_url, token.secret, max(0.5, seconds - _since(began)))
    now = datetime.now(UTC)
    try:
        snapshot = extract.snapshot_from_api(
            usage, now=now, tz=extract.local_zone(), model_row=settings.model_row
        )
    except extract.SpendCapOnly as exc:
        # A readable answer: the browser would find the same spend cap, so no fallback.
        raise errors.NoPlanLimits.spend_cap(str(exc), exc.spend.to_json()) from None
    except extract.NoUsage as exc:
        raise Unavailable(
            "unreadable answer",
            errors.ScrapeFailed(
                f"the OAuth usage endpoint's answer holds no limit we can read: {exc}",
                "the endpoint may have changed; use CONSOLESCRAPE_SOURCE=browser meanwhile",
            ),
        ) from None
    origins = ", ".join(f"{key} ← {origin}" for key, origin in snapshot.origins.items())
    logger.debug(f"oauth: {origins} in {_since(began):.2f} s (token from {token.where})")
    return dataclasses.replace(snapshot, via="oauth")


def _since(began: float) -> float:
    return time.monotonic() - began
