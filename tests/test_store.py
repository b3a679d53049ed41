"""Local files: atomic private writes, the outbox, state and the single-instance lock."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import CLI, SAMPLE, SECRET_KEY, file_mode, tmpfs

from consolescrape import model, store
from consolescrape.errors import Locked


def snapshot(minute: int = 0) -> model.Snapshot:
    return model.from_json(
        {**SAMPLE, "lastUpdated": model.format_time(datetime(2026, 11, 29, 1, minute, tzinfo=UTC))}
    )


def test_write_private_creates_0600_file_and_0700_dir(tmp_path: Path) -> None:
    target = tmp_path / "new" / "data.json"
    store.write_private(target, b"{}")
    assert target.read_bytes() == b"{}"
    assert file_mode(target) == 0o600
    assert file_mode(target.parent) == 0o700


def test_write_private_replaces_atomically_and_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "data.json"
    store.write_private(target, b"old")
    store.write_private(target, b"new")
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["data.json"]


def test_failed_write_keeps_the_previous_file(tmp_path: Path) -> None:
    target = tmp_path / "data.json"
    store.write_private(target, b"previous")

    with pytest.raises(TypeError):  # the write fails half-way: str is not bytes
        store.write_private(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["data.json"]


def test_existing_world_readable_dir_is_tightened(tmp_path: Path) -> None:
    loose = tmp_path / "profile"
    loose.mkdir(mode=0o755)
    loose.chmod(0o755)
    store.private_dir(loose)
    assert file_mode(loose) == 0o700


def test_snapshot_round_trips_through_the_file(tmp_path: Path) -> None:
    path = tmp_path / "usage-data.json"
    store.save_snapshot(path, snapshot())
    assert store.load_snapshot(path) == snapshot()
    assert file_mode(path) == 0o600
    assert store.load_snapshot(tmp_path / "missing.json") is None


def test_outbox_lists_oldest_first_and_keeps_each_id(tmp_path: Path) -> None:
    outbox = store.Outbox(tmp_path / "outbox")
    added = [outbox.add(snapshot(m), f"id{m:02d}")[0] for m in range(5)]
    assert [i.id for i in outbox.pending()] == ["id00", "id01", "id02", "id03", "id04"]
    assert outbox.pending()[0].load() == snapshot(0)
    outbox.remove(added[0])
    assert outbox.pending()[0].id == "id01"
    assert all(file_mode(i.path) == 0o600 for i in outbox.pending())


def test_outbox_cap_drops_the_oldest_and_reports_them(tmp_path: Path) -> None:
    outbox = store.Outbox(tmp_path / "outbox", cap=3)
    dropped = []
    for m in range(5):
        dropped += outbox.add(snapshot(m), f"id{m}")[1]
    assert [i.id for i in dropped] == ["id0", "id1"]
    assert [i.id for i in outbox.pending()] == ["id2", "id3", "id4"]


def test_rejected_items_move_aside_with_their_reason(tmp_path: Path) -> None:
    outbox = store.Outbox(tmp_path / "outbox")
    item, _ = outbox.add(snapshot(), "abc")
    moved = outbox.reject(item, "HTTP 400: Invalid data")
    assert outbox.pending() == []
    assert outbox.rejected() == [moved]
    assert "Invalid data" in moved.with_suffix(".reason.json").read_text()


def test_state_keeps_run_and_sync_separately(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    store.record_outcome(path, "run", {"ok": True})
    store.record_outcome(path, "sync", {"ok": False})
    state = store.load_state(path)
    assert state.run is not None and state.sync is not None
    assert state.run.ok is True and state.sync.ok is False
    assert state.run.at.endswith("Z")
    assert file_mode(path) == 0o600


@pytest.mark.parametrize(
    "doc",
    ['{"run": 1}', '{"run": {"exitCode": "x", "ok": "no"}}', "[]", '"text"', '{"sync": []}'],
)
def test_state_of_any_shape_reads_typed(tmp_path: Path, doc: str) -> None:
    path = tmp_path / "state.json"
    path.write_text(doc)
    state = store.load_state(path)
    assert state.sync is None
    assert state.run is None or (state.run.exit_code == 1 and state.run.ok)


def test_damaged_state_reads_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("{trunc")
    assert store.load_state(path) == store.State()


def test_lock_is_exclusive_across_processes_and_names_the_holder(tmp_path: Path) -> None:
    lock = tmp_path / "run.lock"
    code = (
        "import sys; from pathlib import Path; from consolescrape import store\n"
        "from consolescrape.errors import Locked\n"
        "try:\n"
        "    with store.hold_lock(Path(sys.argv[1])): print('got it')\n"
        "except Locked as e: print(e.message)\n"
    )
    with store.hold_lock(lock):
        other = subprocess.run(
            [sys.executable, "-c", code, str(lock)], capture_output=True, text=True, check=True
        )
        assert f"pid {os.getpid()}" in other.stdout
    again = subprocess.run(
        [sys.executable, "-c", code, str(lock)], capture_output=True, text=True, check=True
    )
    assert again.stdout.strip() == "got it"
    assert int(Locked("x").exit_code) == 8


def test_outbox_order_survives_the_clock_stepping_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outbox = store.Outbox(tmp_path / "outbox")
    outbox.add(snapshot(0), "first")

    class Earlier(datetime):
        @classmethod
        def now(cls, tz: object = None) -> Earlier:
            return cls(2001, 1, 1, tzinfo=UTC)

    monkeypatch.setattr(store, "datetime", Earlier)
    outbox.add(snapshot(1), "second")
    assert [i.id for i in outbox.pending()] == ["first", "second"]


# --- the home: ours, private, and cleared of what a killed run left ------------------------------


def test_a_world_writable_home_is_refused_with_the_fix_not_chmod_ed(
    cli: CLI, tmp_path: Path
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    result = cli("sync", "--home", str(shared), env={"CLAUDE_SYNC_API_KEY": SECRET_KEY})
    assert result.code == 7, result.stderr
    assert "writable by everyone" in result.stderr and "mkdir -m 700" in result.stderr
    assert file_mode(shared) == 0o777 and shared.stat().st_mode & 0o1000, "left as it was"
    assert list(shared.iterdir()) == []


@pytest.mark.skipif(os.getuid() != 0, reason="giving a directory to another user needs root")
def test_a_home_owned_by_someone_else_is_refused(cli: CLI, tmp_path: Path) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, 65534, 65534)
    result = cli("sync", "--home", str(theirs), env={"CLAUDE_SYNC_API_KEY": SECRET_KEY})
    assert result.code == 7
    assert "belongs to uid 65534" in result.stderr


def test_temp_files_left_by_a_killed_write_are_removed_at_start(cli: CLI, home: Path) -> None:
    (home / "outbox").mkdir(parents=True)
    leftovers = [
        home / ".usage-data.json.k2j3h4.tmp",
        home / ".state.json.abc.tmp",
        home / "outbox" / ".0000000001-x.json.q9.tmp",
    ]
    for path in leftovers:
        path.write_text("{half")
    keep = home / "notes.tmp"
    keep.write_text("mine")
    result = cli("sync", env={"CLAUDE_SYNC_API_KEY": SECRET_KEY})
    assert result.code == 0, result.stderr
    assert [p for p in leftovers if p.exists()] == []
    assert keep.exists(), "only our own temp files are removed"


# --- the environment's faults are named, not reported as bugs ---------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs."""
    mount = tmp_path / "disk"
    mount.mkdir()
    with tmpfs(mount, "64k"):
        yield mount


def _fill(directory: Path) -> None:
    fd = os.open(directory / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        with pytest.raises(OSError, match="No space left"):
            _write_forever(fd)
    finally:
        os.close(fd)


def _write_forever(fd: int) -> None:
    while os.write(fd, b"\0" * 4096):
        pass


def test_a_full_disk_is_exit_7_naming_the_path_with_errno_in_json(
    cli: CLI, small_disk: Path
) -> None:
    _fill(small_disk)
    result = cli(
        "sync", "--json", "--home", str(small_disk), env={"CLAUDE_SYNC_API_KEY": SECRET_KEY}
    )
    assert result.code == 7, result.stderr
    assert "internal error" not in result.stderr
    assert str(small_disk) in result.stderr and "free some space" in result.stderr
    error = result.json["error"]
    assert error["errno"] == "ENOSPC" and error["path"].startswith(str(small_disk))


def test_a_read_only_home_is_exit_7_with_the_fix(cli: CLI, small_disk: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    result = cli(
        "sync", "--json", "--home", str(small_disk), env={"CLAUDE_SYNC_API_KEY": SECRET_KEY}
    )
    assert result.code == 7, result.stderr
    assert "read-only" in result.stderr and "CONSOLESCRAPE_HOME" in result.stderr
    assert result.json["error"]["errno"] == "EROFS"


@pytest.mark.parametrize("name", ["state.json", "run.lock"])
def test_a_directory_where_a_file_belongs_is_exit_7_naming_it(
    cli: CLI, home: Path, name: str
) -> None:
    (home / name).mkdir(parents=True)
    result = cli("sync", "--json", env={"CLAUDE_SYNC_API_KEY": SECRET_KEY})
    assert result.code == 7, result.stderr
    assert str(home / name) in result.stderr and "move" in result.stderr
    assert result.json["error"]["errno"] == "EISDIR"
