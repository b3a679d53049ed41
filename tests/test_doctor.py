"""`consolescrape doctor` on a good set-up and on each kind of broken one."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from conftest import CLI, SECRET_KEY, sync_env, write_snapshot
from support.receiver import ScriptedReceiver
from support.site import TroubledSite

# Views, parsing and JSON run in this process; run, sync and login in their own (inprocess.py).
pytestmark = pytest.mark.inprocess


@pytest.fixture
def good(home: Path, receiver: ScriptedReceiver) -> dict[str, str]:
    """A home with a private profile and a private .env pointing at the receiver."""
    (home / "profile").mkdir(parents=True, mode=0o700)
    env_file = home / ".env"
    env_file.write_text(f"CLAUDE_SYNC_URL={receiver.url}\nCLAUDE_SYNC_API_KEY={SECRET_KEY}\n")
    env_file.chmod(0o600)
    return {}


def test_good_set_up_passes_every_check(
    cli: CLI, good: dict[str, str], receiver: ScriptedReceiver
) -> None:
    result = cli("doctor")
    assert result.code == 0, result.stderr
    for name in (
        "browser",
        "chromedriver",
        "profile",
        "sync URL",
        "API key",
        "endpoint",
        "data dir",
        ".env",
    ):
        assert f"✓ {name}" in result.stdout
    assert "✗" not in result.stdout
    assert receiver.accepted == [], "the reachability probe must store nothing"
    assert len(receiver.received) == 1


def test_json_lists_every_check_and_redacts_the_key(cli: CLI, good: dict[str, str]) -> None:
    result = cli("doctor", "--json", "--verbose")
    assert result.code == 0
    doc = result.json
    assert {c["check"] for c in doc["data"]["checks"]} >= {"browser", "endpoint", "API key"}
    assert doc["data"]["settings"]["CLAUDE_SYNC_API_KEY"] == "(set)"


def test_missing_driver_fails_with_the_fix(cli: CLI, good: dict[str, str]) -> None:
    result = cli("doctor", env={"CONSOLESCRAPE_CHROMEDRIVER": "/nonexistent/chromedriver"})
    assert result.code == 9
    assert "✗" in result.stdout and "chromedriver" in result.stdout
    assert "fix:" in result.stdout


def test_world_readable_profile_fails(cli: CLI, good: dict[str, str], home: Path) -> None:
    (home / "profile").chmod(0o755)
    result = cli("doctor")
    assert result.code == 9
    assert "chmod 700" in result.stdout


def test_missing_profile_points_to_login(cli: CLI, good: dict[str, str], home: Path) -> None:
    (home / "profile").rmdir()
    result = cli("doctor")
    assert result.code == 9
    assert "consolescrape login" in result.stdout


def test_no_key_fails(cli: CLI, home: Path, receiver: ScriptedReceiver) -> None:
    (home / "profile").mkdir(parents=True, mode=0o700)
    result = cli("doctor", env={"CLAUDE_SYNC_URL": receiver.url})
    assert result.code == 9
    assert "✗ API key" in result.stdout
    assert receiver.received == []


def test_wrong_key_fails_at_the_endpoint(
    cli: CLI, good: dict[str, str], receiver: ScriptedReceiver
) -> None:
    result = cli("doctor", env={"CLAUDE_SYNC_API_KEY": "sk-wrong"})
    assert result.code == 9
    assert "✗ endpoint" in result.stdout and "refused" in result.stdout


def test_http_to_a_remote_host_fails_without_connecting(cli: CLI, good: dict[str, str]) -> None:
    result = cli("doctor", env={"CLAUDE_SYNC_URL": "http://usage.example.com/api"})
    assert result.code == 9
    assert "✗ sync URL" in result.stdout and "CLAUDE_SYNC_ALLOW_INSECURE" in result.stdout


def test_unreachable_endpoint_fails(
    cli: CLI, good: dict[str, str], receiver: ScriptedReceiver
) -> None:
    env = sync_env(receiver, CLAUDE_SYNC_URL="http://127.0.0.1:9/api/claude/console-usage")
    result = cli("doctor", env=env)
    assert result.code == 9
    assert "✗ endpoint" in result.stdout and "unreachable" in result.stdout


def test_readable_env_file_fails(cli: CLI, good: dict[str, str], home: Path) -> None:
    (home / ".env").chmod(0o644)
    result = cli("doctor")
    assert result.code == 9
    assert f"chmod 600 {home / '.env'}" in result.stdout


def test_a_trickling_endpoint_cannot_stretch_doctor(
    cli: CLI, good: dict[str, str], trickling_server: str
) -> None:
    started = time.monotonic()
    result = cli("doctor", env={"CLAUDE_SYNC_URL": trickling_server})
    assert result.code == 9
    assert time.monotonic() - started < 15
    assert "✗ endpoint" in result.stdout and "within 5 s" in result.stdout


def test_one_version_everywhere(cli: CLI, receiver: ScriptedReceiver, tmp_path: Path) -> None:
    """--version, doctor --verbose and the sync requests' User-Agent all say the package's."""
    from importlib.metadata import version

    expected = version("consolescrape")
    shown = cli("--version")
    assert shown.code == 0 and shown.stdout.strip() == f"consolescrape {expected}"
    doctor = cli("doctor", "--verbose", "--json", env=sync_env(receiver))
    assert doctor.json["data"]["version"] == expected and expected in doctor.stderr
    assert doctor.stdout.count("\n") == 1, "with --json, the view goes to stderr"
    data = write_snapshot(tmp_path / "usage-data.json")
    assert cli("sync", "--file", str(data), env=sync_env(receiver)).code == 0
    assert receiver.accepted[-1].header("User-Agent") == f"consolescrape/{expected}"


def test_an_ignored_dotenv_in_the_working_directory_is_pointed_out(
    cli: CLI, good: dict[str, str], home: Path, tmp_path: Path, receiver: ScriptedReceiver
) -> None:
    """Older versions read ./.env; now it is ignored, and doctor names it and the file read."""
    assert Path.cwd() == tmp_path
    (tmp_path / ".env").write_text("CLAUDE_SYNC_API_KEY=sk-wrong-one\nOTHER_PROJECT=1\n")
    result = cli("doctor", "--json")
    assert result.code == 0, result.stderr + result.stdout  # the home's key still works
    [ignored] = [c for c in result.json["data"]["checks"] if c["check"] == "ignored ./.env"]
    assert ignored["ok"] is False and ignored["required"] is False
    assert (
        str(tmp_path / ".env") in ignored["detail"] and "CLAUDE_SYNC_API_KEY" in ignored["detail"]
    )
    assert str(home / ".env") in ignored["fix"]
    assert "sk-wrong-one" not in result.stdout + result.stderr, "names only, never values"
    (tmp_path / ".env").write_text("OTHER_PROJECT=1\n")
    checks = cli("doctor", "--json").json["data"]["checks"]
    assert "ignored ./.env" not in {c["check"] for c in checks}, "another project's .env is fine"


def test_no_key_advice_names_the_env_file_given(
    cli: CLI, home: Path, tmp_path: Path, receiver: ScriptedReceiver
) -> None:
    (home / "profile").mkdir(parents=True, mode=0o700)
    account = tmp_path / "work.env"
    account.write_text(f"CLAUDE_SYNC_URL={receiver.url}\n")
    account.chmod(0o600)
    result = cli("doctor", "--json", "--env-file", str(account))
    [key] = [c for c in result.json["data"]["checks"] if c["check"] == "API key"]
    assert key["fix"] == f"add CLAUDE_SYNC_API_KEY=... to {account}"


def test_doctor_checks_the_alert_command_and_the_metrics_folder(
    cli: CLI, good: dict[str, str], tmp_path: Path
) -> None:
    script = tmp_path / "notify"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o644)
    env = {
        "CONSOLESCRAPE_ALERT_COMMAND": f"{script} --loud",
        "CONSOLESCRAPE_METRICS_FILE": str(tmp_path / "missing" / "cs.prom"),
    }
    result = cli("doctor", env=env)
    assert result.code == 9
    assert f"✗ alert command: {script} is not executable" in result.stdout
    assert f"fix: chmod +x {script}" in result.stdout
    assert f"✗ metrics file: {tmp_path / 'missing'} does not exist" in result.stdout
    assert f"fix: mkdir -p {tmp_path / 'missing'}" in result.stdout
    script.chmod(0o755)
    (tmp_path / "missing").mkdir()
    fixed = cli("doctor", env=env)
    assert fixed.code == 0, fixed.stdout
    assert f"✓ alert command: {script}" in fixed.stdout and "✓ metrics file" in fixed.stdout
    unknown = cli("doctor", env={"CONSOLESCRAPE_ALERT_COMMAND": "no-such-notifier-xyz"})
    assert "✗ alert command: no-such-notifier-xyz is not found" in unknown.stdout


def test_doctor_online_pings_the_health_check_once(
    cli: CLI, good: dict[str, str], pings: tuple[str, list[str]], site: TroubledSite
) -> None:
    url, seen = pings
    offline = cli("doctor", env={"CONSOLESCRAPE_HEALTHCHECK_URL": url})
    assert f"✓ health check: {url} (add --online" in offline.stdout
    assert seen == [], "no ping without --online"
    # --online also loads the usage page: the stand-in on 127.0.0.1, which asks this profile to
    # log in (a closed port would cost the endpoint's 10 s timeout on Chrome's error page).
    page = {"CONSOLESCRAPE_USAGE_URL": site.url}
    online = cli("doctor", "--online", env={**page, "CONSOLESCRAPE_HEALTHCHECK_URL": url})
    assert f"✓ health check: {url} answered (pinged once)" in online.stdout
    assert seen == ["/ping/abc"]
    dead = "http://127.0.0.1:9/ping/abc"
    result = cli("doctor", "--online", env={**page, "CONSOLESCRAPE_HEALTHCHECK_URL": dead})
    assert result.code == 9
    assert f"✗ health check: {dead} did not answer with a success within 5 s" in result.stdout
