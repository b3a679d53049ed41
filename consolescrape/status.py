"""What `status` knows about a home: the latest data, its age, the last run and sync, the
outbox, and the problems `--check` fails on. Views draw it (`views.status`); no text here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from consolescrape import forecast, history, model, store
from consolescrape.config import Settings
from consolescrape.errors import LOGIN_ADVICE, ConfigError
from consolescrape.words import duration

if TYPE_CHECKING:
    from consolescrape.forecast import Forecast


@dataclass
class Status:
    """Everything `status` shows; `problems` is what makes `--check` fail."""

    now: datetime
    snapshot: model.Snapshot | None
    data_error: str | None
    state: store.State
    pending: list[store.OutboxItem]
    rejected: int
    max_age: float
    problems: list[tuple[str, str]] = field(default_factory=list)  # (what, how to fix)
    hint: str | None = None
    #: per limit key, from history.db; a limit without enough history has none.
    forecasts: dict[str, Forecast] = field(default_factory=dict)

    @property
    def age(self) -> float | None:
        if self.snapshot is None:
            return None
        return (self.now - self.snapshot.last_updated).total_seconds()

    @property
    def oldest_pending(self) -> datetime | None:
        return self.pending[0].queued_at if self.pending else None


def collect(settings: Settings, *, max_age: float, now: datetime | None = None) -> Status:
    check_home_exists(settings)
    now = now or datetime.now(UTC)
    snapshot, data_error = None, None
    try:
        snapshot = store.load_snapshot(settings.data_file)
    except ValueError as exc:
        data_error = f"{settings.data_file} is damaged: {exc}"
    outbox = store.Outbox(settings.outbox_dir, settings.outbox_cap)
    status = Status(
        now=now,
        snapshot=snapshot,
        data_error=data_error,
        state=store.load_state(settings.state_file),
        pending=outbox.pending(),
        rejected=len(outbox.rejected()),
        max_age=max_age,
    )
    assess(status, settings)
    if snapshot is not None:
        status.forecasts = forecasts(settings, snapshot, now)
    return status


def check_home_exists(settings: Settings) -> None:
    """A home given by --home or CONSOLESCRAPE_HOME that does not exist is a typo, not an empty
    status (the default home only appears with the first login or run)."""
    origin = settings.origins.get("home")
    if origin == "default" or settings.home.is_dir():
        return
    given = "--home" if origin == "flag" else "CONSOLESCRAPE_HOME"
    raise ConfigError(
        f"no such home: {settings.home}",
        f"check {given}; a new home is made by `consolescrape login --home {settings.home}`",
    )


def forecasts(settings: Settings, snapshot: model.Snapshot, now: datetime) -> dict[str, Forecast]:
    """A forecast per limit from its current window in history.db (none when it cannot say)."""

    found: dict[str, Forecast] = {}
    try:
        reader = history.open_for_reading(settings.history_file)
        if reader is None:
            return found
        with reader:
            for key, _ in snapshot.limits():
                window, points = reader.window_points(key, now)
                result = forecast.forecast(points, window.resets_at if window else None, now)
                if result is not None:
                    found[key] = result
    except history.HistoryError:
        pass  # status still shows the data; `doctor` names the database's problem and fix
    return found


def assess(status: Status, settings: Settings) -> None:
    """Fill in the problems a monitor should hear about, each with its fix."""
    if status.data_error:
        status.problems.append((status.data_error, "run `consolescrape run` to write it anew"))
    elif status.snapshot is None:
        first = "" if settings.profile.is_dir() else "`consolescrape login` once, then "
        status.problems.append(("no usage data yet", f"run {first}`consolescrape run`"))
    elif status.age is not None and status.age > status.max_age:
        status.problems.append(
            (
                f"data is stale: last updated {duration(status.age)} ago "
                f"(threshold {duration(status.max_age)})",
                "check that cron runs `consolescrape run` and look at its log",
            )
        )
    last_run = status.state.run
    unrecorded = _unrecorded_run(status)
    if unrecorded:
        status.problems.append(unrecorded)
    if (
        last_run is not None
        and not last_run.ok
        and not status.state.run_resolved
        and not passing(last_run)
    ):
        status.problems.append(
            (
                f"last run failed (exit {last_run.exit_code}): {last_run.message}",
                last_run.advice or _fix_for(last_run.exit_code, settings),
            )
        )
    last_sync = status.state.last_sync
    # Without a key sync is off by choice ("local only"): an old sync failure is no problem.
    sync_on = settings.api_key is not None
    if sync_on and last_sync is not None and not last_sync.ok:
        status.problems.append(
            (
                f"last sync failed (exit {last_sync.exit_code}): {last_sync.message}",
                last_sync.advice or _fix_for(last_sync.exit_code, settings),
            )
        )
    if status.snapshot is not None:
        status.hint = model.model_row_hint(status.snapshot, settings.model_row)


def organization_line(snapshot: model.Snapshot) -> str | None:
    """Which organization was read, when that was a choice worth seeing: several paid ones, or
    CONSOLESCRAPE_ORG."""
    org = snapshot.organization or {}
    name, plan, others = org.get("name"), org.get("plan"), org.get("otherPaid")
    if not isinstance(name, str):
        return None
    shown = f"{name} ({plan})" if isinstance(plan, str) and plan else name
    if org.get("chosenBy") == "CONSOLESCRAPE_ORG":
        return f"organization: {shown} (CONSOLESCRAPE_ORG)"
    if isinstance(others, list) and others:
        also = ", ".join(str(o) for o in others)
        return (
            f"organization: {shown}, the first paid one; also paid: {also} — "
            "set CONSOLESCRAPE_ORG=<uuid or name> to read another"
        )
    return None


def passing(record: store.Record) -> bool:
    """A run that met the site's passing trouble (a 429, an outage): nothing to fix, so not a
    problem by itself — the data's age (--max-age) says when it has lasted too long."""
    return record.doc.get("siteTrouble") is True


def _unrecorded_run(status: Status) -> tuple[str, str] | None:
    """A run saved newer data than the last run state.json records: its outcome (a failure,
    most likely: a full disk) could not be written, and the record would pass for it."""
    run = status.state.run
    if status.snapshot is None or run is None or not run.at:
        return None
    if model.format_time(status.snapshot.last_updated) <= run.at:
        return None
    return (
        f"the last run is not recorded: the data is from "
        f"{model.format_time(status.snapshot.last_updated)}, "
        f"the last recorded run from {run.at}",
        "state.json could not be written: check the disk holding the home (full? read-only?) "
        "and the run's log",
    )


def _fix_for(code: int, settings: Settings) -> str:
    """Advice for a record written before errors recorded their own (older state.json)."""
    return {
        3: LOGIN_ADVICE,
        4: f"see {settings.debug_dir} for the page it saw; `consolescrape doctor` checks set-up",
        5: "the server or network was down; queued data is sent on the next run "
        "(a `sync --file` must be repeated)",
        6: "check CLAUDE_SYNC_API_KEY, or the server's message about the data",
        7: "run `consolescrape doctor` to see which setting to fix",
    }.get(code, "run `consolescrape doctor`; rerun with --verbose for details")
