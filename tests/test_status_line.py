"""`consolescrape status --line` and `--format`: one short line for status bars and prompts,
through the real CLI."""

from __future__ import annotations

import fcntl
import os
import pty
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import CLI, Spawn, via_typer
from test_status import record_failure

from consolescrape import model, store
from consolescrape.invocation import with_interval

# Views, parsing and JSON run in this process; run, sync and login in their own (inprocess.py).
pytestmark = pytest.mark.inprocess

LINE = "S 47% 2h41m · W 31% 1d1h · Sonnet 10%"


def usage(
    *,
    age: timedelta = timedelta(minutes=2),
    session: bool = True,
    weekly: tuple[str, ...] = ("allModels", "sonnetOnly"),
    model_resets: timedelta | None = None,
) -> dict[str, Any]:
    """A snapshot written `age` ago whose countdowns read 2h41m (session) and 1d1h (weekly),
    with a margin of half a minute and half an hour for a slow machine."""
    now = datetime.now(UTC)
    week = model.format_time(now + timedelta(days=1, hours=1, minutes=30))
    percents = {"allModels": 31, "sonnetOnly": 10, "opusOnly": 64, "claudeDesignOnly": 5}
    rows = {
        key: {"resetsIn": "Thu 7:00 AM", "percentageUsed": percents[key], "resetsAt": week}
        for key in weekly
    }
    if model_resets is not None and "sonnetOnly" in rows:
        rows["sonnetOnly"]["resetsAt"] = model.format_time(now + model_resets)
    doc: dict[str, Any] = {"lastUpdated": model.format_time(now - age), "source": "api"}
    if session:
        resets = model.format_time(now + timedelta(hours=2, minutes=41, seconds=30))
        doc["currentSession"] = {
            "resetsIn": "2 hr 41 min",
            "percentageUsed": 47,
            "resetsAt": resets,
        }
    if rows:
        doc["weeklyLimits"] = rows
    return doc


def save(home: Path, doc: dict[str, Any]) -> None:
    store.save_snapshot(home / "usage-data.json", model.from_json(doc))


def line(cli: CLI, *args: str, **kwargs: Any) -> str:
    """The line printed; the command must succeed, print nothing else, and take no lock."""
    result = cli("status", "--line", *args, **kwargs)
    assert result.code == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.endswith("\n") and result.stdout.count("\n") == 1
    return result.stdout[:-1]


def test_full_data_is_one_line_session_first_then_weekly_rows(cli: CLI, home: Path) -> None:
    save(home, usage())
    assert line(cli) == LINE


def test_a_model_row_that_resets_apart_from_the_weekly_limit_shows_its_countdown(
    cli: CLI, home: Path
) -> None:
    save(home, usage(model_resets=timedelta(hours=5, minutes=30)))
    assert line(cli) == "S 47% 2h41m · W 31% 1d1h · Sonnet 10% 5h29m"


def test_every_model_row_is_shown_by_its_name(cli: CLI, home: Path) -> None:
    save(home, usage(weekly=("allModels", "opusOnly", "claudeDesignOnly")))
    assert line(cli) == "S 47% 2h41m · W 31% 1d1h · Opus 64% · Claude Design 5%"


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        ({"weekly": ()}, "S 47% 2h41m"),
        ({"session": False}, "W 31% 1d1h · Sonnet 10%"),
        ({"weekly": ("allModels",)}, "S 47% 2h41m · W 31% 1d1h"),
        ({"weekly": ("sonnetOnly",)}, "S 47% 2h41m · Sonnet 10% 1d1h"),
    ],
)
def test_partial_data_shows_what_was_found(
    cli: CLI, home: Path, shape: dict[str, Any], expected: str
) -> None:
    save(home, usage(**shape))
    assert line(cli) == expected


def test_a_limit_without_a_reset_time_shows_no_countdown(cli: CLI, home: Path) -> None:
    doc = usage()
    doc["weeklyLimits"]["allModels"] = {"resetsIn": "Sat, Aug 1", "percentageUsed": 31}
    doc["weeklyLimits"]["sonnetOnly"] = {
        "resetsIn": "You haven’t used Sonnet yet",
        "percentageUsed": 0,
    }
    save(home, doc)
    assert line(cli) == "S 47% 2h41m · W 31% · Sonnet 0%"


def test_a_reset_that_has_passed_says_so(cli: CLI, home: Path) -> None:
    doc = usage()
    doc["currentSession"]["resetsAt"] = model.format_time(datetime.now(UTC) - timedelta(minutes=1))
    save(home, doc)
    assert line(cli).startswith("S 47% reset due · W 31%")


def test_stale_data_says_so_at_the_end_of_the_line(cli: CLI, home: Path) -> None:
    save(home, usage(age=timedelta(minutes=25, seconds=10)))
    assert line(cli) == f"{LINE} (stale 25m)"
    assert line(cli, "--max-age", "30") == LINE


def test_a_failed_last_run_says_so_and_a_logged_out_one_says_which(cli: CLI, home: Path) -> None:
    save(home, usage(age=timedelta(minutes=25, seconds=10)))
    record_failure(home, "run", 4, "the page timed out")
    assert line(cli) == f"{LINE} (stale 25m, run failed)"
    record_failure(home, "run", 3, "the usage page asks for a login")
    assert line(cli) == f"{LINE} (stale 25m, logged out)"


def test_no_data_is_a_short_line_and_exit_0(cli: CLI, home: Path) -> None:
    assert line(cli) == "no data"
    assert not home.exists(), "the line only reads: it creates nothing"
    record_failure(home, "run", 3, "the usage page asks for a login")
    assert line(cli) == "no data (logged out)"


def test_a_damaged_snapshot_is_no_data_not_an_error(cli: CLI, home: Path) -> None:
    home.mkdir(mode=0o700)
    (home / "usage-data.json").write_text('{"currentSession": ')
    assert line(cli) == "no data (unreadable)"


def test_the_template_fields(cli: CLI, home: Path) -> None:
    save(
        home,
        usage(age=timedelta(minutes=3, seconds=10), model_resets=timedelta(hours=5, minutes=30)),
    )
    template = (
        "{session}|{session_resets}|{weekly}|{weekly_resets}|{model}|{sonnet}|{sonnet_resets}"
        "|{age}|{warning}|{opus}|{line}"
    )
    assert line(cli, "--format", template) == (
        "47%|2h41m|31%|1d1h|Sonnet 10% 5h29m|10%|5h29m|3m||"
        "|S 47% 2h41m · W 31% 1d1h · Sonnet 10% 5h29m"
    )
    assert line(cli, "--format={session:>4} {warning}", "--max-age", "1") == " 47% (stale 3m)"


def test_format_alone_asks_for_the_line_and_no_data_stays_no_data(cli: CLI, home: Path) -> None:
    result = cli("status", "--format", "Claude {session}")
    assert (result.code, result.stdout) == (0, "no data\n")


@pytest.mark.parametrize("template", ["{", "{}", "{0}", "{session.real}", "{session[0]}"])
def test_a_template_that_names_no_field_is_refused(cli: CLI, home: Path, template: str) -> None:
    save(home, usage())
    result = cli("status", "--format", template)
    assert result.code == 2
    assert "--format" in result.stderr and "session_resets" in result.stderr
    assert result.stdout == ""


def test_json_on_stdin_is_read_and_ignored(cli: CLI, home: Path) -> None:
    save(home, usage())
    session = '{"session_id": "abc", "model": {"display_name": "Opus"}, "workspace": {}}\n'
    assert line(cli, stdin=session) == LINE


def line_on_a_pipe(spawn: Spawn) -> subprocess.Popen[str]:
    """`consolescrape status --line` whose stdin is a pipe left open (killed after the test)."""
    return spawn("status", "--line", stdin=subprocess.PIPE, stdout=subprocess.PIPE)


def printed(proc: subprocess.Popen[str]) -> str:
    """What the line printed, once it has ended by itself with exit 0."""
    assert proc.wait(timeout=60) == 0
    assert proc.stdout is not None
    return proc.stdout.read()


def test_an_open_pipe_with_nothing_in_it_does_not_hold_the_line(home: Path, spawn: Spawn) -> None:
    save(home, usage())
    proc = line_on_a_pipe(spawn)
    assert printed(proc) == LINE + "\n"  # stdin still open: it never waited on it


def test_an_endless_stdin_does_not_hold_the_line(home: Path, spawn: Spawn) -> None:
    save(home, usage())
    proc = line_on_a_pipe(spawn)
    assert proc.stdin is not None
    feed = proc.stdin

    def flood() -> None:
        try:
            while True:
                feed.write('{"session_id": "abc"}\n' * 4096)
        except (BrokenPipeError, ValueError, OSError):
            pass

    writer = threading.Thread(target=flood, daemon=True)
    writer.start()
    try:
        assert printed(proc) == LINE + "\n"
    finally:
        proc.kill()
        writer.join(timeout=10)


def test_a_terminal_on_stdin_is_not_read_and_a_terminal_on_stdout_gets_colour(
    home: Path,
) -> None:
    save(home, usage())
    controller, terminal = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "consolescrape", "status", "--line"],
            stdin=terminal,
            stdout=terminal,
            stderr=subprocess.PIPE,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        shown = os.read(controller, 65536).decode()
    finally:
        os.close(controller)
        os.close(terminal)
    assert "\x1b[32m47%\x1b[0m" in shown and "\x1b[32m31%\x1b[0m" in shown
    assert shown.replace("\x1b[32m", "").replace("\x1b[0m", "").strip() == LINE


def test_colour_only_on_a_terminal_or_when_asked(cli: CLI, home: Path) -> None:
    save(home, usage(age=timedelta(minutes=25, seconds=10)))
    doc = usage(age=timedelta(minutes=25, seconds=10))
    doc["currentSession"]["percentageUsed"] = 93
    doc["weeklyLimits"]["allModels"]["percentageUsed"] = 75
    save(home, doc)
    assert "\x1b" not in line(cli)
    coloured = line(cli, "--color")
    assert "\x1b[31m93%\x1b[0m" in coloured  # red from 90 %, as in `status`
    assert "\x1b[33m75%\x1b[0m" in coloured  # yellow from 70 %
    assert "\x1b[32m10%\x1b[0m" in coloured
    assert coloured.endswith("\x1b[31m(stale 25m)\x1b[0m")
    assert "\x1b" not in line(cli, "--color", "--no-color")


def test_the_line_does_not_wait_for_a_running_run(cli: CLI, home: Path) -> None:
    save(home, usage())
    with open(home / "run.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a `run` in progress holds it
        assert line(cli) == LINE


def test_the_home_comes_from_the_flag_the_environment_or_the_env_file(
    cli: CLI, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other"
    save(other, usage(weekly=()))
    save(home, usage())
    assert line(cli) == LINE
    assert line(cli, "--home", str(other)) == "S 47% 2h41m"
    settings_file = tmp_path / "line.env"
    settings_file.write_text(f"CONSOLESCRAPE_HOME={other}\n")
    # Set but empty, the variable hides the file's value (README, Configuration)...
    hidden = {"CONSOLESCRAPE_HOME": "", "XDG_DATA_HOME": str(tmp_path / "xdg")}
    assert line(cli, "--env-file", str(settings_file), env=hidden) == "no data"
    with monkeypatch.context() as unset:  # ...unset, the file names the home
        unset.delenv("CONSOLESCRAPE_HOME")
        assert line(cli, "--env-file", str(settings_file)) == "S 47% 2h41m"
    # A setting the line does not use cannot fail it (`status` itself would exit 7).
    assert line(cli, env={"CONSOLESCRAPE_TIMEOUT": "inf"}) == LINE
    assert cli("status", env={"CONSOLESCRAPE_TIMEOUT": "inf"}).code == 7


def test_several_homes_share_the_line(cli: CLI, home: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    save(home, usage())
    result = line(cli, "--home", str(home), "--home", str(other))
    assert result == f"{LINE} | no data"


def test_a_missing_env_file_is_a_usage_error(cli: CLI, home: Path, tmp_path: Path) -> None:
    result = cli("status", "--line", "--env-file", str(tmp_path / "nowhere.env"))
    assert result.code == 2
    assert "no such file" in result.stderr and result.stdout == ""


@pytest.mark.parametrize("other", ["--json", "--check"])
def test_the_line_does_not_combine_with_json_or_check(cli: CLI, home: Path, other: str) -> None:
    result = cli("status", "--line", other)
    assert result.code == 2
    assert other in result.stderr


def test_typer_gives_the_same_line_as_the_front_door(cli: CLI, home: Path) -> None:
    """An install whose script still calls consolescrape.cli (and every case the front door
    leaves to typer) prints the same line."""
    save(home, usage(age=timedelta(minutes=25, seconds=10)))
    typed = via_typer("status", "--line")
    assert typed.code == 0, typed.stderr
    assert typed.stdout == line(cli) + "\n" == f"{LINE} (stale 25m)\n"


def test_the_installed_script_answers_the_line(home: Path) -> None:
    save(home, usage())
    script = Path(sys.executable).parent / "consolescrape"
    done = subprocess.run(
        [str(script), "status", "--line"], capture_output=True, text=True, timeout=60, check=False
    )
    assert (done.returncode, done.stdout) == (0, LINE + "\n"), done.stderr


def test_the_line_imports_nothing_it_does_not_print(home: Path, tmp_path: Path) -> None:
    """What `python -X importtime` lists for the line in the default home, whose .env holds the
    key: no command layer, no rich, no network, no browser, no database, no .env parser."""
    data_home = tmp_path / "xdg"
    default = data_home / "consolescrape"
    save(default, usage())
    (default / ".env").write_text("CLAUDE_SYNC_API_KEY=not-a-real-key\n")
    env = {k: v for k, v in os.environ.items() if k != "CONSOLESCRAPE_HOME"}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "consolescrape", "status", "--line"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**env, "XDG_DATA_HOME": str(data_home)},
    )
    assert (done.returncode, done.stdout) == (0, LINE + "\n"), done.stderr[-2000:]
    loaded = {row.rsplit("|", 1)[-1].strip() for row in done.stderr.splitlines() if "|" in row}
    assert "consolescrape.status_line" in loaded  # the listing is real
    heavy = {"typer", "click", "rich", "requests", "selenium", "sqlite3", "dotenv", "logging"}
    assert sorted(heavy & {name.split(".")[0] for name in loaded}) == []


def test_watch_without_seconds_gets_the_default_interval() -> None:
    assert with_interval(["status", "--watch"]) == ["status", "--watch", "5"]
    assert with_interval(["status", "--watch", "--line"]) == ["status", "--watch", "5", "--line"]
    assert with_interval(["status", "--watch", "2"]) == ["status", "--watch", "2"]
    assert with_interval(["status", "--format", "--watch"]) == ["status", "--format", "--watch"]
    assert with_interval(["run", "--watch"]) == ["run", "--watch"]
