"""`consolescrape run` and `login` end to end: the real CLI, real headless Chromium, the local
stand-in site and the real receiver."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import (
    CLI,
    SECRET_KEY,
    SESSION_KEY,
    Spawn,
    file_mode,
    processes_mentioning,
    sync_env,
    write_snapshot,
)
from runs import lock_is_free
from support.receiver import ScriptedReceiver
from support.site import StandIn, TroubledSite

from consolescrape import model

# Views, parsing and JSON run in this process; run, sync and login in their own (inprocess.py).
pytestmark = pytest.mark.inprocess


@pytest.fixture
def env(site: StandIn, profile: Path, home: Path) -> Iterator[dict[str, str]]:
    site.reset()
    yield {
        "CONSOLESCRAPE_USAGE_URL": site.url,
        "CONSOLESCRAPE_PROFILE_DIR": str(profile),
        "CONSOLESCRAPE_TIMEOUT": "30",
    }
    site.reset()
    assert processes_mentioning(profile) == [], "a Chrome or chromedriver outlived the command"


def test_no_profile_yet_exits_3_at_once_without_a_browser(cli: CLI, home: Path) -> None:
    result = cli("run", env={"CONSOLESCRAPE_USAGE_URL": "http://127.0.0.1:9/settings/usage"})
    assert result.code == 3
    assert "not logged in yet" in result.stderr and "consolescrape login" in result.stderr
    assert not (home / "profile").exists()


def test_logged_out_profile_exits_3_and_says_to_log_in(
    cli: CLI, site: StandIn, home: Path, tmp_path: Path
) -> None:
    (home / "profile").mkdir(parents=True, mode=0o700)
    result = cli("run", env={"CONSOLESCRAPE_USAGE_URL": site.url})
    assert result.code == 3
    assert "consolescrape login" in result.stderr
    assert not (home / "usage-data.json").exists()
    assert processes_mentioning(home / "profile") == []


def test_login_from_stdin_then_run_saves_the_page(cli: CLI, site: StandIn, home: Path) -> None:
    url = {"CONSOLESCRAPE_USAGE_URL": site.url}
    result = cli("login", "--session-key-stdin", stdin=SESSION_KEY + "\n", env=url)
    assert result.code == 0, result.stderr
    assert SESSION_KEY not in result.stdout + result.stderr
    assert file_mode(home / "profile") == 0o700
    result = cli("run", env=url)
    assert result.code == 0, result.stderr
    saved = json.loads((home / "usage-data.json").read_text())
    assert saved["currentSession"]["percentageUsed"] == 47
    assert saved["weeklyLimits"]["allModels"]["percentageUsed"] == 31
    assert saved["weeklyLimits"]["sonnetOnly"]["percentageUsed"] == 10
    assert saved["source"] == "page" and saved["isPartial"] is False
    assert file_mode(home / "usage-data.json") == 0o600
    assert "session 47%" in result.stderr and "sync not configured" in result.stderr
    assert not (home / "outbox").exists(), "without a key nothing is queued"


def test_wrong_session_key_exits_3(cli: CLI, site: StandIn, home: Path) -> None:
    url = {"CONSOLESCRAPE_USAGE_URL": site.url}
    result = cli("login", "--session-key-stdin", stdin="not-the-key\n", env=url)
    assert result.code == 3
    assert "not-the-key" not in result.stdout + result.stderr


def test_run_and_sync_end_to_end(
    cli: CLI, env: dict[str, str], home: Path, receiver: ScriptedReceiver
) -> None:
    result = cli("run", "--json", env={**env, **sync_env(receiver)})
    assert result.code == 0, result.stderr
    doc = result.json
    assert doc["ok"] is True and doc["command"] == "run" and doc["sync"]["sent"] == 1
    [got] = receiver.accepted
    assert got.header("X-API-Key") == SECRET_KEY
    assert set(got.json) == {"currentSession", "weeklyLimits", "lastUpdated", "isPartial"}
    assert got.json["weeklyLimits"]["sonnetOnly"]["percentageUsed"] == 10
    assert list((home / "outbox").glob("*.json")) == []
    state = json.loads((home / "state.json").read_text())
    assert state["run"]["ok"] is True and state["run"]["durations"]["browser"] > 0


def test_api_source_is_preferred_when_the_endpoint_answers(
    cli: CLI, env: dict[str, str], site: StandIn, home: Path
) -> None:
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=3)
    site.set_api(
        {
            "five_hour": {"utilization": 12, "resets_at": soon.isoformat()},
            "seven_day": {
                "utilization": "55.5",
                "resets_at": (soon + timedelta(days=2)).isoformat(),
            },
            "seven_day_sonnet": {"utilization": 0.0, "resets_at": None},
        }
    )
    assert cli("run", env=env).code == 0
    saved = json.loads((home / "usage-data.json").read_text())
    assert saved["source"] == "api"
    assert saved["currentSession"]["percentageUsed"] == 12
    assert saved["weeklyLimits"]["allModels"]["percentageUsed"] == 55.5
    assert saved["currentSession"]["resetsAt"] == soon.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_bot_check_is_exit_4_not_a_logout_and_keeps_old_data(
    cli: CLI, env: dict[str, str], site: StandIn, home: Path
) -> None:
    before = write_snapshot(home / "usage-data.json").read_bytes()  # an earlier run's
    site.configure(bot_check=True)
    result = cli("run", env=env)
    assert result.code == 4
    assert "bot check" in result.stderr.lower() or "human" in result.stderr.lower()
    assert "consolescrape login" not in result.stderr.split("fix:")[0]
    assert (home / "usage-data.json").read_bytes() == before
    debug = sorted(p.name for p in (home / "debug").iterdir())
    assert "page.html" in debug and "screenshot.png" in debug
    assert all(file_mode(home / "debug" / name) == 0o600 for name in debug)
    state = json.loads((home / "state.json").read_text())
    assert state["run"]["ok"] is False and state["run"]["exitCode"] == 4


def test_login_without_a_display_says_so_before_announcing_a_window(cli: CLI, home: Path) -> None:
    result = cli("login", env={"DISPLAY": "", "WAYLAND_DISPLAY": ""})
    assert result.code == 7
    assert "no display" in result.stderr and "--session-key-stdin" in result.stderr
    assert "window opens" not in result.stderr


def in_terminal(
    args: list[str], env: dict[str, str], *, wait_for: bytes = b"", answer: bytes = b""
) -> tuple[int, bytes]:
    """Run the real CLI with a pseudo-terminal as its stdin, stdout and stderr; once it has
    printed `wait_for`, type `answer`. Returns the exit code and everything it printed."""
    import pty

    pid, terminal = pty.fork()
    if pid == 0:  # the child
        os.environ.update({"TERM": "xterm-256color", "COLUMNS": "100", **env})
        command = [sys.executable, "-m", "consolescrape", *args]
        os.execv(sys.executable, command)  # noqa: S606 - the real CLI, no shell involved
    seen = b""
    status = None
    try:
        deadline = time.monotonic() + 90
        while wait_for not in seen:
            assert time.monotonic() < deadline, seen
            seen += os.read(terminal, 1024)
        if answer:
            os.write(terminal, answer)
        while True:
            try:
                chunk = os.read(terminal, 1024)
            except OSError:  # the child closed the terminal: it has ended
                break
            if not chunk:
                break
            seen += chunk
        _, status = os.waitpid(pid, 0)
    finally:
        if status is None:  # a failed assertion: end the child, which cleans up after itself
            os.kill(pid, signal.SIGTERM)
            os.waitpid(pid, 0)
        os.close(terminal)
    return os.waitstatus_to_exitcode(status), seen


def test_session_key_typed_at_a_terminal_is_asked_for_and_not_echoed(
    site: StandIn, home: Path
) -> None:
    code, seen = in_terminal(
        ["login", "--session-key-stdin"],
        {"CONSOLESCRAPE_USAGE_URL": site.url},
        wait_for=b"not shown as you type",
        answer=SESSION_KEY.encode() + b"\n",
    )
    assert code == 0, seen
    assert SESSION_KEY.encode() not in seen, "the secret was echoed"
    assert b"logged in" in seen
    assert (home / "profile").is_dir()


def test_a_run_in_a_terminal_shows_its_phase_and_cron_sees_none(
    cli: CLI, env: dict[str, str], home: Path
) -> None:
    code, seen = in_terminal(["run", "--no-sync"], env)
    assert code == 0, seen
    assert b"starting the browser" in seen or b"loading the page" in seen, seen
    assert re.search(rb"(loading the page|reading the usage|saving) \xc2\xb7 \d+ s", seen), seen
    assert b"session 47%" in seen, "the summary line still comes"
    quiet_code, quiet = in_terminal(["run", "--no-sync", "--quiet"], env)
    assert quiet_code == 0 and b"loading the page" not in quiet and b" s\r" not in quiet
    piped = cli("run", "--no-sync", env=env)
    assert piped.code == 0
    for phase in ("starting the browser", "loading the page", "saving"):
        assert phase not in piped.stderr + piped.stdout, "nothing extra in cron's log"


def test_hanging_page_ends_within_the_timeout_with_exit_4(
    cli: CLI, env: dict[str, str], site: StandIn, home: Path
) -> None:
    site.configure(hang=True)
    started = time.monotonic()
    result = cli("run", "--timeout", "3", env=env)
    elapsed = time.monotonic() - started
    assert result.code == 4
    assert elapsed < 3 + 15, f"took {elapsed:.1f} s"
    assert "within 3 s" in result.stderr, "the deadline as given, not the time it stopped at"
    assert not (home / "usage-data.json").exists()


@pytest.fixture
def gone_page() -> Iterator[Callable[[int], str]]:
    """A page on 127.0.0.1 served with the HTTP status asked for (a moved or deleted page)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    answer = {"status": 404}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<html><title>Not found</title><body><p>Nothing here.</p></body></html>"
            self.send_response(answer["status"])
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def serve(status: int) -> str:
        answer["status"] = status
        return f"http://127.0.0.1:{server.server_address[1]}/settings/usage"

    try:
        yield serve
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("status", [404, 410])
def test_a_usage_page_answering_an_http_error_names_the_status_and_the_url(
    cli: CLI, env: dict[str, str], home: Path, gone_page: Callable[[int], str], status: int
) -> None:
    url = gone_page(status)
    started = time.monotonic()
    result = cli("run", "--json", "--url", url, env=env)
    assert result.code == 4
    message = result.json["error"]["message"]
    assert f"HTTP {status}" in message and url in message, message
    assert "may have changed" not in result.stderr
    assert time.monotonic() - started < 25, "told at once, not after the 30 s deadline"
    assert not (home / "usage-data.json").exists()


def test_sigterm_during_a_run_leaves_no_browser_behind_and_next_run_works(
    cli: CLI, spawn: Spawn, env: dict[str, str], site: StandIn, own_profile: Path, home: Path
) -> None:
    profile = own_profile
    env = {**env, "CONSOLESCRAPE_PROFILE_DIR": str(profile)}
    site.configure(hang=True)
    proc = spawn("run", "--timeout", "60", env=env)
    deadline = time.monotonic() + 30
    while not any(b"chrom" in _name(p) for p in processes_mentioning(profile)):
        assert time.monotonic() < deadline, "the browser never started"
        time.sleep(0.1)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    assert processes_mentioning(profile) == []
    site.reset()
    assert cli("run", env=env).code == 0


def test_a_second_run_while_one_holds_the_lock_exits_8(
    cli: CLI, env: dict[str, str], home: Path
) -> None:
    from consolescrape import store

    with store.hold_lock(home / "run.lock"):
        result = cli("run", env=env)
    assert result.code == 8
    assert f"pid {os.getpid()}" in result.stderr
    # A normal overlap under cron: an info line, not an error to act on.
    assert "error:" not in result.stderr and "fix:" not in result.stderr


def _name(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/comm", "rb") as handle:
            return handle.read()
    except OSError:
        return b""


def test_unreachable_site_fails_fast_with_exit_4_and_keeps_old_data(
    cli: CLI, env: dict[str, str], home: Path
) -> None:
    before = write_snapshot(home / "usage-data.json").read_bytes()  # an earlier run's
    result = cli("run", "--url", "http://127.0.0.1:9/settings/usage", env=env)
    assert result.code == 4
    assert "cannot reach the usage page" in result.stderr
    assert "check the network" in result.stderr
    assert (home / "usage-data.json").read_bytes() == before


HINT = "page shows model rows: Fable — set CONSOLESCRAPE_MODEL_ROW=Fable"


@pytest.mark.parametrize("way", ["no key", "key, --no-sync", "key, synced"])
def test_model_row_hint_on_every_run_path_and_in_status_and_doctor(
    cli: CLI, env: dict[str, str], site: StandIn, home: Path, receiver: ScriptedReceiver, way: str
) -> None:
    site.set_page(Path(__file__).parent / "pages" / "fable.html")
    run_env = env if way == "no key" else {**env, **sync_env(receiver)}
    args = ("run", "--no-sync") if way == "key, --no-sync" else ("run",)
    result = cli(*args, env=run_env)
    assert result.code == 0, result.stderr
    assert result.stderr.count(HINT) == 1
    assert HINT in cli("status", env=run_env).stdout
    assert HINT in cli("doctor", env=run_env).stdout
    if way == "key, synced":
        [got] = receiver.accepted
        assert (
            "weeklyLimits" not in got.json and "Fable" in got.json["extractionErrors"]["sonnetOnly"]
        )


def test_a_refused_session_key_keeps_the_working_session(
    cli: CLI, env: dict[str, str], site: StandIn, profile: Path, home: Path
) -> None:
    result = cli("login", "--session-key-stdin", stdin="sk-ant-wrong-value\n", env=env)
    assert result.code == 3
    assert "previous session is kept" in result.stderr
    assert "sk-ant-wrong-value" not in result.stdout + result.stderr
    result = cli("run", env=env)
    assert result.code == 0, result.stderr


def start_run_on_a_hanging_page(
    spawn: Spawn,
    site: StandIn,
    env: dict[str, str],
    *options: str,
    stdout: int = subprocess.DEVNULL,
) -> subprocess.Popen[str]:
    """`consolescrape run` in the background against a usage page that never answers, returned
    once its browser has asked for that page (up to 30 s): the run is in its browser phase."""
    site.configure(hang=True)
    asked = len(site.paths())
    proc = spawn("run", *options, env=env, stdout=stdout)
    until = time.monotonic() + 30
    while "/settings/usage" not in site.paths()[asked:] and time.monotonic() < until:
        time.sleep(0.05)
    return proc


def test_two_homes_on_one_profile_never_kill_each_others_browser(
    cli: CLI, spawn: Spawn, env: dict[str, str], site: StandIn, own_profile: Path, tmp_path: Path
) -> None:
    profile = own_profile
    env = {**env, "CONSOLESCRAPE_PROFILE_DIR": str(profile)}
    first = start_run_on_a_hanging_page(spawn, site, env, "--home", str(tmp_path / "a"))
    chrome = processes_mentioning(profile)
    assert chrome, "the first run's browser is up"
    second = cli("run", "--json", "--home", str(tmp_path / "b"), env=env)
    assert second.code == 8, second.stderr
    assert str(profile) in second.json["error"]["message"]
    left = processes_mentioning(profile)
    assert set(chrome) <= set(left), f"first run's Chrome lives: {chrome} vs {left}"
    first.send_signal(signal.SIGTERM)
    first.communicate(timeout=30)
    site.configure(hang=False)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=str)
def test_a_signal_in_the_browser_phase_ends_like_any_failure(
    spawn: Spawn,
    env: dict[str, str],
    site: StandIn,
    own_profile: Path,
    home: Path,
    sig: signal.Signals,
) -> None:
    profile = own_profile
    env = {**env, "CONSOLESCRAPE_PROFILE_DIR": str(profile)}
    proc = start_run_on_a_hanging_page(
        spawn, site, env, "--json", "--timeout", "60", stdout=subprocess.PIPE
    )
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + sig, err
    [line] = out.splitlines()
    result = json.loads(line)
    assert result["exitCode"] == 128 + sig and sig.name in result["error"]["message"]
    state = json.loads((home / "state.json").read_text())
    assert state["run"]["exitCode"] == 128 + sig
    assert lock_is_free(home / "run.lock")
    assert processes_mentioning(profile) == []
    site.reset()


# --- the site passing through trouble, the partial policy, the organization read ----------------

FIXTURE_PAGES = Path(__file__).parent / "fixtures" / "pages"


def test_site_trouble_is_exit_5_in_one_line_and_status_check_waits_for_max_age(
    cli: CLI, env: dict[str, str], site: TroubledSite, home: Path, receiver: ScriptedReceiver
) -> None:
    ping = {"CONSOLESCRAPE_HEALTHCHECK_URL": receiver.base_url + "/ping/abc"}
    run_env = {**env, **sync_env(receiver), **ping}
    assert cli("run", env=run_env).code == 0
    before = (home / "usage-data.json").read_bytes()
    site.set_page(FIXTURE_PAGES / "placeholder.html")
    site.answer("/api/organizations/*/usage", 429, '{"type": "error"}', {"Retry-After": "600"})
    result = cli("run", "--json", env=run_env)
    assert result.code == 5, result.stderr
    assert result.json["error"] == {
        "message": "127.0.0.1 answered 429 (rate limited, it asks to wait 10 min); "
        "the next run tries again",
        "advice": None,
        "siteTrouble": True,
    }
    assert [line for line in result.stderr.splitlines() if "error:" in line or "fix:" in line] == [
        next(line for line in result.stderr.splitlines() if "error:" in line)
    ]
    assert (home / "usage-data.json").read_bytes() == before, "the previous data is kept"
    assert not (home / "debug").exists(), "nothing for a person to look at"
    assert len(receiver.accepted) == 1 and not list((home / "outbox").glob("*.json"))
    # No /fail ping: a dead-man's switch alarms only if it lasts beyond its grace period.
    assert [r.path for r in receiver.received if r.path.startswith("/ping")] == ["/ping/abc"]
    status = cli("status", "--check", env=run_env)
    assert status.code == 0, status.stderr
    assert "answered 429" in status.stdout
    assert "Last run   !" in status.stdout, "marked as passing, not as a failure"
    stale = cli("status", "--check", "--max-age", "0", env=run_env)
    assert stale.code == 9 and "stale" in stale.stdout
    assert "last run failed" not in stale.stdout


def test_partial_hold_saves_and_records_but_sends_nothing_until_complete(
    cli: CLI, env: dict[str, str], site: TroubledSite, home: Path, receiver: ScriptedReceiver
) -> None:
    run_env = {**env, **sync_env(receiver), "CONSOLESCRAPE_PARTIAL": "hold"}
    site.set_page(FIXTURE_PAGES / "impossible_reset.html")
    result = cli("run", env=run_env)
    assert result.code == 0, result.stderr
    assert "held (partial): missing currentSession; saved locally, not sent" in result.stderr
    assert receiver.received == [] and not (home / "outbox").exists()
    saved = json.loads((home / "usage-data.json").read_text())
    assert saved["isPartial"] is True and set(saved["weeklyLimits"]) == {"allModels", "sonnetOnly"}
    rows = cli("history", "--json", env=run_env).json["data"]["rows"]
    assert {row["limit"] for row in rows} >= {"allModels", "sonnetOnly"}
    assert "held (partial)" in cli("status", env=run_env).stdout
    site.reset()
    assert cli("run", env=run_env).code == 0
    [sent] = receiver.accepted
    assert sent.json["isPartial"] is False and "currentSession" in sent.json


ORGS = [
    {"uuid": "org-free", "name": "Personal", "capabilities": ["chat"]},
    {"uuid": "org-team", "name": "Acme Corp", "capabilities": ["chat", "raven"]},
    {"uuid": "org-max", "name": "Home", "capabilities": ["chat", "claude_max"]},
]


def test_the_organization_read_is_named_by_status_and_doctor(
    cli: CLI, env: dict[str, str], site: TroubledSite, home: Path
) -> None:
    usage = json.loads(
        (FIXTURE_PAGES.parent / "endpoint" / "session_and_all_only.json").read_text()
    )
    answer = json.loads(
        json.dumps(usage)
        .replace("{{+1h12m}}", model.format_time(datetime.now(UTC) + timedelta(hours=1)))
        .replace("{{+3d}}", model.format_time(datetime.now(UTC) + timedelta(days=3)))
    )
    site.configure(organizations=ORGS, usage_org="org-team", last_active_org=None, api=answer)
    assert cli("run", env=env).code == 0
    line = "organization: Acme Corp (Team), the first paid one; also paid: Home (Max)"
    assert line in cli("status", env=env).stdout
    doctor = cli("doctor", env=env).stdout
    assert "! organization: read Acme Corp (Team), the first paid one" in doctor
    assert "set CONSOLESCRAPE_ORG=<uuid or name>" in doctor
    pinned = {**env, "CONSOLESCRAPE_ORG": "org-max"}
    site.configure(usage_org="org-max")
    assert cli("run", env=pinned).code == 0
    assert "organization: Home (Max) (CONSOLESCRAPE_ORG)" in cli("status", env=pinned).stdout
    assert (
        "✓ organization: CONSOLESCRAPE_ORG=org-max: the last run read Home (Max)"
        in cli("doctor", env=pinned).stdout
    )
    other = cli("doctor", env={**env, "CONSOLESCRAPE_ORG": "Globex"}).stdout
    assert (
        "! organization: the last data was read from Home (Max), not CONSOLESCRAPE_ORG=Globex"
        in other
    )
    result = cli("run", env={**env, "CONSOLESCRAPE_ORG": "Globex"})
    assert result.code == 7
    assert "CONSOLESCRAPE_ORG='Globex' names no organization" in result.stderr
    assert "Acme Corp [org-team]" in result.stderr, "the message lists what there is"
