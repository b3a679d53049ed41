"""A real `consolescrape run` held at each step after its save (the history write, the POST,
the alert commands, the health ping) and stopped there by SIGTERM or SIGKILL: the snapshot is
queued or delivered, the next run delivers it once and in order, and nothing of ours is left.

The runs read without a browser (conftest.oauth_env): by the save, a browser run's browser has
already quit, and what follows is the same. A signal in the browser phase: tests/test_run.py;
kill -9 at any moment of browser runs: tests/test_soak.py."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import metric_samples, sync_env
from runs import (
    Silent,
    alerts_logged,
    alive,
    assert_nothing_left,
    notifier,
    start_run,
    wait_until,
)
from support.oauth import OAuthStandIn
from support.receiver import Fault, ScriptedReceiver


def usage(session: float) -> dict[str, object]:
    """The usage endpoint's answer: the session at `session` %, one window for the module."""
    soon = (datetime.now(UTC) + timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    week = soon + timedelta(days=3)
    return {
        "five_hour": {"utilization": session, "resets_at": soon.isoformat()},
        "seven_day": {"utilization": 31, "resets_at": week.isoformat()},
        "seven_day_sonnet": {"utilization": 10, "resets_at": week.isoformat()},
    }


@pytest.fixture
def env(
    oauth_env: dict[str, str],
    oauth_endpoint: OAuthStandIn,
    home: Path,
    tmp_path: Path,
    receiver: ScriptedReceiver,
) -> Iterator[dict[str, str]]:
    (tmp_path / "metrics").mkdir()
    oauth_endpoint.configure(body=usage(90))
    yield {
        **oauth_env,
        "CONSOLESCRAPE_TIMEOUT": "30",
        "CONSOLESCRAPE_ALERT_AT": "80",
        "CONSOLESCRAPE_ALERT_COMMAND": str(notifier(tmp_path / "notify.py")),
        "CONSOLESCRAPE_METRICS_FILE": str(tmp_path / "metrics" / "consolescrape.prom"),
        "ALERT_LOG": str(tmp_path / "alerts.log"),
        **sync_env(receiver, CLAUDE_SYNC_DEADLINE="60"),
    }
    assert_nothing_left(home)


def exit_code_metric(env: dict[str, str]) -> str:
    return metric_samples(Path(env["CONSOLESCRAPE_METRICS_FILE"]))[
        "consolescrape_last_run_exit_code"
    ]


def delivered(receiver: ScriptedReceiver) -> list[tuple[str, str]]:
    """(lastUpdated, Idempotency-Key) of each snapshot the server stored, first arrival of each
    key only (a resend of a POST the killed run never saw answered carries the same key)."""
    seen: dict[str, str] = {}
    for got in receiver.accepted:
        seen.setdefault(got.header("Idempotency-Key") or "", got.json["lastUpdated"])
    return [(stamp, key) for key, stamp in seen.items()]


#: Each step after the save, how the test holds the run there, and what shows it is there.
STEPS = ["saved", "sync", "alerts", "ping"]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
@pytest.mark.parametrize("step", STEPS)
def test_a_signal_at_any_step_after_the_save_loses_no_snapshot_and_leaves_nothing(
    env: dict[str, str],
    home: Path,
    receiver: ScriptedReceiver,
    step: str,
    sig: signal.Signals,
) -> None:
    log = Path(env["ALERT_LOG"])
    data = home / "usage-data.json"
    with Silent() as silent:
        run_env = dict(env)
        if step == "sync":
            receiver.script(Fault.hang_for(120))
        elif step in ("alerts", "saved"):  # a hanging notifier keeps a run alive after its save
            run_env["ALERT_SLEEP"] = "120"
        elif step == "ping":
            run_env["CONSOLESCRAPE_HEALTHCHECK_URL"] = silent.url
        proc = start_run(run_env, "--json")
        try:
            held = {
                "saved": lambda: data.exists(),
                "sync": lambda: receiver.received,
                "alerts": lambda: alerts_logged(log),
                "ping": lambda: silent.connections,
            }[step]
            wait_until(f"the {step} step", held, proc)
            if step == "alerts":  # the notifier's group is in the record, the record private
                record = json.loads((home / "children.json").read_text())
                [group] = record["groups"]
                assert group["pid"] == alerts_logged(log)[0]["pid"]
                assert (home / "children.json").stat().st_mode & 0o777 == 0o600
            proc.send_signal(sig)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    saved = json.loads(data.read_text())["lastUpdated"]
    queued = [json.loads(p.read_text())["lastUpdated"] for p in (home / "outbox").glob("*.json")]
    assert saved in queued + [stamp for stamp, _ in delivered(receiver)], "queued or delivered"
    notifiers = [(a["pid"], a["grandchild"]) for a in alerts_logged(log)]
    if sig == signal.SIGTERM:
        assert proc.returncode == 143, err
        assert json.loads(out)["exitCode"] == 143
        assert json.loads((home / "state.json").read_text())["run"]["exitCode"] == 143
        assert exit_code_metric(env) == "143"
        # The run ended its children, grandchildren included, before it exited.
        assert not any(alive(pid) for pair in notifiers for pid in pair if pid), notifiers
        assert not (home / "children.json").exists()
    else:
        assert proc.returncode == -9
    receiver.script()
    calm = {**env, "ALERT_SLEEP": "0"}
    again = start_run(calm, "--json")
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    assert json.loads((home / "state.json").read_text())["run"]["exitCode"] == 0
    assert exit_code_metric(env) == "0"
    stamps = [stamp for stamp, _ in delivered(receiver)]
    newest = json.loads(data.read_text())["lastUpdated"]
    assert stamps == sorted(stamps) and stamps[-2:] == [saved, newest], "once each, in order"
    assert list((home / "outbox").glob("*.json")) == []
    # Whatever the killed run left (its notifier and the notifier's own child), the next run
    # ended: the record named them.
    assert not any(alive(pid) for pair in notifiers for pid in pair if pid), notifiers
    assert not (home / "children.json").exists()
