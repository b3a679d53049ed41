"""Deliver snapshots to the user's server: one POST loop with a hard deadline.

The server's rules and answers are in docs/server-contract.md.

The only module that imports requests (inside functions, so other commands start fast).
"""

from __future__ import annotations

import contextlib
import email.utils
import enum
import html
import json
import random
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from consolescrape import model, sanitize, store, version
from consolescrape.config import Secret, Settings, check_sync_target, require_key
from consolescrape.errors import (
    ConfigError,
    ConsolescrapeError,
    ExitCode,
    Stopped,
    SyncPending,
    SyncRefused,
    UsageError,
)
from consolescrape.store import Outbox, OutboxItem

if TYPE_CHECKING:
    import requests

Log = Callable[[str], None]

ATTEMPT_TIMEOUT = 10.0
#: Below this much budget an attempt is not worth starting.
MIN_ATTEMPT = 0.5
BACKOFF_BASE = 0.5
BACKOFF_CAP = 8.0
#: Answers are read up to this size; a server's error page is never worth more.
MAX_RESPONSE_BYTES = 64 * 1024
RETRYABLE_STATUS = {408, 425, 429}


def _quiet(_: str) -> None:
    pass


#: The budget of `run`'s own sync phase: its snapshot is already queued and the next run (or a
#: `sync`) sends it, so a cron tick never spends the whole CLAUDE_SYNC_DEADLINE on an outage.
RUN_SYNC_SECONDS = 5.0


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


@dataclass
class SyncReport:
    """The outcome of one `sync`: what was sent, refused, left pending, and the first error."""

    sent: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    pending: int = 0
    attempts: int = 0
    error: ConsolescrapeError | None = None
    hints: list[str] = field(default_factory=list)
    #: `lastUpdated` of the newest snapshot the server accepted in this sync
    newest_sent: str | None = None

    def delivered(self, item_id: str, payload: model.Payload) -> None:
        self.sent.append(item_id)
        stamp = str(payload.body["lastUpdated"])
        self.newest_sent = max(self.newest_sent or stamp, stamp)

    @property
    def exit_code(self) -> ExitCode:
        return self.error.exit_code if self.error else ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "sent": len(self.sent),
            "rejected": len(self.rejected),
            "pending": self.pending,
            "attempts": self.attempts,
        }
        if self.error is not None:
            doc["error"] = self.error.message
        return doc


# --- reading answers ----------------------------------------------------------------------------


def _excerpt(raw: bytes, secrets: list[Secret], limit: int = 160) -> str:
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


def _server_message(raw: bytes, secrets: list[Secret]) -> str:
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):  # a deeply nested body is as unreadable as a broken one
        return _excerpt(raw, secrets)
    if not isinstance(doc, dict):
        return _excerpt(raw, secrets)
    parts = [str(doc[k]) for k in ("errorCode", "message") if doc.get(k)]
    if doc.get("suggestion"):
        parts.append(f"({doc['suggestion']})")
    return _excerpt(" ".join(parts).encode(), secrets) if parts else _excerpt(raw, secrets)


def _retry_after(value: str | None) -> float | None:
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


def _read_capped(response: requests.Response) -> bytes:
    try:
        return response.raw.read(MAX_RESPONSE_BYTES, decode_content=True) or b""
    except Stopped:
        raise
    except Exception:  # a body cut short is still an answer; its status is what counts
        return b""
    finally:
        response.close()


# --- one snapshot ---------------------------------------------------------------------------------


def _post_once(
    session: requests.Session, settings: Settings, payload: model.Payload, timeout: float
) -> Answer:
    import requests

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
        reason = _connection_reason(exc)
        return Answer(
            0,
            f"cannot connect: {reason}",
            unreachable=reason in ("connection refused", "host name not found"),
        )
    except requests.exceptions.RequestException as exc:
        return Answer(0, f"request failed: {type(exc).__name__}")
    raw = _read_capped(response)
    # The server's words are shown and stored: no escape sequences, and never the key it echoes.
    message = _server_message(raw, [key]) if raw else response.reason or ""
    location = response.headers.get("Location")
    return Answer(
        status=response.status_code,
        message=sanitize.scrub(message, [key]),
        retry_after=_retry_after(response.headers.get("Retry-After")),
        location=sanitize.scrub(location, [key]) if location else None,
    )


def _tls_reason(exc: Exception) -> str:
    text = str(exc)
    match = re.search(r"certificate verify failed: ([^()'\"]+)", text)
    return match.group(1).strip() if match else "certificate not trusted"


def _connection_reason(exc: Exception) -> str:
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


class _DeadlineHit(BaseException):
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
        raise _DeadlineHit

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
    log: Log = _quiet,
    notice: Log = _quiet,
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
        answer = _post_once(session, settings, payload, min(ATTEMPT_TIMEOUT, remaining))
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
        log(f"attempt {attempt}: {_describe(answer)}; retrying in {wait:.1f} s")
        if attempt == 1:  # say once why the command is taking its time
            notice(
                f"sync: {_describe(answer)}; retrying for up to {deadline.remaining():.0f} s "
                + ("(run's own budget)" if deadline.fail_fast else "(CLAUDE_SYNC_DEADLINE)")
            )
        time.sleep(wait)


def _deliver_within(
    session: requests.Session,
    settings: Settings,
    payload: model.Payload,
    deadline: Deadline,
    log: Log,
    notice: Log = _quiet,
) -> tuple[Answer, int]:
    """`deliver`, with the hard deadline's interrupt turned into a transient failure."""
    try:
        return deliver(session, settings, payload, deadline, log, notice)
    except _DeadlineHit:
        return Answer(0, "sync deadline reached during the request"), 1


def _describe(answer: Answer) -> str:
    if answer.status == 0:
        return answer.message
    return f"HTTP {answer.status}" + (f" {answer.message}" if answer.message else "")


def _refusal(
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


def _no_netrc(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """An auth hook that adds nothing: a set auth stops requests adding ~/.netrc credentials."""
    return request


def _new_session() -> requests.Session:
    import requests

    session = requests.Session()
    # Proxies from the environment are fine; credentials from ~/.netrc must not be added
    # (requests adds them whenever no auth is set, trust_env or not of proxies).
    session.auth = _no_netrc
    return session


# --- the outbox and files -----------------------------------------------------------------


def drain(
    settings: Settings,
    log: Log = _quiet,
    *,
    warn: Log = _quiet,
    notice: Log = _quiet,
    within_run: bool = False,
) -> SyncReport:
    """Deliver every queued snapshot, oldest first, within one overall deadline: the full
    CLAUDE_SYNC_DEADLINE, or `RUN_SYNC_SECONDS` failing fast for `run`'s own sync phase."""
    check_sync_target(settings)
    require_key(settings)
    outbox = Outbox(settings.outbox_dir, settings.outbox_cap)
    items = outbox.pending()
    report = SyncReport(pending=len(items))
    if not items:
        return report
    if within_run:
        deadline = Deadline(min(RUN_SYNC_SECONDS, settings.sync_deadline), fail_fast=True)
    else:
        deadline = Deadline(settings.sync_deadline)
    with _new_session() as session, hard_deadline(deadline.seconds + 1):
        try:
            for index, item in enumerate(items):
                payload = _outbox_payload(item, outbox, settings, report, warn)
                if payload is None:
                    continue
                try:
                    answer, attempts = _deliver_within(
                        session, settings, payload, deadline, log, notice
                    )
                except ConfigError as exc:
                    report.error = exc
                    break
                report.attempts += attempts
                verdict = answer.verdict
                if verdict is Verdict.SENT:
                    outbox.remove(item)
                    report.delivered(item.id, payload)
                    report.pending -= 1
                    log(f"sent {item.path.name} (HTTP {answer.status}, {attempts} attempt(s))")
                elif verdict is Verdict.DATA_REFUSED:
                    # 400/413 and any other permanent refusal of this item: set it aside so newer
                    # snapshots still get through.
                    outbox.reject(item, f"HTTP {answer.status}: {answer.message}")
                    report.rejected.append(item.id)
                    report.pending -= 1
                    report.error = report.error or _refusal(answer)
                    warn(
                        f"server refused {item.path.name}: {_describe(answer)}; moved to rejected/"
                    )
                elif verdict is Verdict.KEY_REFUSED:
                    report.error = _refusal(answer)
                    break
                else:
                    left = len(items) - index
                    report.error = SyncPending(
                        f"sync failed: {_describe(answer)} after {attempts} attempt(s); "
                        f"{left} snapshot(s) stay queued",
                        "nothing is lost: the next run or `consolescrape sync` sends them",
                    )
                    break
        except _DeadlineHit:  # past the hard deadline outside a request: stop, keep the rest
            report.error = SyncPending(
                f"sync deadline reached; {report.pending} snapshot(s) stay queued",
                "nothing is lost: the next run or `consolescrape sync` sends them",
            )
    return report


def _outbox_payload(
    item: OutboxItem, outbox: Outbox, settings: Settings, report: SyncReport, warn: Log
) -> model.Payload | None:
    """The payload of a queued item, or None after setting an unusable item aside (one bad
    item must never block the queue: it goes to rejected/ with its reason, and the exit code
    says so)."""
    try:
        payload = model.to_payload(item.load(), settings.model_row)
    except (OSError, store.Unreadable) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        _set_aside(item, outbox, report, warn, f"unreadable: {reason}")
        return None
    payload = model.Payload(payload.body, item.id, payload.hint)
    if payload.hint and payload.hint not in report.hints:
        report.hints.append(payload.hint)
    problems = model.validate_payload(payload.body)
    if problems:
        _set_aside(item, outbox, report, warn, "invalid: " + "; ".join(problems))
        return None
    return payload


def _set_aside(item: OutboxItem, outbox: Outbox, report: SyncReport, warn: Log, why: str) -> None:
    outbox.reject(item, why)
    report.rejected.append(item.id)
    report.pending -= 1
    report.error = report.error or SyncRefused(
        f"queued snapshot {item.path.name} was set aside, {why}",
        "it is in outbox/rejected/ with its reason, unsent; the rest of the queue goes on",
    )
    warn(f"queued item {item.path.name} set aside in rejected/ ({why})")


def load_file_payload(path: Path, model_row: str) -> model.Payload:
    """Read and check a snapshot file for `sync --file`; any problem is a usage error (exit 2)."""
    try:
        snapshot = store.read_snapshot(path)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    except store.Unreadable as exc:
        raise UsageError(str(exc)) from None
    payload = model.to_payload(snapshot, model_row)
    problems = model.validate_payload(payload.body)
    if problems:
        raise UsageError(f"{path} would be refused by the server: {'; '.join(problems)}")
    return payload


def send_file(
    settings: Settings, path: Path, log: Log = _quiet, notice: Log = _quiet
) -> SyncReport:
    """Send exactly the data in `path` (a resend); the outbox is not touched."""
    payload = load_file_payload(path, settings.model_row)
    check_sync_target(settings)
    require_key(settings)
    report = SyncReport(pending=1, hints=[payload.hint] if payload.hint else [])
    with _new_session() as session, hard_deadline(settings.sync_deadline + 1):
        answer, attempts = _deliver_within(
            session, settings, payload, Deadline(settings.sync_deadline), log, notice
        )
    report.attempts = attempts
    verdict = answer.verdict
    if verdict is Verdict.SENT:
        report.delivered(payload.id, payload)
        report.pending = 0
        log(f"sent {path.name} (HTTP {answer.status}, {attempts} attempt(s))")
    elif verdict in (Verdict.KEY_REFUSED, Verdict.DATA_REFUSED):
        report.error = _refusal(answer, f"{path} is unchanged")
        if verdict is Verdict.DATA_REFUSED:
            report.rejected.append(payload.id)
            report.pending = 0
    else:
        report.error = SyncPending(
            f"sync failed: {_describe(answer)} after {attempts} attempt(s)",
            f"{path} is unchanged; run the same command again later",
        )
    return report


def probe(settings: Settings, timeout: float = 5.0) -> Answer:
    """One POST of a body the server must refuse (no lastUpdated): reachable, key checked, and
    nothing stored. 400 means the endpoint and key are right; 401/403 means the key is not."""
    check_sync_target(settings)
    payload = model.Payload(body={"consolescrapeDoctor": True}, id="doctor-probe")
    try:
        with _new_session() as session, hard_deadline(timeout):
            return _post_once(session, settings, payload, timeout)
    except _DeadlineHit:  # a server trickling bytes: each read is quick, the whole is not
        return Answer(0, f"no complete answer within {timeout:g} s")


def ping_health(url: str, *, ok: bool, timeout: float = 5.0) -> bool:
    """Best-effort dead-man's-switch ping (healthchecks.io style): URL, or URL/fail; it ends
    within `timeout` whatever the server does."""
    import requests

    target = url.rstrip("/") + ("" if ok else "/fail")
    try:
        with (
            hard_deadline(timeout),
            _new_session() as session,
            session.get(
                target, timeout=(timeout / 2, timeout / 2), allow_redirects=False, stream=True
            ) as response,
        ):
            return response.status_code < 400
    except (requests.exceptions.RequestException, _DeadlineHit):
        return False
