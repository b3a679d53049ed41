"""How the command line is taken: usage errors under --json, -h, completion, a repeated --home,
and advice that repeats the options a command ran with."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import CLI
from typer.testing import CliRunner

from consolescrape.cli import app
from consolescrape.output import options_to_repeat, repeat_options

# Views, parsing and JSON run in this process; run, sync and login in their own (inprocess.py).
pytestmark = pytest.mark.inprocess


def runner() -> CliRunner:
    return CliRunner()


@pytest.mark.parametrize(
    ("args", "command", "words"),
    [
        (["status", "--json", "--bogus"], "status", "--bogus"),
        (["run", "--json", "--timeout", "0"], "run", "--timeout"),
        (["history", "--json", "--since"], "history", "--since"),
        (["run", "--json", "--home", "a", "--home", "b"], "run", "--home was given 2 times"),
        (["--bogus", "status", "--json"], "status", "--bogus"),
        (["--json", "--bogus"], "consolescrape", "--json"),
    ],
)
def test_a_usage_error_under_json_is_one_json_object_on_stdout(
    home: Path, args: list[str], command: str, words: str
) -> None:
    result = runner().invoke(app, args)
    assert result.exit_code == 2
    doc = json.loads(result.stdout)
    assert result.stdout.count("\n") == 1, "exactly one JSON object"
    assert (doc["ok"], doc["exitCode"], doc["command"]) == (False, 2, command)
    assert words in doc["error"]["message"]
    assert words in result.stderr, "the usage text still goes to stderr"


def test_a_usage_error_without_json_prints_only_usage_on_stderr(home: Path) -> None:
    result = runner().invoke(app, ["status", "--bogus"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "No such option: --bogus" in result.stderr


@pytest.mark.parametrize("command", ["run", "sync", "login", "history", "doctor"])
def test_a_second_home_is_refused_by_a_command_that_takes_one(
    home: Path, tmp_path: Path, command: str
) -> None:
    result = runner().invoke(
        app, [command, "--home", str(tmp_path / "a"), "--home", str(tmp_path / "b")]
    )
    assert result.exit_code == 2, result.output
    assert "--home was given 2 times" in result.stderr
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists(), "nothing done"


def test_demo_refuses_a_home(home: Path, tmp_path: Path) -> None:
    result = runner().invoke(app, ["demo", "--home", str(tmp_path / "mine"), "--json"])
    assert result.exit_code == 2
    assert "temporary home of its own" in json.loads(result.stdout)["error"]["message"]
    assert not (tmp_path / "mine").exists()


def test_dash_h_is_help_and_completion_is_offered(home: Path) -> None:
    for args in (["-h"], ["run", "-h"]):
        result = runner().invoke(app, args)
        assert result.exit_code == 0 and "Usage: consolescrape" in result.stdout
    top = runner().invoke(app, ["--help"]).stdout
    assert "--install-completion" in top and "--show-completion" in top


def test_show_completion_prints_a_script_for_the_shell(cli: CLI) -> None:
    # typer finds the shell among the parent processes; started by nohup, cron or CI there is
    # none ("Shell  not supported"). Its switch for tests takes the shell as the option's value.
    no_detection = {"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    result = cli("--show-completion", "bash", env=no_detection)
    assert result.code == 0, result.stderr
    assert "complete" in result.stdout and "consolescrape" in result.stdout.lower()


def test_advice_repeats_the_home_and_env_file_shell_quoted() -> None:
    options = options_to_repeat(Path("/tmp/my home"), Path("/etc/cs.env"))
    assert options == ["--home", "'/tmp/my home'", "--env-file", "/etc/cs.env"]
    advice = "run `consolescrape login` (a window), or `consolescrape login --session-key-stdin`"
    assert repeat_options(advice, options) == (
        "run `consolescrape login --home '/tmp/my home' --env-file /etc/cs.env` (a window), or "
        "`consolescrape login --home '/tmp/my home' --env-file /etc/cs.env --session-key-stdin`"
    )
    assert repeat_options(advice, []) == advice


def test_a_run_in_another_home_advises_login_in_that_home(cli: CLI, tmp_path: Path) -> None:
    other = tmp_path / "second home"
    result = cli("run", "--home", str(other))
    assert result.code == 3
    assert f"consolescrape login --home '{other}'" in result.stderr
    doc = cli("run", "--home", str(other), "--json").json
    assert f"consolescrape login --home '{other}'" in doc["error"]["advice"]


def test_status_and_doctor_fixes_repeat_the_home(cli: CLI, tmp_path: Path) -> None:
    other = tmp_path / "h2"
    other.mkdir(mode=0o700)  # a home that does not exist is exit 7
    status = cli("status", "--check", "--home", str(other))
    assert f"`consolescrape login --home {other}` once" in status.stdout
    doc = cli("status", "--check", "--json", "--home", str(other)).json
    assert f"consolescrape login --home {other}" in doc["data"]["problems"][0]["fix"]
