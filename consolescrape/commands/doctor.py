"""`consolescrape doctor`: every set-up check with ✓/✗ and its fix; exit 9 if a required one
fails. The checks themselves are `consolescrape.doctor`."""

from __future__ import annotations

from consolescrape import doctor as checks
from consolescrape import version
from consolescrape.config import Settings
from consolescrape.errors import CheckFailed
from consolescrape.outcome import Outcome
from consolescrape.output import Reporter


def doctor(settings: Settings, reporter: Reporter, *, online: bool) -> Outcome:
    results = checks.run_checks(settings, online=online)
    for check in results:
        mark = "✓" if check.ok else ("✗" if check.required else "!")
        reporter.line(f"{mark} {check.name}: {check.detail}")
        if not check.ok and check.fix:
            reporter.line(f"    fix: {reporter.advise(check.fix)}")
    resolved = checks.resolved_settings(settings)
    if reporter.verbose:
        reporter.line(f"  consolescrape {version()}")
        for name, value, origin in resolved:
            reporter.line(f"  {name}={value}  ({origin})")
    failed = [c for c in results if c.required and not c.ok]
    outcome = Outcome(
        data={
            "checks": [c.to_json() for c in results],
            "settings": {name: value for name, value, _ in resolved},
            "version": version(),
        }
    )
    if failed:
        # Each failed check printed its own fix above.
        outcome.fail(
            CheckFailed(f"{len(failed)} check(s) failed: {', '.join(c.name for c in failed)}")
        )
    return outcome
