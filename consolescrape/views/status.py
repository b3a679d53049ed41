"""What `status` shows: one bar per limit, the last run and sync, the outbox, the problems;
and the same as `--json`. Presentation only: the facts come from `consolescrape.status`."""

from __future__ import annotations

import re
from typing import Any

from consolescrape import model, store
from consolescrape.forecast import describe
from consolescrape.sanitize import clean
from consolescrape.status import Status, organization_line
from consolescrape.words import ago, countdown, duration, limit_label, percent_style


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


def rows(status: Status) -> list[tuple[str, int | float, str]]:
    """(label, percent, reset text) per limit, session first."""
    if status.snapshot is None:
        return []
    # Labels and reset texts come from the page: shown without any escape sequence in them.
    return [
        (clean(v.label or limit_label(k)), v.percentage_used, clean(countdown(v, status.now)))
        for k, v in status.snapshot.limits()
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
                f" {ago(entry.get('at'), now)} · ",
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
