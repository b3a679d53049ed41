"""A bounded soak: 24 real runs against the stand-in site and the receiver, with kill -9 at
random moments, outages, dropped connections, refusals (400) and hanging alert commands.

Invariants at the end: every snapshot a run saved was delivered once (per Idempotency-Key) and
in order, or set aside in rejected/ with its reason; no process a run started is left; the home
stays under its bound. The seed is fixed (CONSOLESCRAPE_SOAK_SEED picks another) and printed.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import processes_mentioning, sync_env
from runs import alerts_logged, alive, kill_all, notifier, start_run, started_for
from support.receiver import Fault, ScriptedReceiver
from support.site import StandIn

#: The seed CI runs: it draws each fault below at least once (asserted).
DEFAULT_SEED = 36
SEED = int(os.environ.get("CONSOLESCRAPE_SOAK_SEED", str(DEFAULT_SEED)))
#: What the story of a soak shows for each fault: a 503, a dropped connection, a 400, a kill
#: -9 that landed, an alert command held past its deadline by a run that then succeeded.
FAULTS = ("outage", "dropped", "refused", "→ -9", "notifier 8 s → 0")
RUNS = 24
#: The home without the profile (which lives apart in the tests): state, history.db, outbox,
#: rejected/, the children record, the reserved space, debug files. 24 runs take ~0.6 MiB.
HOME_BOUND = 4 * 1024 * 1024
#: The stand-in site's profile after the runs (Chrome's own caches; 15 MiB measured at 40).
PROFILE_BOUND = 128 * 1024 * 1024


#: When the soak's first session window resets.
FIRST_RESET = (datetime.now(UTC) + timedelta(hours=1)).replace(second=0, microsecond=0)


def usage(session: float, window: int) -> dict[str, object]:
    """The endpoint's answer; a new `window` is a new reset time, which re-arms the alerts."""
    base = FIRST_RESET + timedelta(minutes=20 * window)
    return {
        "five_hour": {"utilization": round(session, 1), "resets_at": base.isoformat()},
        "seven_day": {"utilization": 31, "resets_at": (base + timedelta(days=3)).isoformat()},
        "seven_day_sonnet": {
            "utilization": 10,
            "resets_at": (base + timedelta(days=3)).isoformat(),
        },
    }


def size(path: Path) -> int:
    """Bytes the tree at `path` takes on disk."""
    return sum(p.lstat().st_blocks * 512 for p in path.rglob("*") if not p.is_symlink())


@pytest.fixture
def env(
    site: StandIn, profile: Path, home: Path, tmp_path: Path, receiver: ScriptedReceiver
) -> Iterator[dict[str, str]]:
    site.reset()
    yield {
        "CONSOLESCRAPE_USAGE_URL": site.url,
        "CONSOLESCRAPE_PROFILE_DIR": str(profile),
        "CONSOLESCRAPE_TIMEOUT": "30",
        "CONSOLESCRAPE_ALERT_AT": "80,95",
        "CONSOLESCRAPE_ALERT_COMMAND": str(notifier(tmp_path / "notify.py")),
        "CONSOLESCRAPE_METRICS_FILE": str(tmp_path / "consolescrape.prom"),
        "ALERT_LOG": str(tmp_path / "alerts.log"),
        **sync_env(receiver),
    }
    site.reset()
    kill_all(started_for(home))


@pytest.mark.timeout(600)  # ~30-55 s here; a machine busy with other suites may double it
def test_soak_kill_9_outages_and_refusals_lose_nothing_and_leave_nothing(
    env: dict[str, str],
    site: StandIn,
    profile: Path,
    home: Path,
    receiver: ScriptedReceiver,
) -> None:
    rng = random.Random(SEED)
    print(f"soak: seed {SEED}, {RUNS} runs")
    began = time.monotonic()
    data = home / "usage-data.json"
    saved: list[str] = []
    story: list[str] = []
    for number in range(RUNS):
        fault = rng.choices(["ok", "outage", "dropped", "refused"], weights=[50, 20, 15, 15])[0]
        if fault == "outage":  # a 503 asking for more time than the run's own budget
            receiver.script(Fault.answer(503, {"success": False}, headers={"Retry-After": "60"}))
        elif fault == "dropped":
            receiver.script(Fault.dropped())
        elif fault == "refused":
            receiver.script(Fault.answer(400, {"success": False, "message": "Invalid data: soak"}))
        site.set_api(usage(rng.uniform(0, 100), window=number // 6))
        # A run takes 0.7-1.5 s here: a kill between 0.1 and 1.5 s lands at any of its steps.
        kill_at = rng.uniform(0.1, 1.5) if rng.random() < 0.35 else None
        # An alert command that outlives the 5 s deadline holds the run those 5 s: a few do.
        pause = rng.choices(["0", "0.3", "8"], weights=[75, 20, 5])[0]
        proc = start_run({**env, "ALERT_SLEEP": pause})
        if kill_at is not None:
            try:
                proc.wait(timeout=kill_at)
            except subprocess.TimeoutExpired:
                proc.kill()
        _, err = proc.communicate(timeout=120)
        story.append(
            f"{number}: {fault}, kill at {kill_at}, notifier {pause} s → {proc.returncode}"
        )
        assert proc.returncode in (-9, 0, 5, 6), f"{story[-1]}: {err}"
        if data.exists():
            stamp = json.loads(data.read_text())["lastUpdated"]
            if stamp not in saved:
                saved.append(stamp)
        receiver.unscript()  # a fault a killed run never reached must not hit the next run
    missing = [kind for kind in FAULTS if kind not in "\n".join(story)]
    print(f"soak: faults never drawn with seed {SEED}: {missing or 'none'}")
    assert SEED != DEFAULT_SEED or not missing, "the default seed must draw every fault"
    # The last run is clean: it ends what the killed ones left, and drains the queue.
    final = start_run({**env, "ALERT_SLEEP": "0"})
    _, err = final.communicate(timeout=120)
    assert final.returncode == 0, err
    saved.append(json.loads(data.read_text())["lastUpdated"])
    took = time.monotonic() - began
    story_text = "\n".join(story)

    first_key: dict[str, str] = {}
    keys_of: dict[str, set[str]] = {}
    for got in receiver.accepted:
        key, stamp = got.header("Idempotency-Key") or "", got.json["lastUpdated"]
        first_key.setdefault(key, stamp)
        keys_of.setdefault(stamp, set()).add(key)
    delivered = list(first_key.values())
    rejected_dir = home / "outbox" / "rejected"
    rejected = {
        json.loads(item.read_text())["lastUpdated"]: item
        for item in rejected_dir.glob("*.json")
        if not item.name.endswith(".reason.json")
    }
    for stamp, item in rejected.items():
        reason = json.loads(item.with_suffix(".reason.json").read_text())["reason"]
        assert reason.startswith("HTTP 400"), (stamp, reason)
    assert list((home / "outbox").glob("*.json")) == [], "the queue is drained"
    assert delivered == sorted(delivered), f"delivered in order\n{story_text}"
    assert all(len(keys) == 1 for keys in keys_of.values()), "one Idempotency-Key a snapshot"
    for stamp in saved:
        assert stamp in delivered or stamp in rejected, f"{stamp}: lost\n{story_text}"
    # A run killed after the server stored a snapshot, before it took it off the queue, sends
    # it again (with the same key); a scripted 400 may then meet that resend.
    both = [stamp for stamp in rejected if stamp in delivered]

    notifiers = [
        pid
        for a in alerts_logged(Path(env["ALERT_LOG"]))
        for pid in (a["pid"], a["grandchild"])
        if pid
    ]
    assert [pid for pid in notifiers if alive(pid)] == [], "an alert command was left"
    assert started_for(home) == [], "a process a run started was left"
    assert processes_mentioning(profile) == [], "a Chrome or chromedriver was left"
    assert not (home / "children.json").exists()

    home_bytes, profile_bytes = size(home), size(profile)
    print(
        f"soak: {took:.0f} s; {len(saved)} saved, {len(delivered)} delivered, "
        f"{len(rejected)} rejected ({len(both)} of them stored before), "
        f"{sum('→ -9' in s for s in story)} killed, "
        f"{len(notifiers)} alert processes; home {home_bytes / 1024:.0f} KiB, "
        f"profile {profile_bytes / 1024 / 1024:.1f} MiB"
    )
    assert home_bytes < HOME_BOUND, f"home {home_bytes} bytes"
    assert profile_bytes < PROFILE_BOUND, f"profile {profile_bytes} bytes"
