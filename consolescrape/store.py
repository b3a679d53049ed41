"""Files under <home>: atomic private writes, the snapshot, the outbox, state and the lock."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from consolescrape import model
from consolescrape.errors import Locked


def private_dir(path: Path) -> Path:
    """Create `path` (and parents) with mode 0700 for the leaf; tighten it if it exists."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)
    return path


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_private(path: Path, data: bytes) -> None:
    """Atomically replace `path` with `data`, mode 0600 from creation (never world-readable)."""
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    _fsync_dir(directory)


def write_json(path: Path, doc: Any) -> None:
    write_private(path, (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode())


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


# --- the latest snapshot -----------------------------------------------------------------------


def save_snapshot(path: Path, snapshot: model.Snapshot) -> None:
    write_json(path, model.to_json(snapshot))


def load_snapshot(path: Path) -> model.Snapshot | None:
    """The saved snapshot, or None when there is none (a damaged file raises ValueError)."""
    try:
        doc = read_json(path)
    except FileNotFoundError:
        return None
    return model.from_json(doc)


# --- the outbox --------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutboxItem:
    path: Path

    @property
    def queued_at(self) -> datetime | None:
        """When the item was queued (from its name), for display."""
        try:
            stamp = self.path.name.split("-")[1]
            return datetime.strptime(stamp, "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)
        except (IndexError, ValueError):
            return None

    @property
    def id(self) -> str:
        """The idempotency id, fixed when the item was queued (part of the file name)."""
        return self.path.stem.rsplit("-", 1)[-1]

    def load(self) -> model.Snapshot:
        return model.from_json(read_json(self.path))


class Outbox:
    """One file per snapshot not yet accepted by the server; names sort oldest first."""

    def __init__(self, directory: Path, cap: int = 500) -> None:
        self.directory = directory
        self.rejected_dir = directory / "rejected"
        self.cap = cap

    def add(self, snapshot: model.Snapshot, item_id: str) -> tuple[OutboxItem, list[OutboxItem]]:
        """Queue a snapshot; returns it and the oldest items dropped to stay within the cap."""
        private_dir(self.directory)
        # A sequence number orders the queue: the wall clock can step back (NTP), and then an
        # older snapshot would be delivered after a newer one. The time is for people to read.
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path = self.directory / f"{self._next_sequence():010d}-{stamp}-{item_id}.json"
        write_json(path, model.to_json(snapshot))
        item = OutboxItem(path)
        dropped: list[OutboxItem] = []
        pending = self.pending()
        while len(pending) > self.cap:
            oldest = pending.pop(0)
            with contextlib.suppress(FileNotFoundError):
                oldest.path.unlink()
            dropped.append(oldest)
        return item, dropped

    def _next_sequence(self) -> int:
        numbers = [int(p.name.split("-", 1)[0]) for p in self.directory.glob("[0-9]*-*.json")]
        return max(numbers, default=0) + 1

    def pending(self) -> list[OutboxItem]:
        if not self.directory.is_dir():
            return []
        return [OutboxItem(p) for p in sorted(self.directory.glob("*.json"))]

    def remove(self, item: OutboxItem) -> None:
        with contextlib.suppress(FileNotFoundError):
            item.path.unlink()
        _fsync_dir(self.directory)

    def reject(self, item: OutboxItem, reason: str) -> Path:
        """Move an item the server refused aside, with the reason next to it."""
        private_dir(self.rejected_dir)
        target = self.rejected_dir / item.path.name
        write_json(target.with_suffix(".reason.json"), {"reason": reason})
        os.replace(item.path, target)
        _fsync_dir(self.directory)
        return target

    def rejected(self) -> list[Path]:
        if not self.rejected_dir.is_dir():
            return []
        return sorted(p for p in self.rejected_dir.glob("*.json") if ".reason" not in p.name)


# --- state.json --------------------------------------------------------------------------------


def load_state(path: Path) -> dict[str, Any]:
    try:
        doc = read_json(path)
    except (FileNotFoundError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def record_outcome(path: Path, command: str, outcome: dict[str, Any]) -> None:
    """Store the last outcome of `run` or `sync` (time, ok, exit code, message, durations)."""
    state = load_state(path)
    state[command] = {"at": model.format_time(datetime.now(UTC)), **outcome}
    write_json(path, state)


# --- the single-instance lock ------------------------------------------------------------------


@contextlib.contextmanager
def hold_lock(path: Path) -> Iterator[None]:
    """Hold <home>/run.lock for the duration; a second holder gets `Locked` at once (exit 8)."""
    private_dir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise Locked(
                f"another consolescrape (pid {holder}) is running",
                "nothing to do: it will finish on its own; this run changed nothing",
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)
