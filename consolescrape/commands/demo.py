"""`consolescrape demo`: the whole pipeline against a bundled page and a local receiver.

Nothing leaves the machine: both servers listen on 127.0.0.1 (free ports), the home is a
temporary directory, and everything is stopped and removed at the end, Ctrl-C included.
"""

from __future__ import annotations

import dataclasses
import secrets
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from consolescrape import history
from consolescrape import status as facts
from consolescrape.browser import login as logging_in
from consolescrape.commands import history as history_command
from consolescrape.commands.run import RunOptions, run
from consolescrape.config import Secret, Settings
from consolescrape.demo.receiver import Receiver
from consolescrape.demo.site import StandIn
from consolescrape.outcome import Outcome
from consolescrape.output import Reporter
from consolescrape.views import history as history_view
from consolescrape.views import status as status_view

DEMO_SESSION_KEY = "demo-session"


def demo(settings: Settings, reporter: Reporter) -> Outcome:
    """Serve the sample page and a receiver, log in, run + sync, show the result, clean up."""
    key = secrets.token_urlsafe(24)
    with (
        tempfile.TemporaryDirectory(prefix="consolescrape-demo-") as temp,
        StandIn(session_key=DEMO_SESSION_KEY) as site,
        Receiver(api_key=key) as receiver,
    ):
        home = Path(temp)
        demo_settings = dataclasses.replace(
            settings,
            home=home,
            profile_dir=home / "profile",
            usage_url=site.url,
            sync_url=receiver.url,
            api_key=Secret(key),
            allow_insecure=False,
            ca_bundle=None,
            healthcheck_url=None,
            # The user's notifier and metrics file must not hear about sample data.
            alert_at=(),
            alert_command=None,
            metrics_file=None,
            env_file=None,
        )
        reporter.info(f"demo: usage page {site.url}, receiver {receiver.url}, home {home}")
        logging_in.login_with_session_key(demo_settings, DEMO_SESSION_KEY)
        reporter.info("demo: logged the temporary profile in; running `consolescrape run`")
        outcome = run(demo_settings, RunOptions(), reporter)
        found = facts.collect(demo_settings, max_age=15 * 60)
        if not reporter.quiet:
            status_view.render(found, reporter.console)
        stored = [r.json for r in receiver.accepted]
        if stored:
            reporter.info(f"demo: the receiver stored {len(stored)} snapshot(s); the last one:")
            if not reporter.quiet:
                reporter.console.print_json(data=stored[-1])
        reporter.info("demo: `consolescrape history` now holds this run:")
        if not reporter.quiet:
            history_command.show(demo_settings, reporter, since="24h", as_json=False, as_csv=False)
        day_ago = datetime.now(UTC) - history_view.parse_since("24h")
        outcome.data = {
            "snapshot": outcome.data,
            "receiverStored": stored,
            "history": history.rows_json(history_command.load(demo_settings, day_ago)),
            "home": str(home),
        }
    reporter.info("demo: stopped the page server and the receiver, removed the temporary home")
    return outcome
