"""One POST of one payload, retried within a deadline that no server can stretch."""

from __future__ import annotations

import contextlib
import logging
import random
import re
import signal
import threading
import time
from collections.abc import Iterator

import requests

from consolescrape import model, sanitize, version
from consolescrape.config import Settings, require_key
from consolescrape.errors import ConfigError
from consolescrape.sync.answers import (
    Answer,
    Verdict,
    describe,
    read_capped,
    retry_after,
    server_message,
)

logger = logging.getLogger(__name__)

ATTEMPT_TIMEOUT = 10.0
#: Below this much budget an attempt is not worth starting.
MIN_ATTEMPT = 0.5
BACKOFF_BASE = 0.5
BACKOFF_CAP = 8.0


class Deadline:
    """A monotonic budget shared by every attempt of one sync.

    `fail_fast`: give up at once when the server cannot be reached at all (refused, no such
    host) instead of retrying until the budget is spent.
    """

    def __init__(self, seconds: float, *, fail_fast: bool = False) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds
        self.fail_fast = fail_fast

    def remaining(self) -> float:
        return max(0.0, self.end - time.monotonic())


def post_once(
    session: requests.Session, settings: Settings, payload: model.Payload, timeout: float
) -> Answer:
    key = require_key(settings)
    headers = {
        "Content-Type": "application/json",
        "X-API-Key": key.reveal(),
        "Idempotency-Key": f'"{payload.id}"',
        "User-Agent": f"consolescrape/{version()}",
    }
    verify: bool | str = str(settings.ca_bundle) if settings.ca_bundle else True
    try:
        response = session.post(
            settings.sync_url,
            data=payload.encode(),
            headers=headers,
            timeout=(min(timeout, 5.0), timeout),
            allow_redirects=False,
            stream=True,
            verify=verify,
        )
    except requests.exceptions.SSLError as exc:
        raise ConfigError(
            f"TLS certificate check failed for {settings.sync_url}: {_tls_reason(exc)}",
            "fix the server's certificate, or set CLAUDE_SYNC_CA_BUNDLE to its CA's PEM file",
        ) from None
    except requests.exceptions.InvalidURL:
        raise ConfigError(
            f"CLAUDE_SYNC_URL {settings.sync_url!r} is not a valid URL", "fix CLAUDE_SYNC_URL"
        ) from None
    except requests.exceptions.Timeout:
        return Answer(0, f"no answer within {timeout:.0f} s")
    except requests.exceptions.ConnectionError as exc:
        reason = connection_reason(exc)
        return Answer(
            0,
            f"cannot connect: {reason}",
            unreachable=reason in ("connection refused", "host name not found"),
        )
    except requests.exceptions.RequestException as exc:
        return Answer(0, f"request failed: {type(exc).__name__}")
    raw = read_capped(response)
    # The server's words are shown and stored: no escape sequences, and never the key it echoes.
    message = server_message(raw, [key]) if raw else response.reason or ""
    location = response.headers.get("Location")
    return Answer(
        status=response.status_code,
        message=sanitize.scrub(message, [key]),
        retry_after=retry_after(response.headers.get("Retry-After")),
        location=sanitize.scrub(location, [key]) if location else None,
    )


def _tls_reason(exc: Exception) -> str:
    text = str(exc)
    match = re.search(r"certificate verify failed: ([^()'\"]+)", text)
    return match.group(1).strip() if match else "certificate not trusted"


def connection_reason(exc: Exception) -> str:
    text = str(exc)
    for pattern, reason in (
        (r"Connection refused", "connection refused"),
        (
            r"Name or service not known|nodename nor servname|Temporary failure in name resolution",
            "host name not found",
        ),
        (r"RemoteDisconnected|Connection aborted|Connection reset", "connection closed by server"),
        (r"timed out", "timed out"),
    ):
        if re.search(pattern, text):
            return reason
    return type(exc).__name__


def _backoff(attempt: int) -> float:
    """Full-jitter exponential backoff: random in [0, min(cap, base·2^attempt)]."""
    return random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt))  # noqa: S311


class DeadlineHit(BaseException):
    """Raised by the SIGALRM handler inside a blocked request; BaseException so no library
    `except Exception` swallows it."""


@contextlib.contextmanager
def hard_deadline(seconds: float) -> Iterator[None]:
    """Interrupt whatever blocks (DNS look-up, a server trickling bytes) once `seconds` pass.

    Per-socket timeouts bound each read, not a whole request; this bounds everything. Only
    the main thread can receive the signal; elsewhere the per-attempt timeouts remain.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise DeadlineHit

    previous = signal.signal(signal.SIGALRM, expire)
    started = time.monotonic()
    outer, _ = signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.01))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer > 0:  # an enclosing timer (a caller's own alarm) keeps running, minus our time
            signal.setitimer(signal.ITIMER_REAL, max(outer - (time.monotonic() - started), 0.01))


def deliver(
    session: requests.Session,
    settings: Settings,
    payload: model.Payload,
    deadline: Deadline,
) -> tuple[Answer, int]:
    """POST one payload, retrying only transient failures until the deadline.

    Returns the final answer and the number of attempts. Every attempt carries the same
    Idempotency-Key. Raises ConfigError for answers no retry can fix (3xx, 404/405, TLS).
    """
    attempt = 0
    while True:
        remaining = deadline.remaining()
        if remaining < MIN_ATTEMPT:
            return Answer(0, "sync deadline reached before an answer came"), attempt
        attempt += 1
        answer = post_once(session, settings, payload, min(ATTEMPT_TIMEOUT, remaining))
        verdict = answer.verdict
        if verdict is Verdict.MISCONFIGURED:
            raise answer.misconfiguration(settings.sync_url)
        if verdict is not Verdict.RETRY or (answer.unreachable and deadline.fail_fast):
            return answer, attempt
        wait = _backoff(attempt - 1)
        if answer.retry_after is not None:
            wait = answer.retry_after
        remaining = deadline.remaining()
        if wait + MIN_ATTEMPT > remaining:
            return answer, attempt
        logger.debug(f"attempt {attempt}: {describe(answer)}; retrying in {wait:.1f} s")
        if attempt == 1:  # say once why the command is taking its time
            logger.info(
                f"sync: {describe(answer)}; retrying for up to {deadline.remaining():.0f} s "
                + ("(run's own budget)" if deadline.fail_fast else "(CLAUDE_SYNC_DEADLINE)")
            )
        time.sleep(wait)


def deliver_within(
    session: requests.Session,
    settings: Settings,
    payload: model.Payload,
    deadline: Deadline,
) -> tuple[Answer, int]:
    """`deliver`, with the hard deadline's interrupt turned into a transient failure."""
    try:
        return deliver(session, settings, payload, deadline)
    except DeadlineHit:
        return Answer(0, "sync deadline reached during the request"), 1


def _no_netrc(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """An auth hook that adds nothing: a set auth stops requests adding ~/.netrc credentials."""
    return request


def new_session() -> requests.Session:
    session = requests.Session()
    # Proxies from the environment are fine; credentials from ~/.netrc must not be added
    # (requests adds them whenever no auth is set, trust_env or not of proxies).
    session.auth = _no_netrc
    return session


def ping_health(url: str, *, ok: bool, timeout: float = 5.0) -> bool:
    """Best-effort dead-man's-switch ping (healthchecks.io style): URL, or URL/fail; it ends
    within `timeout` whatever the server does."""
    target = url.rstrip("/") + ("" if ok else "/fail")
    try:
        with (
            hard_deadline(timeout),
            new_session() as session,
            session.get(
                target, timeout=(timeout / 2, timeout / 2), allow_redirects=False, stream=True
            ) as response,
        ):
            return response.status_code < 400
    except (requests.exceptions.RequestException, DeadlineHit):
        return False
