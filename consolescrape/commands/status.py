"""`consolescrape status`: show a home's usage and health; with --check, a problem is exit 9."""

from __future__ import annotations

from pathlib import Path

from consolescrape import config
from consolescrape import status as facts
from consolescrape.config import Settings
from consolescrape.errors import CheckFailed, ConsolescrapeError
from consolescrape.outcome import Outcome, as_error
from consolescrape.output import Reporter
from consolescrape.views import status as view


def status(
    settings: Settings, reporter: Reporter, *, check: bool, max_age: float, as_json: bool
) -> Outcome:
    """One home: its view on stdout (or `--json`); with `check`, its problems fail it."""
    found = facts.collect(settings, max_age=max_age)
    found.problems = [(what, reporter.advise(fix)) for what, fix in found.problems]
    if not as_json:
        view.render(found, reporter.console)
    outcome = Outcome(data=view.to_json(found))
    if check and found.problems:
        if as_json:
            what = "; ".join(problem for problem, _ in found.problems)
            outcome.fail(CheckFailed(what, found.problems[0][1]))
        else:  # each problem and its fix are already on screen
            outcome.fail(CheckFailed(f"status check failed: {len(found.problems)} problem(s)"))
    return outcome


def several(
    homes: list[Path],
    env_file: Path | None,
    reporter: Reporter,
    *,
    check: bool,
    max_age: float,
    as_json: bool,
) -> Outcome:
    """`status --home A --home B`: each account (one home each) in turn, and one verdict.

    Each home's settings are loaded on its own, so one home's bad setting is that home's
    answer and the others are still shown, in whatever order they were given.
    """
    accounts, failing = [], []
    for home in homes:
        if not as_json:
            reporter.console.print(f"── {home} ──", markup=False, soft_wrap=True)
        try:
            settings = config.load({"home": home}, env_file=env_file)
            if settings.api_key is not None:
                reporter.secrets.append(settings.api_key)
            outcome = status(settings, reporter, check=check, max_age=max_age, as_json=as_json)
        except (ConsolescrapeError, OSError) as exc:
            error = as_error(exc)
            reporter.error(error.message, error.advice)
            outcome = Outcome.failed(error)
        shown = outcome.error.to_json() if outcome.error else None
        accounts.append(
            {"home": str(home), "exitCode": int(outcome.exit_code), "status": outcome.data}
            | ({"error": shown} if shown else {})
        )
        if outcome.error is not None:
            failing.append(str(home))
    result = Outcome(data={"accounts": accounts})
    if failing:
        result.fail(
            CheckFailed(
                f"{len(failing)} of {len(homes)} accounts need attention: " + ", ".join(failing)
            )
        )
    return result
