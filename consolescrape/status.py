"""`consolescrape status`: the latest data, its age, the last run and sync, the outbox."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from consolescrape import model, store
from consolescrape.config import Settings
from consolescrape.errors import LOGIN_ADVICE, ConfigError
from consolescrape.sanitize import clean

if TYPE_CHECKING:
    from pathlib import Path

    from consolescrape.forecast import Forecast
    from consolescrape.jobs import Outcome
    from consolescrape.output import Reporter


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
    from consolescrape import forecast, history

    found: dict[str, Forecast] = {}
    try:
        reader = history.open_for_reading(settings.history_file)
        if reader is None:
            return found
        with reader:
            for key, _ in history.limits(snapshot):
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


def _last_run(state: store.State) -> dict[str, Any] | None:
    run = state.run
    if run is None:
        return None
    return {**run.doc, "resolved": True} if state.run_resolved else dict(run.doc)


def _last_sync(state: store.State) -> dict[str, Any] | None:
    """The last successful delivery: a later failure is `lastSyncAttempt` and a problem."""
    sync = state.last_delivery
    return None if sync is None else dict(sync.doc)


def _last_sync_attempt(state: store.State) -> dict[str, Any] | None:
    sync = state.last_sync
    return None if sync is None else dict(sync.doc)


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


def several(
    homes: list[Path],
    env_file: Path | None,
    reporter: Reporter,
    *,
    check: bool,
    max_age: float,
    as_json: bool,
) -> Outcome:
    """`status --home A --home B`: each account (one home each) in turn, and one verdict."""
    from consolescrape import config, jobs
    from consolescrape.errors import CheckFailed, ConsolescrapeError

    accounts, failing = [], []
    for home in homes:
        if not as_json:
            reporter.console.print(f"── {home} ──", markup=False, soft_wrap=True)
        try:
            settings = config.load({"home": home}, env_file=env_file)
            outcome = jobs.status(settings, reporter, check=check, max_age=max_age, as_json=as_json)
        except ConsolescrapeError as exc:
            reporter.error(exc.message, exc.advice)
            outcome = jobs.Outcome(exit_code=exc.exit_code, error=exc)
        error = outcome.error.to_json() if outcome.error else None
        accounts.append(
            {"home": str(home), "exitCode": int(outcome.exit_code), "status": outcome.data}
            | ({"error": error} if error else {})
        )
        if outcome.error is not None:
            failing.append(str(home))
    result = jobs.Outcome(data={"accounts": accounts})
    if failing:
        result.error = CheckFailed(
            f"{len(failing)} of {len(homes)} accounts need attention: " + ", ".join(failing)
        )
        result.exit_code = result.error.exit_code
    return result


# --- presentation ----------------------------------------------------------------------------


def duration(seconds: float) -> str:
    """'45 s', '12 min', '3 hr 5 min', '2 d 4 hr'."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} hr {minutes} min" if minutes else f"{hours} hr"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} hr" if hours else f"{days} d"


def limit_label(key: str) -> str:
    """ "Current session", "All models", or the model name: how people read a limit key."""
    if key == model.SESSION:
        return "Current session"
    if key == model.ALL_MODELS:
        return "All models"
    return model.model_name(key)


def percent_style(percent: float) -> str:
    """The colour a limit's percent is shown in: green, yellow from 70 %, red from 90 %."""
    return "red" if percent >= 90 else "yellow" if percent >= 70 else "green"


def _countdown(limit: model.Limit, now: datetime) -> str:
    if limit.resets_at is None:
        return limit.resets_in
    left = (limit.resets_at - now).total_seconds()
    if left <= 0:
        return f"reset due ({limit.resets_in})"
    return f"resets in {duration(left)}"


def _ago(at: object, now: datetime) -> str:
    try:
        moment = model.parse_time(str(at))
    except ValueError:
        return "at an unknown time"
    return f"{duration((now - moment).total_seconds())} ago"


def rows(status: Status) -> list[tuple[str, int | float, str]]:
    """(label, percent, reset text) per limit, session first."""
    if status.snapshot is None:
        return []
    limits: list[tuple[str, model.Limit]] = []
    if status.snapshot.session is not None:
        limits.append((model.SESSION, status.snapshot.session))
    limits += list(status.snapshot.weekly.items())
    # Labels and reset texts come from the page: shown without any escape sequence in them.
    return [
        (clean(v.label or limit_label(k)), v.percentage_used, clean(_countdown(v, status.now)))
        for k, v in limits
    ]


def to_json(status: Status) -> dict[str, Any]:
    oldest = status.oldest_pending
    return {
        "snapshot": model.to_json(status.snapshot) if status.snapshot else None,
        "ageSeconds": None if status.age is None else round(status.age, 1),
        "stale": status.age is None or status.age > status.max_age,
        "lastRun": _last_run(status.state),
        "lastSync": _last_sync(status.state),
        "lastSyncAttempt": _last_sync_attempt(status.state),
        "outbox": {
            "pending": len(status.pending),
            "oldest": model.format_time(oldest) if oldest else None,
            "rejected": status.rejected,
        },
        "problems": [{"problem": what, "fix": fix} for what, fix in status.problems],
        "hint": status.hint,
        "forecasts": {key: found.to_json() for key, found in status.forecasts.items()},
    }


def _render_forecasts(status: Status, console: Any) -> None:
    from consolescrape.forecast import describe

    for key, found in status.forecasts.items():
        # The limit's row above already counts down to its reset: one countdown per screen.
        text = describe(found, status.now, with_reset=False)
        console.print(f"{limit_label(key)}: {text}", markup=False)


#: The bar's widest and narrowest: it gives way on a narrow terminal before the text wraps.
BAR_WIDTH = 24
MIN_BAR_WIDTH = 10
#: "(resets in 2 hr 42 min)" in a recorded summary: the rows above count down live instead.
_RECORDED_COUNTDOWN = re.compile(r" \(resets [^()]*\)")


def bar_width(table_rows: list[tuple[str, int | float, str]], width: int) -> int:
    """The bar's width for a console `width` wide, given the label and reset columns."""
    label = max((len(label) for label, _, _ in table_rows), default=0)
    reset = max((len(reset) for _, _, reset in table_rows), default=0)
    # One blank of padding on each side of each of the four columns; "100%" is four wide.
    room = width - label - 4 - reset - 8
    return max(MIN_BAR_WIDTH, min(BAR_WIDTH, room))


def recorded_message(entry: dict[str, Any]) -> str:
    """The message a run or sync recorded, without the countdowns it had then."""
    return _RECORDED_COUNTDOWN.sub("", clean(str(entry.get("message", ""))))


def render(status: Status, console: Any) -> None:
    """Print the status with one bar per limit (rich renders plain text outside a terminal)."""
    from rich.table import Table
    from rich.text import Text

    now = status.now
    if status.snapshot is not None:
        age = status.age or 0
        style = "bold red" if age > status.max_age else "green"
        origin = {"mixed": "api and the page"}.get(
            status.snapshot.source or "", status.snapshot.source
        )
        if status.snapshot.via == "oauth":
            origin = "OAuth usage endpoint (Claude Code's login)"
        source = f" · from the {origin}" if origin else ""
        console.print(
            Text.assemble("Claude usage · updated ", (f"{duration(age)} ago", style), source)
        )
        table = Table(show_header=False, box=None, padding=(0, 1))
        table.add_column()
        table.add_column(no_wrap=True)
        table.add_column(no_wrap=True)
        table.add_column(overflow="fold")
        shown = rows(status)
        width = bar_width(shown, console.width)
        for label, percent, reset in shown:
            filled = round(width * min(max(percent, 0), 100) / 100)
            bar = Text("█" * filled, style=percent_style(percent)) + Text(
                "░" * (width - filled), style="dim"
            )
            table.add_row(label, bar, f"{percent:g}%".rjust(4), reset)
        console.print(table)
        _render_forecasts(status, console)
        if status.snapshot.is_partial:
            missing = clean(", ".join(status.snapshot.extraction_errors))
            console.print(Text(f"partial: missing {missing}", style="yellow"))
        org = organization_line(status.snapshot)
        if org:
            console.print(clean(org), markup=False)
    for name, key in (("Last run", "run"), ("Last sync", None)):
        entry = _last_run(status.state) if key == "run" else _last_sync(status.state)
        if not isinstance(entry, dict):
            console.print(f"{name:<10} never")
            continue
        mark = Text("✓", style="green") if entry.get("ok") else Text("✗", style="bold red")
        if entry.get("siteTrouble") is True:
            mark = Text("!", style="yellow")  # the site's passing trouble: nothing to fix
        console.print(
            Text.assemble(
                f"{name:<10} ",
                mark,
                f" {_ago(entry.get('at'), now)} · ",
                recorded_message(entry),
                (" (resolved: a later sync succeeded)" if entry.get("resolved") else ""),
            )
        )
    oldest = status.oldest_pending
    queued = "empty"
    if status.pending and oldest:
        waited = duration((now - oldest).total_seconds())
        queued = f"{len(status.pending)} pending, oldest queued {waited} ago"
    extra = f" · {status.rejected} rejected in outbox/rejected/" if status.rejected else ""
    console.print(f"{'Outbox':<10} {queued}{extra}")
    if status.hint:
        console.print(Text(f"hint: {clean(status.hint)}", style="yellow"))
    for what, fix in status.problems:
        console.print(Text.assemble(("✗ ", "bold red"), clean(what)))
        # The fix on a line of its own, never broken: the commands in it are copied whole.
        console.print(Text(f"  → {fix}", style="cyan"), soft_wrap=True)
