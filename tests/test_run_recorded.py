"""Whatever ends a run is what state.json and the metrics file say, and then `status --check`
fails: a full disk (a real tmpfs home that fills up), a bad setting in .env, an error that the
metrics writer could once replace, and a run whose outcome could not be written at all."""

from __future__ import annotations

import contextlib
import errno
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import (
    CLI,
    SAMPLE,
    metric_samples,
    sync_env,
    tmpfs,
    write_snapshot,
)
from support.receiver import ScriptedReceiver

from consolescrape import headroom, model

# Views, parsing and JSON run in this process; run, sync and login in their own (inprocess.py).
pytestmark = pytest.mark.inprocess


def metric(path: Path, name: str = "consolescrape_last_run_exit_code") -> str:
    return metric_samples(path)[name]


def last_run(home: Path) -> dict[str, object]:
    run: dict[str, object] = json.loads((home / "state.json").read_text())["run"]
    return run


@pytest.fixture
def small_disk(home: Path) -> Iterator[Path]:
    """The home on its own 4 MiB tmpfs."""
    home.mkdir(parents=True)
    with tmpfs(home, "4m"):
        yield home


def fill(directory: Path) -> Path:
    """Write a file in `directory` until its file system is full."""
    filler = directory / f"filler-{len(list(directory.glob('filler-*')))}"
    with open(filler, "wb", buffering=0) as handle, contextlib.suppress(OSError):
        while True:
            handle.write(b"\0" * 4096)
    probe = directory / "probe"
    with pytest.raises(OSError, match="No space left on device") as full:
        probe.write_bytes(b"x" * 8192)
    assert full.value.errno == errno.ENOSPC
    probe.unlink(missing_ok=True)
    return filler


def test_a_full_disk_is_recorded_as_the_failure_it_is_and_status_check_fails(
    cli: CLI,
    small_disk: Path,
    oauth_env: dict[str, str],
    receiver: ScriptedReceiver,
) -> None:
    home = small_disk
    (home / "metrics").mkdir()
    prom = home / "metrics" / "consolescrape.prom"
    env = {**oauth_env, "CONSOLESCRAPE_METRICS_FILE": str(prom), **sync_env(receiver)}
    assert cli("run", env=env).code == 0
    assert (home / headroom.RESERVE).stat().st_size == headroom.SIZE
    assert cli("status", "--check", env=env).code == 0

    fill(home)
    full = cli("run", "--json", env=env)
    assert full.code == 7, full.stderr
    assert "NOT queued" in full.stderr and "No space left on device" in full.stderr
    assert full.json["exitCode"] == 7 and full.json["error"]["errno"] == "ENOSPC"
    assert last_run(home)["exitCode"] == 7, "recorded in the space held back for it"
    assert metric(prom) == "7"
    check = cli("status", "--check", env=env)
    assert check.code == 9 and "last run failed (exit 7)" in check.stdout, check.stderr
    assert len(receiver.accepted) == 1, "nothing half-written was sent"

    # Still full, and the reserve is spent: the run cannot record itself, and says so.
    fill(home)
    again = cli("run", env=env)
    assert again.code == 7, again.stderr
    assert f"this run is not recorded in {home / 'state.json'}" in again.stderr
    assert cli("status", "--check", env=env).code == 9, "the last record is a failure still"

    for filler in home.glob("filler-*"):
        filler.unlink()
    assert cli("run", env=env).code == 0
    assert last_run(home)["exitCode"] == 0 and metric(prom) == "0"
    assert cli("status", "--check", env=env).code == 0
    assert (home / headroom.RESERVE).exists(), "held back again once there was room"


def test_a_bad_setting_in_env_is_recorded_with_its_exit_code_and_pinged(
    cli: CLI, home: Path, tmp_path: Path, oauth_env: dict[str, str], receiver: ScriptedReceiver
) -> None:
    prom = tmp_path / "consolescrape.prom"
    env = oauth_env
    home.mkdir(parents=True, mode=0o700)
    settings = (
        f"CONSOLESCRAPE_METRICS_FILE={prom}\n"
        f"CONSOLESCRAPE_HEALTHCHECK_URL={receiver.base_url}/ping/abc\n"
    )
    (home / ".env").write_text(settings)
    assert cli("run", env=env).code == 0
    assert last_run(home)["exitCode"] == 0 and metric(prom) == "0"

    (home / ".env").write_text(settings + "CONSOLESCRAPE_TIMEOUT=90s\n")
    result = cli("run", "--json", env=env)
    assert result.code == 7 and "CONSOLESCRAPE_TIMEOUT" in result.stderr, result.stderr
    recorded = last_run(home)
    assert recorded["exitCode"] == 7 and "CONSOLESCRAPE_TIMEOUT" in str(recorded["message"])
    assert metric(prom) == "7"
    assert [r.path for r in receiver.received] == ["/ping/abc", "/ping/abc/fail"]
    assert cli("status", "--check", env=env).code != 0


def test_the_metrics_writer_never_replaces_the_error_that_ended_the_run(
    cli: CLI, home: Path, tmp_path: Path
) -> None:
    prom = tmp_path / "consolescrape.prom"
    (home / "usage-data.json").mkdir(parents=True)  # unreadable to whoever re-reads it
    result = cli("run", "--json", env={"CONSOLESCRAPE_METRICS_FILE": str(prom)})
    assert result.code == 3, result.stderr
    assert result.json["exitCode"] == 3 and "not logged in yet" in result.json["error"]["message"]
    assert last_run(home)["exitCode"] == 3
    assert metric(prom) == "3"


def test_data_newer_than_the_last_recorded_run_fails_the_check(cli: CLI, home: Path) -> None:
    # What a run leaves when it saved its snapshot and then could not write state.json.
    now = datetime.now(UTC)
    write_snapshot(home / "usage-data.json", SAMPLE, lastUpdated=model.format_time(now))
    earlier = model.format_time(now - timedelta(minutes=5))
    state = {"run": {"at": earlier, "ok": True, "exitCode": 0, "message": "synced"}}
    (home / "state.json").write_text(json.dumps(state))
    os.chmod(home / "state.json", 0o600)
    result = cli("status", "--check")
    assert result.code == 9, result.stderr
    assert "the last run is not recorded" in result.stdout
