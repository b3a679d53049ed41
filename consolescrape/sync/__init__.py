"""Deliver snapshots to the user's server: the outbox oldest first, or one file; the probe and
the health ping. The only code that imports requests (inside functions, so other commands start
fast). The server's rules and answers are in docs/server-contract.md. One job per module:

- `answers`: what an answer means (`Answer.verdict`), its message made safe to show;
- `post`: one POST with retries, under a monotonic budget and a hard deadline;
- this module: the queue and the file, what was sent, refused or left pending.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from consolescrape import model, store
from consolescrape.config import Settings, check_sync_target, require_key
from consolescrape.errors import (
    ConfigError,
    ConsolescrapeError,
    ExitCode,
    SyncPending,
    SyncRefused,
    UsageError,
)
from consolescrape.store import Outbox, OutboxItem
from consolescrape.sync.answers import Answer, Verdict, describe, refusal
from consolescrape.sync.post import (
    Deadline,
    DeadlineHit,
    deliver_within,
    hard_deadline,
    new_session,
    ping_health,
    post_once,
)

__all__ = [
    "RUN_SYNC_SECONDS",
    "Answer",
    "SyncReport",
    "Verdict",
    "drain",
    "hard_deadline",
    "load_file_payload",
    "ping_health",
    "probe",
    "send_file",
]

logger = logging.getLogger(__name__)

#: The budget of `run`'s own sync phase: its snapshot is already queued and the next run (or a
#: `sync`) sends it, so a cron tick never spends the whole CLAUDE_SYNC_DEADLINE on an outage.
RUN_SYNC_SECONDS = 5.0


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


def drain(
    settings: Settings, *, within_run: bool = False, fresh: model.Payload | None = None
) -> SyncReport:
    """Deliver every queued snapshot, oldest first, within one overall deadline: the full
    CLAUDE_SYNC_DEADLINE, or `RUN_SYNC_SECONDS` failing fast for `run`'s own sync phase.

    `fresh` is the payload `run` built, checked and queued a moment ago: it is sent as it is,
    not read back from its file."""
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
    with new_session() as session, hard_deadline(deadline.seconds + 1):
        try:
            for index, item in enumerate(items):
                payload = _outbox_payload(item, outbox, settings, report, fresh)
                if payload is None:
                    continue
                try:
                    answer, attempts = deliver_within(session, settings, payload, deadline)
                except ConfigError as exc:
                    report.error = exc
                    break
                report.attempts += attempts
                verdict = answer.verdict
                if verdict is Verdict.SENT:
                    outbox.remove(item)
                    report.delivered(item.id, payload)
                    report.pending -= 1
                    logger.debug(
                        f"sent {item.path.name} (HTTP {answer.status}, {attempts} attempt(s))"
                    )
                elif verdict is Verdict.DATA_REFUSED:
                    # 400/413 and any other permanent refusal of this item: set it aside so newer
                    # snapshots still get through.
                    outbox.reject(item, f"HTTP {answer.status}: {answer.message}")
                    report.rejected.append(item.id)
                    report.pending -= 1
                    report.error = report.error or refusal(answer)
                    logger.warning(
                        f"server refused {item.path.name}: {describe(answer)}; moved to rejected/"
                    )
                elif verdict is Verdict.KEY_REFUSED:
                    report.error = refusal(answer)
                    break
                else:
                    left = len(items) - index
                    report.error = SyncPending(
                        f"sync failed: {describe(answer)} after {attempts} attempt(s); "
                        f"{left} snapshot(s) stay queued",
                        "nothing is lost: the next run or `consolescrape sync` sends them",
                    )
                    break
        except DeadlineHit:  # past the hard deadline outside a request: stop, keep the rest
            report.error = SyncPending(
                f"sync deadline reached; {report.pending} snapshot(s) stay queued",
                "nothing is lost: the next run or `consolescrape sync` sends them",
            )
    return report


def _outbox_payload(
    item: OutboxItem,
    outbox: Outbox,
    settings: Settings,
    report: SyncReport,
    fresh: model.Payload | None = None,
) -> model.Payload | None:
    """The payload of a queued item, or None after setting an unusable item aside (one bad
    item must never block the queue: it goes to rejected/ with its reason, and the exit code
    says so)."""
    if fresh is not None and item.id == fresh.id:
        if fresh.hint and fresh.hint not in report.hints:
            report.hints.append(fresh.hint)
        return fresh
    try:
        payload = model.to_payload(item.load(), settings.model_row)
    except (OSError, store.Unreadable) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        _set_aside(item, outbox, report, f"unreadable: {reason}")
        return None
    payload = model.Payload(payload.body, item.id, payload.hint)
    if payload.hint and payload.hint not in report.hints:
        report.hints.append(payload.hint)
    problems = model.validate_payload(payload.body)
    if problems:
        _set_aside(item, outbox, report, "invalid: " + "; ".join(problems))
        return None
    return payload


def _set_aside(item: OutboxItem, outbox: Outbox, report: SyncReport, why: str) -> None:
    outbox.reject(item, why)
    report.rejected.append(item.id)
    report.pending -= 1
    report.error = report.error or SyncRefused(
        f"queued snapshot {item.path.name} was set aside, {why}",
        "it is in outbox/rejected/ with its reason, unsent; the rest of the queue goes on",
    )
    logger.warning(f"queued item {item.path.name} set aside in rejected/ ({why})")


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


def send_file(settings: Settings, path: Path, payload: model.Payload | None = None) -> SyncReport:
    """Send exactly the data in `path` (a resend; `payload`: what `load_file_payload` read from
    it already); the outbox is not touched."""
    payload = payload or load_file_payload(path, settings.model_row)
    check_sync_target(settings)
    require_key(settings)
    report = SyncReport(pending=1, hints=[payload.hint] if payload.hint else [])
    with new_session() as session, hard_deadline(settings.sync_deadline + 1):
        answer, attempts = deliver_within(
            session, settings, payload, Deadline(settings.sync_deadline)
        )
    report.attempts = attempts
    verdict = answer.verdict
    if verdict is Verdict.SENT:
        report.delivered(payload.id, payload)
        report.pending = 0
        logger.debug(f"sent {path.name} (HTTP {answer.status}, {attempts} attempt(s))")
    elif verdict in (Verdict.KEY_REFUSED, Verdict.DATA_REFUSED):
        report.error = refusal(answer, f"{path} is unchanged")
        if verdict is Verdict.DATA_REFUSED:
            report.rejected.append(payload.id)
            report.pending = 0
    else:
        report.error = SyncPending(
            f"sync failed: {describe(answer)} after {attempts} attempt(s)",
            f"{path} is unchanged; run the same command again later",
        )
    return report


def probe(settings: Settings, timeout: float = 5.0) -> Answer:
    """One POST of a body the server must refuse (no lastUpdated): reachable, key checked, and
    nothing stored. 400 means the endpoint and key are right; 401/403 means the key is not."""
    check_sync_target(settings)
    payload = model.Payload(body={"consolescrapeDoctor": True}, id="doctor-probe")
    try:
        with new_session() as session, hard_deadline(timeout):
            return post_once(session, settings, payload, timeout)
    except DeadlineHit:  # a server trickling bytes: each read is quick, the whole is not
        return Answer(0, f"no complete answer within {timeout:g} s")
