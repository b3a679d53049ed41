"""The oauth source: Claude Code's token (read-only) → one GET of a loopback stand-in of its
usage endpoint → the same save, queue, sync, history, alerts and metrics as a browser run; and
`auto` falling back to the stand-in site in real Chromium."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    CLI,
    NO_BROWSER,
    Result,
    Spawn,
    metric_samples,
    oauth_settings,
    processes_mentioning,
    sync_env,
    write_snapshot,
)
from support.oauth import (
    REFRESH,
    TOKEN,
    OAuthStandIn,
    credentials_doc,
    error_body,
    write_credentials,
)
from support.receiver import ScriptedReceiver
from support.site import StandIn

from consolescrape import config
from consolescrape.errors import ConfigError, ExitCode
from consolescrape.oauth import client, credentials

# Views, parsing and JSON run in this process; run, sync and login in their own (inprocess.py).
pytestmark = pytest.mark.inprocess

REFRESH_ADVICE = "open Claude Code (or run `claude`) once to refresh its login"


@pytest.fixture
def user_home(tmp_path: Path) -> Path:
    """The test's HOME (and CLAUDE_CONFIG_DIR under it) for the command's subprocess."""
    return tmp_path / "user"


@pytest.fixture
def creds(user_home: Path) -> Iterator[Path]:
    """A valid credentials file; after the test its bytes and mtime are what they were."""
    path = write_credentials(user_home / ".claude")
    before = path.read_bytes(), path.stat().st_mtime_ns, sorted(os.listdir(path.parent))
    yield path
    after = path.read_bytes(), path.stat().st_mtime_ns, sorted(os.listdir(path.parent))
    assert after == before, "the credentials (or their directory) were changed"


@pytest.fixture
def env(user_home: Path, oauth_endpoint: OAuthStandIn) -> dict[str, str]:
    return oauth_settings(user_home, oauth_endpoint)


def assert_token_nowhere(result: Result, *roots: Path, skip: Path | None = None) -> None:
    """Neither token in the output, nor in any file under `roots` but the credentials."""
    for secret in (TOKEN, REFRESH):
        assert secret not in result.stdout + result.stderr, "a token leaked into the output"
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file() and path != skip:
                raw = path.read_bytes()
                assert TOKEN.encode() not in raw and REFRESH.encode() not in raw, path


# --- end to end: the real CLI ------------------------------------------------------------------


def test_oauth_run_without_any_browser_saves_queues_syncs_and_tracks(
    cli: CLI,
    env: dict[str, str],
    creds: Path,
    oauth_endpoint: OAuthStandIn,
    receiver: ScriptedReceiver,
    home: Path,
    tmp_path: Path,
) -> None:
    dump = tmp_path / "alert-env"
    script = tmp_path / "dump_env.py"
    script.write_text(
        "import json, os, sys, uuid\n"
        "sys.stdin.read()\n"
        f"path = os.path.join({str(dump)!r}, uuid.uuid4().hex)\n"
        "open(path, 'w').write(json.dumps(dict(os.environ)))\n"
    )
    dump.mkdir()
    extra = {
        "CONSOLESCRAPE_ALERT_AT": "5",
        "CONSOLESCRAPE_ALERT_COMMAND": f"{sys.executable} {script}",
        "CONSOLESCRAPE_METRICS_FILE": str(tmp_path / "usage.prom"),
    }
    result = cli("run", "--json", "--verbose", env={**env, **sync_env(receiver), **extra})
    assert result.code == 0, result.stderr
    assert oauth_endpoint.calls == 1 and oauth_endpoint.user_agents[0].startswith("consolescrape/")
    saved = json.loads((home / "usage-data.json").read_text())
    assert (saved["via"], saved["source"], saved["isPartial"]) == ("oauth", "api", False)
    assert saved["currentSession"]["percentageUsed"] == 23
    assert saved["weeklyLimits"]["allModels"]["percentageUsed"] == 41
    assert saved["weeklyLimits"]["sonnetOnly"]["percentageUsed"] == 7
    assert result.json["data"]["via"] == "oauth"
    # The server gets its contract only: `via`, like `source`, stays local.
    [got] = receiver.accepted
    assert set(got.json) == {"currentSession", "weeklyLimits", "lastUpdated", "isPartial"}
    assert got.json["weeklyLimits"]["sonnetOnly"]["percentageUsed"] == 7
    assert list((home / "outbox").glob("*.json")) == []
    samples = metric_samples(tmp_path / "usage.prom")
    assert samples['consolescrape_usage_percent{limit="allModels"}'] == "41"
    assert "alert: All models at 41%" in result.stderr
    envs = [json.loads(p.read_text()) for p in dump.iterdir()]
    assert len(envs) == 3, "one alert per limit, each run with its environment dumped"
    assert not (home / "debug").exists()
    assert_token_nowhere(result, tmp_path, skip=creds)

    history = cli("history", "--json", env=env)
    assert history.code == 0, history.stderr
    assert {row["limit"] for row in history.json["data"]["rows"]} == {
        "currentSession",
        "allModels",
        "sonnetOnly",
    }
    status = cli("status", env=env)
    assert "from the OAuth usage endpoint" in status.stdout
    assert cli("status", "--json", env=env).json["data"]["snapshot"]["via"] == "oauth"


def test_oauth_run_imports_no_selenium_and_no_browser_code(
    cli: CLI, env: dict[str, str], creds: Path, oauth_endpoint: OAuthStandIn
) -> None:
    result = cli("run", "--no-sync", env={**env, "PYTHONPROFILEIMPORTTIME": "1"})
    assert result.code == 0, result.stderr
    imported = [
        line.rsplit("|", 1)[1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    ]
    assert "consolescrape.oauth.client" in imported and "requests" in imported
    assert [m for m in imported if m.startswith(("selenium", "consolescrape.browser"))] == []


def test_run_source_flag_beats_the_variable(
    cli: CLI, env: dict[str, str], creds: Path, oauth_endpoint: OAuthStandIn, home: Path
) -> None:
    result = cli("run", "--source", "oauth", env={**env, "CONSOLESCRAPE_SOURCE": "browser"})
    assert result.code == 0, result.stderr
    assert json.loads((home / "usage-data.json").read_text())["via"] == "oauth"
    bad = cli("run", "--source", "carrier-pigeon", env=env)
    assert bad.code == ExitCode.CONFIG and "browser, oauth, auto" in bad.stderr


def test_credentials_under_home_are_read_without_claude_config_dir(
    cli: CLI, env: dict[str, str], creds: Path, oauth_endpoint: OAuthStandIn
) -> None:
    del env["CLAUDE_CONFIG_DIR"]
    result = cli("run", "--verbose", env=env)
    assert result.code == 0, result.stderr
    assert f"token from {creds}" in result.stderr and oauth_endpoint.calls == 1


def test_expired_token_is_exit_3_never_refreshed_and_keeps_the_data(
    cli: CLI, env: dict[str, str], user_home: Path, oauth_endpoint: OAuthStandIn, home: Path
) -> None:
    path = write_credentials(
        user_home / ".claude", credentials_doc(expires_in=-timedelta(hours=2, minutes=5))
    )
    before = path.read_bytes(), path.stat().st_mtime_ns
    old = write_snapshot(home / "usage-data.json").read_bytes()
    result = cli("run", env=env)
    assert result.code == ExitCode.LOGGED_OUT
    assert "expired 2 hr 5 min ago" in result.stderr and REFRESH_ADVICE in result.stderr
    assert oauth_endpoint.requests == [], "an expired token is not even tried"
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    assert (home / "usage-data.json").read_bytes() == old
    state = json.loads((home / "state.json").read_text())
    assert state["run"]["exitCode"] == 3 and state["run"]["advice"] == REFRESH_ADVICE
    assert_token_nowhere(result, home, skip=path)


def test_a_401_is_like_an_expired_token(
    cli: CLI, env: dict[str, str], user_home: Path, oauth_endpoint: OAuthStandIn, home: Path
) -> None:
    # The file holds a token the endpoint does not accept (revoked, or refreshed elsewhere).
    stale = TOKEN + "-revoked"
    path = write_credentials(user_home / ".claude", credentials_doc(token=stale))
    result = cli("run", "--json", env=env)
    assert result.code == ExitCode.LOGGED_OUT
    assert "HTTP 401" in result.stderr and REFRESH_ADVICE in result.stderr
    assert result.json["error"]["advice"] == REFRESH_ADVICE
    assert oauth_endpoint.calls == 0 and oauth_endpoint.requests == ["GET /api/oauth/usage"]
    assert stale not in result.stdout + result.stderr
    assert not (home / "usage-data.json").exists()
    assert stale.encode() not in (home / "state.json").read_bytes()
    assert path.exists()


def test_a_setup_token_without_the_profile_scope_is_told_what_to_use(
    cli: CLI, env: dict[str, str], creds: Path, oauth_endpoint: OAuthStandIn
) -> None:
    oauth_endpoint.configure(
        status=403,
        body=error_body(
            "permission_error", "OAuth token does not meet scope requirement user:profile"
        ),
    )
    result = cli("run", env=env)
    assert result.code == ExitCode.LOGGED_OUT
    assert "scope requirement user:profile" in result.stderr
    assert "claude setup-token" in result.stderr and "/login" in result.stderr


def test_scopes_in_the_file_without_user_profile_are_not_even_sent(
    cli: CLI, env: dict[str, str], user_home: Path, oauth_endpoint: OAuthStandIn
) -> None:
    write_credentials(user_home / ".claude", credentials_doc(scopes=("user:inference",)))
    result = cli("run", env=env)
    assert result.code == ExitCode.LOGGED_OUT and "claude setup-token" in result.stderr
    assert oauth_endpoint.requests == []


@pytest.mark.parametrize(
    ("status", "headers", "said"),
    [
        (429, {"Retry-After": "120"}, "429 (rate limited, asks to retry in 120 s)"),
        (503, {}, "503"),
        (500, {}, "500"),
    ],
)
def test_a_busy_endpoint_is_exit_5_in_one_line_keeping_the_data(
    cli: CLI,
    env: dict[str, str],
    creds: Path,
    oauth_endpoint: OAuthStandIn,
    home: Path,
    status: int,
    headers: dict[str, str],
    said: str,
) -> None:
    oauth_endpoint.configure(status=status, headers=headers, body=error_body("api_error", "busy"))
    old = write_snapshot(home / "usage-data.json").read_bytes()
    result = cli("run", env=env)
    assert result.code == ExitCode.SYNC_PENDING
    assert said in result.stderr and "the next run tries again" in result.stderr
    assert len([line for line in result.stderr.splitlines() if "error:" in line]) == 1
    assert (home / "usage-data.json").read_bytes() == old
    assert not (home / "debug").exists() and oauth_endpoint.calls == 1


def test_an_unreachable_endpoint_is_exit_5(
    cli: CLI, env: dict[str, str], creds: Path, oauth_endpoint: OAuthStandIn
) -> None:
    env["CONSOLESCRAPE_OAUTH_URL"] = "http://127.0.0.1:9/api/oauth/usage"
    result = cli("run", env=env)
    assert result.code == ExitCode.SYNC_PENDING
    assert "cannot reach the OAuth usage endpoint at 127.0.0.1: connection refused" in (
        result.stderr
    )


def test_a_hanging_endpoint_ends_within_the_browser_phase_budget(
    cli: CLI, env: dict[str, str], creds: Path, oauth_endpoint: OAuthStandIn
) -> None:
    oauth_endpoint.configure(hang=60)
    started = time.monotonic()
    result = cli("run", env={**env, "CONSOLESCRAPE_TIMEOUT": "2"})
    elapsed = time.monotonic() - started
    assert result.code == ExitCode.SYNC_PENDING, result.stderr
    assert "within 2 s" in result.stderr
    assert elapsed < 20, "the GET is bounded by the run's budget (generous: a busy machine)"


def test_sigterm_during_the_get_ends_like_any_failure_and_keeps_the_data(
    spawn: Spawn, env: dict[str, str], creds: Path, oauth_endpoint: OAuthStandIn, home: Path
) -> None:
    oauth_endpoint.configure(hang=60)
    old = write_snapshot(home / "usage-data.json").read_bytes()
    proc = spawn("run", "--json", "--timeout", "30", env=env, stdout=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while oauth_endpoint.calls == 0 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert oauth_endpoint.calls == 1, "the request never arrived"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, err
    assert json.loads(out)["exitCode"] == 143
    assert json.loads((home / "state.json").read_text())["run"]["exitCode"] == 143
    assert (home / "usage-data.json").read_bytes() == old
    assert TOKEN not in out + err


def test_an_oversized_or_unreadable_answer_is_exit_4(
    cli: CLI, env: dict[str, str], creds: Path, oauth_endpoint: OAuthStandIn, home: Path
) -> None:
    padding = "x" * (200 * 1024)
    oauth_endpoint.configure(body=json.dumps({"five_hour": None, "pad": padding}).encode())
    result = cli("run", env=env)
    assert result.code == ExitCode.SCRAPE_FAILED and "not JSON" in result.stderr
    oauth_endpoint.configure(body={"tangelo": None, "extra_usage": None})
    result = cli("run", env=env)
    assert result.code == ExitCode.SCRAPE_FAILED and "no limit we can read" in result.stderr
    assert not (home / "usage-data.json").exists()


def test_a_redirect_is_not_followed_and_is_a_configuration_error(
    cli: CLI, env: dict[str, str], creds: Path, oauth_endpoint: OAuthStandIn
) -> None:
    target = oauth_endpoint.base_url + "/api/oauth/usage?moved=1"
    oauth_endpoint.configure(status=302, headers={"Location": target}, body=b"")
    result = cli("run", env=env)
    assert result.code == ExitCode.CONFIG and "CONSOLESCRAPE_OAUTH_URL" in result.stderr
    assert oauth_endpoint.requests == ["GET /api/oauth/usage"], "the Location was never asked"


def test_no_credentials_is_exit_3_naming_where_it_looked(
    cli: CLI, env: dict[str, str], user_home: Path, oauth_endpoint: OAuthStandIn
) -> None:
    result = cli("run", env=env)
    assert result.code == ExitCode.LOGGED_OUT
    assert str(user_home / ".claude" / ".credentials.json") in result.stderr
    assert "/login" in result.stderr and oauth_endpoint.requests == []


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "data:application/json,{}", "http://example.com/usage"]
)
def test_oauth_url_must_be_https_or_loopback_http(
    cli: CLI, env: dict[str, str], creds: Path, url: str
) -> None:
    result = cli("run", env={**env, "CONSOLESCRAPE_OAUTH_URL": url})
    assert result.code == ExitCode.CONFIG and "CONSOLESCRAPE_OAUTH_URL" in result.stderr


# --- auto: the endpoint when it can, the browser otherwise ------------------------------------


@pytest.fixture
def auto_env(
    env: dict[str, str], site: StandIn, profile: Path, home: Path
) -> Iterator[dict[str, str]]:
    site.reset()
    site.requests.clear()
    yield {
        **{k: v for k, v in env.items() if not k.startswith("CONSOLESCRAPE_CHROME")},
        "CONSOLESCRAPE_SOURCE": "auto",
        "CONSOLESCRAPE_USAGE_URL": site.url,
        "CONSOLESCRAPE_PROFILE_DIR": str(profile),
        "CONSOLESCRAPE_TIMEOUT": "40",
    }
    site.reset()
    assert processes_mentioning(profile) == [], "a Chrome or chromedriver outlived the command"


def test_auto_with_an_expired_token_reads_the_site_in_the_browser(
    cli: CLI, auto_env: dict[str, str], user_home: Path, oauth_endpoint: OAuthStandIn, home: Path
) -> None:
    path = write_credentials(user_home / ".claude", credentials_doc(expires_in=-timedelta(hours=1)))
    before = path.read_bytes(), path.stat().st_mtime_ns
    result = cli("run", env=auto_env)
    assert result.code == 0, result.stderr
    [line] = [line for line in result.stderr.splitlines() if "oauth source not used" in line]
    assert "token expired 1 hr ago" in line and "browser" in line
    saved = json.loads((home / "usage-data.json").read_text())
    assert (saved["via"], saved["source"]) == ("browser", "page")
    assert saved["currentSession"]["percentageUsed"] == 47
    assert oauth_endpoint.requests == []
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    assert "from the page" in cli("status", env=auto_env).stdout


def test_auto_falls_back_when_the_endpoint_is_busy(
    cli: CLI,
    auto_env: dict[str, str],
    creds: Path,
    oauth_endpoint: OAuthStandIn,
    site: StandIn,
    home: Path,
) -> None:
    oauth_endpoint.configure(status=503, body=b"<html>upstream trouble</html>")
    result = cli("run", env=auto_env)
    assert result.code == 0, result.stderr
    assert "oauth source not used: busy (HTTP 503)" in result.stderr
    assert json.loads((home / "usage-data.json").read_text())["via"] == "browser"
    assert oauth_endpoint.calls == 1 and site.requests


def test_auto_with_a_usable_token_starts_no_browser(
    cli: CLI,
    auto_env: dict[str, str],
    creds: Path,
    oauth_endpoint: OAuthStandIn,
    site: StandIn,
    home: Path,
) -> None:
    result = cli("run", env={**auto_env, "CONSOLESCRAPE_CHROME_BINARY": NO_BROWSER})
    assert result.code == 0, result.stderr
    assert json.loads((home / "usage-data.json").read_text())["via"] == "oauth"
    assert oauth_endpoint.calls == 1 and site.requests == []
    assert "oauth source not used" not in result.stderr


# --- doctor ---------------------------------------------------------------------------------


def test_doctor_reports_the_token_and_asks_the_endpoint_once_online(
    cli: CLI,
    env: dict[str, str],
    creds: Path,
    oauth_endpoint: OAuthStandIn,
    receiver: ScriptedReceiver,
) -> None:
    doctor_env = {**env, **sync_env(receiver)}
    result = cli("doctor", env=doctor_env)
    assert result.code == 0, result.stderr
    assert f"✓ oauth token: found in {creds} (expires in 5.0 hours)" in result.stdout
    assert "! browser" in result.stdout, "no browser is needed for the oauth source"
    assert oauth_endpoint.calls == 0
    online = cli("doctor", "--online", "--json", env=doctor_env)
    assert online.code == 0, online.stderr
    [check] = [c for c in online.json["data"]["checks"] if c["check"] == "oauth endpoint"]
    assert check["ok"] and "session 23%" in check["detail"]
    assert oauth_endpoint.calls == 1
    assert_token_nowhere(result)
    assert_token_nowhere(online)


def test_doctor_with_an_expired_token_says_how_to_refresh(
    cli: CLI, env: dict[str, str], user_home: Path, receiver: ScriptedReceiver
) -> None:
    write_credentials(user_home / ".claude", credentials_doc(expires_in=-timedelta(minutes=30)))
    result = cli("doctor", env={**env, **sync_env(receiver)})
    assert result.code == ExitCode.CHECK_FAILED
    assert "✗ oauth token" in result.stdout and REFRESH_ADVICE in result.stdout
    auto = cli("doctor", env={**env, **sync_env(receiver), "CONSOLESCRAPE_SOURCE": "auto"})
    assert "! oauth token" in auto.stdout and "auto reads the usage page instead" in auto.stdout


# --- in process: credentials, the keychain, what an answer means ----------------------------


NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_claude_config_dir_wins_over_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    write_credentials(tmp_path / "user" / ".claude", credentials_doc(token="from-home"))
    write_credentials(tmp_path / "elsewhere", credentials_doc(token="from-config-dir"))
    found = credentials.find(datetime.now(UTC), environ={}, keychain=False)
    assert found.secret.reveal() == "from-home"
    environ = {"CLAUDE_CONFIG_DIR": str(tmp_path / "elsewhere")}
    found = credentials.find(datetime.now(UTC), environ=environ, keychain=False)
    assert found.secret.reveal() == "from-config-dir"
    assert "from-config-dir" not in repr(found) and TOKEN not in str(found)


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"claudeAiOauth": {}}', "no claudeAiOauth.accessToken"),
        (b'{"claudeAiOauth": {"accessToken": "a b"}}', "spaces or control characters"),
        (b"[]", "no claudeAiOauth.accessToken"),
    ],
)
def test_a_damaged_credentials_file_is_no_token(tmp_path: Path, content: bytes, said: str) -> None:
    (tmp_path / ".credentials.json").write_bytes(content)
    with pytest.raises(credentials.NoToken, match=said):
        credentials.find(NOW, environ={"CLAUDE_CONFIG_DIR": str(tmp_path)}, keychain=False)


def fake_security(bin_dir: Path, body: str) -> Path:
    """A `security` on PATH that records its arguments and then does `body`."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "security"
    script.write_text(f'#!/bin/sh\necho "$@" > "{bin_dir}/args"\n{body}\n')
    script.chmod(0o755)
    return script


def test_the_keychain_item_is_read_with_security_when_the_file_has_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    item = tmp_path / "item.json"
    item.write_text(json.dumps(credentials_doc(token="from-keychain")))
    bin_dir = tmp_path / "bin"
    fake_security(bin_dir, f'cat "{item}"')
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    environ = {"CLAUDE_CONFIG_DIR": str(tmp_path / "none")}
    found = credentials.find(datetime.now(UTC), environ=environ, keychain=True)
    assert found.secret.reveal() == "from-keychain" and "keychain" in found.where
    assert (bin_dir / "args").read_text().split() == [
        "find-generic-password",
        "-s",
        "Claude",
        "Code-credentials",
        "-w",
    ]


def test_an_expired_file_gives_way_to_a_fresh_keychain_item(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_credentials(tmp_path / "cfg", credentials_doc(token="old", expires_in=-timedelta(1)))
    item = tmp_path / "item.json"
    item.write_text(json.dumps(credentials_doc(token="fresh")))
    fake_security(tmp_path / "bin", f'cat "{item}"')
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    environ = {"CLAUDE_CONFIG_DIR": str(tmp_path / "cfg")}
    found = credentials.find(datetime.now(UTC), environ=environ, keychain=True)
    assert found.secret.reveal() == "fresh"


def test_a_refused_or_hanging_keychain_is_no_token_within_its_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    environ = {"CLAUDE_CONFIG_DIR": str(tmp_path / "none")}
    fake_security(tmp_path / "bin", "echo 'User interaction is not allowed.' >&2\nexit 36")
    with pytest.raises(credentials.NoToken, match="access to it was refused"):
        credentials.find(NOW, environ=environ, keychain=True)
    # A child of `security` that holds the pipe must not stretch the bound either.
    fake_security(tmp_path / "bin", "sleep 30\necho late")
    started = time.monotonic()
    with pytest.raises(credentials.NoToken, match="did not answer within 1 s"):
        credentials.find(NOW, environ=environ, keychain=True, keychain_seconds=1)
    assert time.monotonic() - started < 10


def test_an_injected_runner_stands_in_for_security() -> None:
    asked: list[list[str]] = []

    def runner(argv: Any, seconds: float) -> tuple[int, bytes]:
        asked.append(list(argv))
        return 0, json.dumps(credentials_doc(token="injected")).encode() + b"\n"

    found = credentials.find(
        datetime.now(UTC),
        environ={"CLAUDE_CONFIG_DIR": "/nonexistent"},
        keychain=True,
        runner=runner,
    )
    assert found.secret.reveal() == "injected" and asked[0][0] == "security"


def test_a_keychain_item_printed_as_hex_is_read() -> None:
    item = json.dumps(credentials_doc(token="hexed")).encode().hex().encode()

    def runner(argv: Any, seconds: float) -> tuple[int, bytes]:
        return 0, item + b"\n"

    environ = {"CLAUDE_CONFIG_DIR": "/nonexistent"}
    found = credentials.find(datetime.now(UTC), environ=environ, keychain=True, runner=runner)
    assert found.secret.reveal() == "hexed"


SECRET = config.Secret(TOKEN)


@pytest.mark.parametrize(
    ("status", "body", "why", "code"),
    [
        (401, error_body("authentication_error", "Invalid bearer token"), "401", 3),
        (403, error_body("permission_error", "scope requirement user:profile"), "scope", 3),
        (403, error_body("permission_error", "Forbidden"), "HTTP 403", 3),
        (429, error_body("rate_limit_error", "slow down"), "busy", 5),
        (529, error_body("overloaded_error", "Overloaded"), "busy", 5),
        (404, b"<html>nope</html>", "refused", 7),
        (307, b"", "refused", 7),
        (400, error_body("invalid_request_error", "bad"), "refused", 4),
        (200, b"<html>maintenance</html>", "unreadable answer", 4),
    ],
)
def test_what_each_answer_means(status: int, body: object, why: str, code: int) -> None:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    with pytest.raises(client.Unavailable) as caught:
        client.meaning(status, raw, SECRET)
    assert why in caught.value.why and caught.value.error.exit_code == code


def test_an_echoed_token_is_redacted_from_the_message() -> None:
    raw = json.dumps(error_body("authentication_error", f"bad token {TOKEN}")).encode()
    with pytest.raises(client.Unavailable) as caught:
        client.meaning(401, raw, SECRET)
    assert TOKEN not in caught.value.error.message and "[redacted]" in caught.value.error.message


@pytest.mark.parametrize(
    "url",
    ["file:///x", "data:,{}", "ftp://h/x", "http://example.com/u", "https://u:p@example.com/u"],
)
def test_oauth_url_is_checked_when_settings_load(home: Path, url: str) -> None:
    with pytest.raises(ConfigError, match="CONSOLESCRAPE_OAUTH_URL"):
        config.load({"home": home}, environ={"CONSOLESCRAPE_OAUTH_URL": url}, env_file=None)


def test_source_is_checked_when_settings_load(home: Path) -> None:
    with pytest.raises(ConfigError, match="browser, oauth, auto"):
        config.load({"home": home}, environ={"CONSOLESCRAPE_SOURCE": "carrier-pigeon"})
    loaded = config.load({"home": home}, environ={"CONSOLESCRAPE_SOURCE": " OAuth "})
    assert loaded.source == "oauth"
    assert config.load({"home": home}, environ={}).source == "browser"
