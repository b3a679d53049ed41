"""Files under the home are regular files of ours or a clear error: never a hang on a FIFO, never
a symlink followed, never advice that sends people the wrong way. All through the real CLI."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import CLI, Result, write_snapshot

from consolescrape import history, model

# Views, parsing and JSON run in this process; run, sync and login in their own (inprocess.py).
pytestmark = pytest.mark.inprocess

#: Plenty on a busy machine; a hang on a FIFO is forever.
PROMPTLY = 30.0


def fresh(home: Path) -> None:
    write_snapshot(home / "usage-data.json", lastUpdated=model.format_time(datetime.now(UTC)))
    home.chmod(0o700)


def started(*args: str, cwd: Path | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "consolescrape", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
    )


def finished(proc: subprocess.Popen[str], seconds: float = PROMPTLY) -> Result:
    try:
        out, err = proc.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail(f"{proc.args!r} hung for {seconds:g} s")
    return Result(proc.returncode, out, err)


@pytest.mark.parametrize("name", ["history.db", "history.db-wal", "history.db-shm"])
def test_a_fifo_in_place_of_history_hangs_neither_status_nor_history(home: Path, name: str) -> None:
    fresh(home)
    if name != "history.db":
        with history.open_for_writing(home / "history.db"):
            pass
    fifo = home / name
    fifo.unlink(missing_ok=True)
    os.mkfifo(fifo)

    status = finished(started("status", "--check"))
    assert status.code == 0, status.stderr  # the data is fresh; history only adds forecasts
    assert "Current session" in status.stdout
    shown = finished(started("history"))
    assert shown.code == 7
    assert f"{fifo} is a FIFO (named pipe), not a regular file of yours" in shown.stderr
    assert f"fix: move it out of the way (mv {fifo} {fifo}.aside)" in shown.stderr
    # And a SIGTERM at any moment ends it at once, as any command.
    proc = started("history", "--json")
    catching(proc, signal.SIGTERM)
    proc.send_signal(signal.SIGTERM)
    ended = finished(proc, 10)
    # Before its handlers are in place the default action ends it (-15), after them it exits
    # 143, or it was done already (7): at once, either way.
    assert ended.code in (7, 128 + signal.SIGTERM, -signal.SIGTERM), ended.stderr
    assert json.loads(ended.stdout)["ok"] is False
    assert stat_is_fifo(fifo), "the FIFO was left as it was"


def catching(proc: subprocess.Popen[str], number: int) -> None:
    """Wait until `proc` has a handler of its own for signal `number` (the command has started:
    before that, the signal would end the interpreter, not the command), or has ended."""
    until = time.monotonic() + PROMPTLY
    while proc.poll() is None and time.monotonic() < until:
        try:
            with open(f"/proc/{proc.pid}/status") as handle:
                caught = next(line for line in handle if line.startswith("SigCgt:"))
        except (OSError, StopIteration):
            return
        if int(caught.split()[1], 16) >> (number - 1) & 1:
            return
        time.sleep(0.005)


def stat_is_fifo(path: Path) -> bool:
    import stat

    return stat.S_ISFIFO(os.lstat(path).st_mode)


def test_history_db_as_a_symlink_is_refused_never_followed(
    cli: CLI, home: Path, tmp_path: Path
) -> None:
    fresh(home)
    outside = tmp_path / "outside.db"
    (home / "history.db").symlink_to(outside)  # dangling
    result = cli("history")
    assert result.code == 7
    assert "history.db is a symbolic link, not a regular file of yours" in result.stderr
    doctor = cli("doctor")
    assert "✗ history:" in doctor.stdout and "symbolic link" in doctor.stdout
    assert not outside.exists(), "a database was made outside the home"

    outside.write_text("not ours to touch\n")
    outside.chmod(0o644)
    assert "symbolic link" in cli("doctor").stdout
    assert outside.read_text() == "not ours to touch\n"
    assert outside.stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("name", ["history.db", "history.db-shm", "history.db-wal"])
def test_a_directory_in_place_of_history_says_so_and_how_to_move_it(
    cli: CLI, home: Path, name: str
) -> None:
    fresh(home)
    (home / name).mkdir()
    doctor = cli("doctor")
    [line] = [line for line in doctor.stdout.splitlines() if line.startswith("✗ history:")]
    assert f"{home / name} is a directory, not a regular file of yours" in line
    fix = doctor.stdout.split(line, 1)[1].strip().splitlines()[0]
    assert f"mv {home / name} {home / name}.aside" in fix
    assert "chmod" not in fix and "`consolescrape doctor` checks it" not in fix


def test_a_newer_schema_says_upgrade_consolescrape_not_run_it(cli: CLI, home: Path) -> None:
    fresh(home)
    path = home / "history.db"
    with history.open_for_writing(path):
        pass
    with sqlite3.connect(path) as raw:
        raw.execute(f"PRAGMA user_version = {history.SCHEMA_VERSION + 1}")
    result = cli("history")
    assert result.code == 7
    assert "newer than this consolescrape knows" in result.stderr
    assert "upgrade consolescrape" in result.stderr
    assert "consolescrape run" not in result.stderr


def test_printed_fix_commands_work_in_a_home_with_a_space(
    cli: CLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "my home"
    monkeypatch.setenv("CONSOLESCRAPE_HOME", str(home))
    fresh(home)
    (home / "history.db").write_bytes(b"garbage " * 1000)
    (home / "history.db-wal").write_bytes(b"")
    doctor = cli("doctor")
    fix = doctor.stdout.split("✗ history:", 1)[1].split("fix: ", 1)[1].splitlines()[0]
    command = fix.split(" — ", 1)[0]
    subprocess.run(["sh", "-c", command], check=True)  # as the user would paste it
    assert (home / "history.db.broken").exists() and not (home / "history.db").exists()
    assert not (home / "history.db-wal").exists()
    assert "✓ history:" in cli("doctor").stdout


def test_a_directory_as_the_profile_lock_is_named_not_blamed_on_chrome(
    cli: CLI, home: Path
) -> None:
    lock = home / "profile" / "consolescrape.lock"
    lock.mkdir(parents=True)
    home.chmod(0o700)
    result = cli("run", "--json")
    assert result.code == 7, result.stderr
    assert f"{lock} is a directory, not a regular file of yours" in result.stderr
    assert "chromedriver" not in result.stderr and "major version" not in result.stderr
    assert result.json["error"]["message"].startswith(str(lock))


def test_a_fifo_as_the_run_lock_is_a_prompt_clear_error(home: Path) -> None:
    home.mkdir(mode=0o700)
    os.mkfifo(home / "run.lock")
    result = finished(started("sync"))
    assert result.code == 7
    assert f"{home / 'run.lock'} is a FIFO (named pipe)" in result.stderr


def test_login_with_stdin_closed_is_a_usage_error(home: Path) -> None:
    done = subprocess.run(
        ["sh", "-c", f"exec {sys.executable} -m consolescrape login --session-key-stdin <&-"],
        capture_output=True,
        text=True,
        timeout=PROMPTLY,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "stdin is closed" in done.stderr and "AttributeError" not in done.stderr


def test_a_deleted_working_directory_is_named(home: Path, tmp_path: Path) -> None:
    fresh(home)
    gone = tmp_path / "gone"
    gone.mkdir()
    command = [sys.executable, "-m", "consolescrape", "status"]
    proc = subprocess.Popen(
        ["sh", "-c", f'rmdir "{gone}" && exec "$@"', "sh", *command, "--home", "relative-home"],
        cwd=gone,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    result = finished(proc)
    assert result.code == 7
    assert "the working directory no longer exists" in result.stderr
    assert "(unknown path)" not in result.stderr
    # With a home that does not depend on it, the command works as usual.
    script = f'mkdir "{gone}"; cd "{gone}"; rmdir "{gone}"; exec "$@" --check'
    proc = subprocess.Popen(
        ["sh", "-c", script, "sh", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    result = finished(proc)
    assert result.code == 0, result.stderr


def test_status_check_with_an_invalid_setting_keeps_its_own_exit_code(cli: CLI, home: Path) -> None:
    fresh(home)
    result = cli("status", "--check", "--json", env={"CONSOLESCRAPE_ALERT_AT": "8O"})
    assert result.code == 9
    assert result.json["exitCode"] == 9
    assert "CONSOLESCRAPE_ALERT_AT" in result.json["error"]["message"]
    assert "CONSOLESCRAPE_ALERT_AT" in result.json["error"]["advice"]
    # Without --check it is the configuration error it always was.
    assert cli("status", env={"CONSOLESCRAPE_ALERT_AT": "8O"}).code == 7
