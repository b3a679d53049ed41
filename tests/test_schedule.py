"""`consolescrape schedule`: the text each scheduler gets, the real crontab, the written cron
command run the way cron runs it (against the stand-in site and the receiver), systemd-analyze,
the plist through plistlib and the launchctl commands, and the repo's examples."""

from __future__ import annotations

import contextlib
import importlib.machinery
import importlib.util
import json
import os
import plistlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from conftest import CLI, SECRET_KEY, file_mode, processes_mentioning
from support.receiver import ScriptedReceiver
from support.site import StandIn

from consolescrape import store
from consolescrape.schedule import entry as texts
from consolescrape.schedule.backends import Launchd, Runner, Systemd
from consolescrape.schedule.entry import Entry

# Views, parsing and JSON run in this process; run, sync and login in their own (inprocess.py).
pytestmark = pytest.mark.inprocess

ROOT = Path(__file__).resolve().parent.parent
#: The installed script the entries call (the tests run `python -m consolescrape`).
PROGRAM = str(Path(sys.executable).parent / "consolescrape")
INTERVALS = [1, 2, 5, 7, 10, 15, 45, 59, 60, 90, 100, 120, 360, 1000, 1440]


def expand(text: str, size: int) -> set[int]:
    """A cron or systemd minute/hour field as the set of values it matches."""
    if text == "*":
        return set(range(size))
    if "/" in text:
        start, step = text.split("/")
        return set(range(0 if start == "*" else int(start), size, int(step)))
    return {int(v) for v in text.split(",")}


@pytest.mark.parametrize("every", INTERVALS)
def test_every_scheduler_gets_the_same_times_of_day(every: int) -> None:
    wanted = set(texts.times_of_day(every))
    assert len(wanted) == -(-1440 // every)
    cron: set[tuple[int, int]] = set()
    for line in texts.cron_times(every):
        minute, hour, *rest = line.split()
        assert rest == ["*", "*", "*"]
        cron |= {(h, m) for h in expand(hour, 24) for m in expand(minute, 60)}
    systemd: set[tuple[int, int]] = set()
    for spec in texts.on_calendar(every):
        day, clock = spec.split()
        hour, minute, second = clock.split(":")
        assert day == "*-*-*" and second == "00"
        systemd |= {(h, m) for h in expand(hour, 24) for m in expand(minute, 60)}
    launchd = set(
        texts.plist_times(
            plistlib.dumps({"StartCalendarInterval": texts.calendar_intervals(every)})
        )
        or []
    )
    assert cron == systemd == launchd == wanted


def test_a_divisor_of_the_hour_reads_as_a_step() -> None:
    assert texts.cron_times(5) == ["*/5 * * * *"]
    assert texts.on_calendar(5) == ["*-*-* *:00/5:00"]
    assert texts.cron_times(60) == ["0 * * * *"]
    assert texts.cron_times(120) == ["0 */2 * * *"]
    assert texts.cron_times(1440) == ["0 0 * * *"]
    # cron's */7 restarts every hour (…:56, :00); the day's own times do not.
    assert "*/7 * * * *" not in texts.cron_times(7)


def test_next_due_is_the_next_start_after_now() -> None:
    times = texts.times_of_day(5)
    assert texts.next_due(times, datetime(2026, 12, 2, 10, 21, 30)) == datetime(2026, 12, 2, 10, 25)
    assert texts.next_due(times, datetime(2026, 12, 2, 23, 57)) == datetime(2026, 12, 3, 0, 0)


def show(cli: CLI, *args: str, env: dict[str, str] | None = None) -> str:
    result = cli("schedule", "show", *args, env=env)
    assert result.code == 0, result.stderr
    return result.stdout


def test_every_is_bounded(cli: CLI) -> None:
    for bad in ("0", "1441", "five"):
        result = cli("schedule", "show", "--with", "cron", "--every", bad)
        assert result.code == 2 and "--every" in result.stderr


def test_show_prints_the_cron_entry_on_stdout_and_changes_nothing(
    cli: CLI, home: Path, tmp_path: Path
) -> None:
    out = show(cli, "--with", "cron", "--home", str(home))
    [comment, marker, line] = out.splitlines()
    assert comment.startswith("# add to the crontab of ")
    assert marker.startswith(f"# consolescrape schedule for {home}: `run` every 5 minutes")
    assert f"undo: consolescrape schedule remove --home {home}" in marker
    assert line == (
        f"*/5 * * * * {PROGRAM} run --home {home} --log-file {home}/logs/run.log"
        f"  # consolescrape schedule for {home}"
    )
    assert not home.exists(), "show writes nothing"
    doc = json.loads(cli("schedule", "show", "--with", "cron", "--json").stdout)
    assert doc["ok"] is True and doc["command"] == "schedule show"
    assert doc["data"]["command"][:2] == [PROGRAM, "run"]


def test_the_command_quotes_paths_with_spaces_and_percent_for_cron(
    cli: CLI, tmp_path: Path
) -> None:
    odd = tmp_path / "my 100% home"
    line = show(cli, "--with", "cron", "--home", str(odd)).splitlines()[2]
    command = line.split(None, 5)[5]
    assert "'" in command and "\\%" in command and "%" not in command.replace("\\%", "")
    # As cron runs it: `\%` becomes `%`, then /bin/sh. No login yet: exit 3, logged there.
    done = subprocess.run(
        [
            "env",
            "-i",
            f"HOME={tmp_path}",
            "PATH=/usr/bin:/bin",
            "/bin/sh",
            "-c",
            command.replace("\\%", "%"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 3 and done.stderr == ""
    assert "not logged in yet" in (odd / "logs" / "run.log").read_text()


@contextlib.contextmanager
def machine_crontab() -> Iterator[None]:
    """Keep this machine's crontab as it was, whatever the test does (others share it)."""
    assert shutil.which("crontab"), "install cron: scripts/install-browser --display does"
    saved = subprocess.run(["crontab", "-l"], capture_output=True, text=True, check=False)
    try:
        yield
    finally:
        if saved.returncode == 0:
            subprocess.run(["crontab", "-"], input=saved.stdout, text=True, check=True)
        else:
            subprocess.run(["crontab", "-r"], capture_output=True, check=False)
        after = subprocess.run(["crontab", "-l"], capture_output=True, text=True, check=False)
        assert after.stdout == (saved.stdout if saved.returncode == 0 else "")


def crontab() -> str:
    return subprocess.run(["crontab", "-l"], capture_output=True, text=True, check=True).stdout


OTHER_JOBS = "MAILTO=me@example.com\n# nightly backup\n17 3 * * * /usr/local/bin/backup --all\n"


@pytest.mark.xdist_group("crontab")  # the machine's one crontab: one worker at a time
def test_install_with_the_real_crontab_is_idempotent_keeps_other_lines_and_removes_only_ours(
    cli: CLI, home: Path, tmp_path: Path
) -> None:
    other_home = tmp_path / "other-account"
    store.record_outcome(
        home / "state.json", "run", {"ok": True, "exitCode": 0, "message": "session 47% · synced"}
    )
    expected = show(cli, "--with", "cron", "--home", str(home)).splitlines(keepends=True)[1:]
    with machine_crontab():
        subprocess.run(["crontab", "-"], input=OTHER_JOBS, text=True, check=True)
        first = cli("schedule", "install", "--with", "cron", "--home", str(home))
        assert first.code == 0, first.stderr
        assert "installed: cron" in first.stderr and "undo: consolescrape schedule remove" in (
            first.stderr
        )
        again = cli("schedule", "install", "--with", "cron", "--home", str(home))
        assert again.code == 0 and "already installed, unchanged" in again.stderr
        assert cli("schedule", "install", "--with", "cron", "--home", str(other_home)).code == 0
        installed = crontab()
        assert installed.startswith(OTHER_JOBS)
        assert installed.count(f"run --home {home} ") == 1, "twice is one entry"
        assert "".join(expected) in installed, "install writes exactly what show printed"
        assert file_mode(home / "logs") == 0o700, "the log's folder exists before any run"
        status = cli("schedule", "status", "--home", str(home))
        assert status.code == 0, status.stderr
        assert "cron: the crontab of" in status.stdout and "Next run   in " in status.stdout
        assert "Last run   ✓" in status.stdout and "session 47%" in status.stdout
        data = json.loads(cli("schedule", "status", "--home", str(home), "--json").stdout)["data"]
        assert data["installed"] is True and data["entries"][0]["backend"] == "cron"
        assert data["nextDue"].endswith("Z") and data["log"] == str(home / "logs" / "run.log")
        removed = cli("schedule", "remove", "--home", str(home))
        assert removed.code == 0 and "removed: the cron entry" in removed.stderr
        left = crontab()
        assert left.startswith(OTHER_JOBS) and str(home) + " " not in left
        assert f"--home {other_home}" in left, "another home's entry stays"
        assert cli("schedule", "remove", "--with", "cron", "--home", str(other_home)).code == 0
        assert crontab() == OTHER_JOBS, "every other line exactly as it was"
        gone = cli("schedule", "status", "--home", str(home))
        assert "not installed" in gone.stdout
        assert "nothing to remove" in cli("schedule", "remove", "--home", str(home)).stderr


def test_the_cron_entry_run_as_cron_runs_it_syncs_and_logs_under_the_home(
    site: StandIn, profile: Path, receiver: ScriptedReceiver, home: Path, tmp_path: Path, cli: CLI
) -> None:
    """`/bin/sh -c` the written line with cron's bare environment and cwd, no terminal; a
    ./.env of another project in $HOME (cron's cwd) holding a wrong key changes nothing."""
    site.reset()
    account = tmp_path / "account"
    account.mkdir(mode=0o700)
    settings = account / ".env"
    settings.write_text(
        f"CONSOLESCRAPE_USAGE_URL={site.url}\nCONSOLESCRAPE_PROFILE_DIR={profile}\n"
        f"CLAUDE_SYNC_URL={receiver.url}\nCLAUDE_SYNC_API_KEY={SECRET_KEY}\n"
        "CONSOLESCRAPE_TIMEOUT=60\n"
    )
    settings.chmod(0o600)
    user_home = tmp_path / "user"
    user_home.mkdir()
    (user_home / ".env").write_text(
        "CLAUDE_SYNC_API_KEY=wrong-key\nCLAUDE_SYNC_URL=http://127.0.0.1:9/nowhere\n"
    )
    line = show(cli, "--with", "cron", "--home", str(account)).splitlines()[2]
    command = line.split(None, 5)[5].replace("\\%", "%")
    done = subprocess.run(
        ["env", "-i", f"HOME={user_home}", "PATH=/usr/bin:/bin", "/bin/sh", "-c", command],
        cwd=user_home,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=240,
        start_new_session=True,  # no controlling terminal, as under cron
        check=False,
    )
    log = account / "logs" / "run.log"
    assert done.returncode == 0, log.read_text() if log.exists() else done.stderr
    assert done.stdout == "" and done.stderr == "", "nothing for cron to mail"
    [got] = receiver.accepted
    assert got.header("X-API-Key") == SECRET_KEY
    text = log.read_text()
    assert "synced" in text and SECRET_KEY not in text and "wrong-key" not in text
    assert file_mode(log) == 0o600
    assert processes_mentioning(profile) == [], "no browser outlived the run"


def test_the_log_stays_bounded_by_rotating_to_one_old_file(cli: CLI, home: Path) -> None:
    from consolescrape.logfile import MAX_BYTES

    log = home / "logs" / "run.log"
    log.parent.mkdir(parents=True)
    log.write_text("x" * MAX_BYTES)
    result = cli("run", "--log-file", str(log))
    assert result.code == 3, "no profile yet"
    assert result.stderr == "", "every line goes to the log"
    assert (home / "logs" / "run.log.1").stat().st_size == MAX_BYTES
    assert "not logged in yet" in log.read_text() and log.stat().st_size < 1024
    cli("run", "--log-file", str(log))
    assert log.read_text().count("not logged in yet") == 2, "appended below the bound"


def test_a_missing_scheduler_is_exit_7_saying_what_to_install(cli: CLI, home: Path) -> None:
    bare = {"PATH": "/nonexistent"}
    cron = cli("schedule", "install", "--with", "cron", "--json", env=bare)
    assert cron.code == 7 and "apt-get install cron" in cron.json["error"]["advice"]
    systemd = cli("schedule", "install", "--with", "systemd", env=bare)
    assert systemd.code == 7 and "systemctl not found" in systemd.stderr
    assert "--with cron" in systemd.stderr
    launchd = cli("schedule", "install", "--with", "launchd", env=bare)
    assert launchd.code == 7 and "launchctl not found" in launchd.stderr
    assert not home.exists(), "nothing written"


def test_no_user_systemd_is_exit_7_naming_cron_and_lingering(
    cli: CLI, home: Path, tmp_path: Path
) -> None:
    assert shutil.which("systemctl"), "install systemd: scripts/install-browser --display does"
    # No user manager to talk to, as in a container or over SSH without lingering.
    gone = {
        "XDG_RUNTIME_DIR": str(tmp_path / "no-runtime"),
        "DBUS_SESSION_BUS_ADDRESS": f"unix:path={tmp_path / 'no-bus'}",
        "HOME": str(tmp_path),
    }
    result = cli("schedule", "install", "--with", "systemd", env=gone)
    assert result.code == 7, result.stderr
    assert "systemd user services are not available here" in result.stderr
    assert "--with cron" in result.stderr and "loginctl enable-linger" in result.stderr
    assert not (tmp_path / ".config" / "systemd").exists()
    default = show(cli, env=gone)
    assert default.startswith("# add to the crontab of "), "without a user manager: cron"


def split_files(out: str) -> dict[str, str]:
    files: dict[str, str] = {}
    for chunk in out.split("# file: ")[1:]:
        path, _, text = chunk.partition("\n")
        files[path] = text
    return files


def test_systemd_units_pass_systemd_analyze_verify(cli: CLI, home: Path, tmp_path: Path) -> None:
    assert shutil.which("systemd-analyze"), "install systemd (scripts/install-browser --display)"
    odd = tmp_path / "my 100% $HOME"  # systemd's own % and $, and a space
    for every, where in (("5", home), ("7", odd), ("1440", home)):
        files = split_files(show(cli, "--with", "systemd", "--every", every, "--home", str(where)))
        units = tmp_path / f"every-{every}"
        units.mkdir()
        for path, text in files.items():
            (units / Path(path).name).write_text(text)
        done = subprocess.run(
            ["systemd-analyze", "verify", *sorted(str(p) for p in units.iterdir())],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0 and done.stderr == "", done.stderr
        text = "".join(files.values())
        assert "Persistent=true" in text and "RandomizedDelaySec=" in text
        assert "TimeoutStartSec=" in text and "network-online" not in text
        assert "OnBootSec" not in text and "OnUnitActiveSec" not in text


Done = subprocess.CompletedProcess[str]


def recorder(answers: dict[str, Done] | None = None) -> tuple[Runner, list[list[str]]]:
    """A runner that records each command and answers from `answers` (by a word in it)."""
    calls: list[list[str]] = []

    def run(argv: list[str], stdin: str | None = None) -> Done:
        calls.append(argv)
        for word, answer in (answers or {}).items():
            if word in argv:
                return answer
        return subprocess.CompletedProcess(argv, 0, "", "")

    return run, calls


def entry_for(home: Path) -> Entry:
    return Entry(program=(PROGRAM,), home=home, every=10, default_home=False)


def test_launchd_agent_is_written_and_bootstrapped_and_removed(tmp_path: Path) -> None:
    run, calls = recorder()
    agents = tmp_path / "LaunchAgents"
    launchd = Launchd(run=run, which=lambda name: f"/bin/{name}", agents_dir=agents, uid=501)
    entry = entry_for(tmp_path / "Application Support" / "consolescrape")
    assert launchd.install(entry) is True
    [plist] = agents.glob("*.plist")
    assert plist.name == f"{entry.label}.plist" and entry.label.startswith("local.consolescrape.")
    agent = plistlib.loads(plist.read_bytes())
    assert (
        agent["ProgramArguments"] == entry.argv()
        and Path(agent["ProgramArguments"][0]).is_absolute()
    )
    assert agent["StartCalendarInterval"] == [{"Minute": m} for m in range(0, 60, 10)]
    assert agent["RunAtLoad"] is True and "StartInterval" not in agent
    assert agent["StandardOutPath"] == agent["StandardErrorPath"] == str(entry.log)
    assert calls == [
        ["launchctl", "bootout", f"gui/501/{entry.label}"],
        ["launchctl", "bootstrap", "gui/501", str(plist)],
    ]
    assert launchd.install(entry) is False, "the same agent again: unchanged, reloaded"
    found = launchd.find(entry)
    assert found is not None and found.times == texts.times_of_day(10)
    calls.clear()
    assert launchd.remove(entry) is True and not plist.exists()
    assert calls == [["launchctl", "bootout", f"gui/501/{entry.label}"]]


def test_a_failed_bootstrap_is_a_config_error_with_the_tools_words(tmp_path: Path) -> None:
    from consolescrape.errors import ConfigError

    failed = subprocess.CompletedProcess(
        ["launchctl"], 5, "", "Bootstrap failed: 5: Input/output error"
    )
    run, _ = recorder({"bootstrap": failed})
    launchd = Launchd(run=run, which=lambda name: name, agents_dir=tmp_path, uid=501)
    with pytest.raises(ConfigError, match="Input/output error") as info:
        launchd.install(entry_for(tmp_path / "h"))
    assert info.value.exit_code == 7


def test_systemd_install_writes_both_units_and_enables_the_timer(tmp_path: Path) -> None:
    running = subprocess.CompletedProcess(["systemctl"], 0, "running\n", "")
    run, calls = recorder({"is-system-running": running})
    systemd = Systemd(run=run, which=lambda name: name, unit_dir=tmp_path / "user")
    entry = entry_for(tmp_path / "h")
    systemd.install(entry)
    assert sorted(p.name for p in (tmp_path / "user").iterdir()) == [
        f"{entry.name}.service",
        f"{entry.name}.timer",
    ]
    assert ["systemctl", "--user", "daemon-reload"] in calls
    assert ["systemctl", "--user", "enable", "--now", f"{entry.name}.timer"] in calls
    found = systemd.find(entry)
    assert found is not None and found.times == texts.times_of_day(10)
    assert systemd.remove(entry) is True and list((tmp_path / "user").iterdir()) == []
    assert ["systemctl", "--user", "disable", "--now", f"{entry.name}.timer"] in calls


# --- the repo's examples are `schedule show` output --------------------------------------------


def examples() -> dict[Path, str]:
    spec = importlib.util.spec_from_loader(
        "write_examples",
        importlib.machinery.SourceFileLoader(
            "write_examples", str(ROOT / "scripts" / "write-examples")
        ),
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    found: dict[Path, str] = module.examples()
    return found


def test_the_committed_examples_are_what_the_script_writes() -> None:
    for path, text in examples().items():
        assert path.read_text() == text, f"run scripts/write-examples ({path.name} drifted)"


@pytest.fixture
def placeholder_user(tmp_path: Path) -> dict[str, str]:
    """A user whose default home and config dirs live in tmp_path (so units get default names)."""
    return {
        "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(tmp_path / ".local" / "share"),
        "XDG_CONFIG_HOME": "",
        "USER": "me",
        "LOGNAME": "me",
        "CONSOLESCRAPE_HOME": "",
    }


def test_the_examples_are_schedule_show_output_paths_aside(
    cli: CLI, tmp_path: Path, placeholder_user: dict[str, str]
) -> None:
    def linux(text: str) -> str:
        return text.replace(PROGRAM, "/home/me/consolescrape/.venv/bin/consolescrape").replace(
            str(tmp_path), "/home/me"
        )

    def mac(text: str) -> str:
        home = str(tmp_path / ".local" / "share" / "consolescrape")
        text = text.replace(PROGRAM, "/Users/me/consolescrape/.venv/bin/consolescrape")
        text = text.replace(home, "/Users/me/Library/Application Support/consolescrape")
        return text.replace(str(tmp_path), "/Users/me")

    env = placeholder_user
    assert linux(show(cli, "--with", "cron", env=env)) == (ROOT / "crontab.example").read_text()
    for path, text in split_files(show(cli, "--with", "systemd", env=env)).items():
        assert linux(text) == (ROOT / "examples" / Path(path).name).read_text()
    [(path, text)] = split_files(show(cli, "--with", "launchd", env=env)).items()
    assert mac(text) == (ROOT / "examples" / Path(path).name).read_text()
    assert os.path.basename(path) == "local.consolescrape.plist"


def test_a_browser_cron_cannot_find_is_named_with_the_setting_to_write(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from consolescrape import config, schedule

    settings = config.load({"home": home})
    assert schedule.unseen_by_cron(settings) == [], "Debian's chromium is in /usr/bin"
    monkeypatch.setattr(schedule, "CRON_PATH", str(tmp_path / "empty"))
    chromium, driver = schedule.unseen_by_cron(settings)
    here = shutil.which("chromedriver")
    assert f"set CONSOLESCRAPE_CHROMEDRIVER={here} in {home / '.env'}" in driver
    assert "CONSOLESCRAPE_CHROME_BINARY=" in chromium
    pinned = config.load({"home": home, "chromedriver": here, "chrome_binary": "/usr/bin/env"})
    assert schedule.unseen_by_cron(pinned) == []


def test_an_env_file_given_to_the_schedule_is_passed_to_every_run(
    cli: CLI, home: Path, tmp_path: Path
) -> None:
    account = tmp_path / "work.env"
    account.write_text("CONSOLESCRAPE_MODEL_ROW=Fable\n")
    doc = json.loads(
        cli("schedule", "show", "--with", "cron", "--env-file", str(account), "--json").stdout
    )
    command = doc["data"]["command"]
    assert command[command.index("--env-file") + 1] == str(account)
