"""Files under <home>: atomic private writes, the snapshot, the outbox, state and the lock."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import shlex
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from consolescrape import model
from consolescrape.errors import ConfigError, EnvironmentFault, Locked


def private_dir(path: Path) -> Path:
    """Create `path` (and parents) with mode 0700 for the leaf; tighten it if it exists."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)
    return path


# --- files under the home: regular files of ours, or a clear error -------------------------------


#: What each kind of non-regular file is called, and the errno that stands for it in --json.
_KINDS = (
    (stat.S_ISLNK, "a symbolic link", errno.ELOOP),
    (stat.S_ISDIR, "a directory", errno.EISDIR),
    (stat.S_ISFIFO, "a FIFO (named pipe)", errno.ENXIO),
    (stat.S_ISSOCK, "a socket", errno.ENXIO),
    (stat.S_ISCHR, "a device", errno.ENXIO),
    (stat.S_ISBLK, "a device", errno.ENXIO),
)


class NotOurFile(EnvironmentFault):
    """Something other than a regular file of ours (a link, a directory, a FIFO, a device, another
    user's file) where the home keeps one of its files: never followed, opened or waited on."""

    def __init__(self, path: Path, what: str, errno: int | None) -> None:
        aside = shlex.quote(f"{path}.aside")
        super().__init__(
            f"{path} is {what}, not a regular file of yours",
            f"move it out of the way (mv {shlex.quote(str(path))} {aside}); "
            "consolescrape creates it anew",
            path=str(path),
            errno=errno,
        )


def _refuse_unless_ours(path: Path, info: os.stat_result) -> None:
    for test, what, number in _KINDS:
        if test(info.st_mode):
            raise NotOurFile(path, what, number)
    if info.st_uid != os.getuid():
        raise NotOurFile(path, f"owned by uid {info.st_uid}", errno.EPERM)


def check_regular(path: Path) -> bool:
    """Whether `path` exists as a regular file of ours (False: absent); `NotOurFile` otherwise.

    Looked at with lstat, so a symlink is never followed and a FIFO never opened.
    """
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return False
    _refuse_unless_ours(path, info)
    return True


def open_regular(path: Path, flags: int, mode: int = 0o600) -> int:
    """`os.open` for a file the home keeps: never follows a symlink, never blocks (a FIFO), and
    returns only a descriptor of a regular file of ours; `NotOurFile` otherwise."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY, mode)
    except OSError as exc:
        what = {
            errno.ELOOP: "a symbolic link",
            errno.EISDIR: "a directory",
            errno.ENXIO: "a FIFO (named pipe)",
        }.get(exc.errno or 0)
        if what is None:
            exc.filename, exc.filename2 = str(path), None
            raise
        raise NotOurFile(path, what, exc.errno) from None
    try:
        _refuse_unless_ours(path, os.fstat(fd))
    except BaseException:
        os.close(fd)
        raise
    return fd


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def concerning(path: Path) -> Iterator[None]:
    """Name `path` in an OSError that does not say which file failed (a write, an fsync, a
    replace of a temp file), so the user is told what to fix."""
    try:
        yield
    except OSError as exc:
        exc.filename, exc.filename2 = str(path), None
        raise


def write_private(path: Path, data: bytes) -> None:
    """Atomically replace `path` with `data`, mode 0600 from creation (never world-readable)."""
    with concerning(path):
        _write_private(path, data)


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_atomic(path, data, mode=0o600)


def write_atomic(path: Path, data: bytes, *, mode: int, durable: bool = True) -> None:
    """Replace `path` with `data` all at once (a temp file in its directory, fsync, rename).

    The temp file is created 0600 and given `mode` before the rename; its name starts with a
    dot and ends in .tmp, so no reader (a collector reading *.prom) ever sees half a file.
    `durable=False` skips the fsyncs, for a file that matters only until the machine stops.
    """
    # Imported here: readers of the home (`status --line`, every second in a bar) never write.
    import tempfile

    directory = path.parent
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if mode != 0o600:
                os.fchmod(handle.fileno(), mode)
            if durable:
                os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    if durable:
        _fsync_dir(directory)


def write_json(path: Path, doc: Any) -> None:
    write_private(path, (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode())


#: Snapshots are read up to this size: a little more than the server takes (a local file keeps a
#: few extra keys), so /dev/zero or a 1 GB file is refused at once, in bounded memory.
MAX_SNAPSHOT_BYTES = model.MAX_BODY_BYTES + 28 * 1024


class Unreadable(ValueError):
    """A file that cannot be a snapshot: not a regular file, too large, not JSON, not valid."""


def read_bounded(path: Path, limit: int = MAX_SNAPSHOT_BYTES) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; anything else is `Unreadable`."""
    # O_NONBLOCK: opening a FIFO would otherwise wait forever for a writer.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise Unreadable(f"{path} is not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            raw = handle.read(limit + 1)
    finally:
        os.close(fd)
    if len(raw) > limit:
        raise Unreadable(f"{path} is larger than {limit // 1024} KiB: not a usage snapshot")
    return raw


def parse_snapshot(raw: bytes, name: str) -> model.Snapshot:
    """A snapshot from a file's bytes; every way it can be wrong is `Unreadable` with why."""
    try:
        doc = json.loads(raw)
    except RecursionError:
        raise Unreadable(f"{name} is nested too deeply to be a snapshot") from None
    except ValueError as exc:  # includes bytes that are not UTF-8
        raise Unreadable(f"{name} is not valid JSON: {exc}") from None
    try:
        return model.from_json(doc)
    except model.ContractViolation as exc:
        raise Unreadable(f"{name} is not a usage snapshot: {'; '.join(exc.problems)}") from None
    except (OverflowError, RecursionError) as exc:  # e.g. year 1 at +05:00 is before year 1 UTC
        raise Unreadable(f"{name} holds an impossible value: {exc}") from None


def read_snapshot(path: Path) -> model.Snapshot:
    """Read a snapshot file (bounded, parsed, checked); `Unreadable` or OSError otherwise."""
    return parse_snapshot(read_bounded(path), str(path))


def read_json(path: Path) -> Any:
    return json.loads(read_bounded(path, 1024 * 1024))


# --- the latest snapshot -----------------------------------------------------------------------


def save_snapshot(path: Path, snapshot: model.Snapshot) -> None:
    write_json(path, model.to_json(snapshot))


def load_snapshot(path: Path) -> model.Snapshot | None:
    """The saved snapshot, or None when there is none (a damaged file raises ValueError)."""
    try:
        return read_snapshot(path)
    except FileNotFoundError:
        return None


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
        return parse_snapshot(read_bounded(self.path), self.path.name)


_SEQUENCE = re.compile(r"^([0-9]{1,18})-")


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
        # Only our own names count: a stray `1x-copy.json` must not stop every run. rejected/
        # counts too, so what is set aside keeps its order there (its cap drops the oldest).
        names = [p.name for p in self.directory.iterdir()] + [p.name for p in self.rejected()]
        numbers = [int(m[1]) for name in names if (m := _SEQUENCE.match(name))]
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
        self._trim_rejected()
        return target

    def _trim_rejected(self) -> list[Path]:
        """Keep rejected/ within the outbox's cap: a server that refuses everything must not
        fill the disk. The oldest go first, each with its reason, and the log says so."""
        kept = self.rejected()
        dropped = kept[: max(0, len(kept) - self.cap)]
        for path in dropped:
            for file in (path, path.with_suffix(".reason.json")):
                with contextlib.suppress(FileNotFoundError):
                    file.unlink()
        if dropped:
            import logging  # here only: `status --line` reads this module and logs nothing

            logging.getLogger(__name__).warning(
                f"outbox/rejected/ over its cap of {self.cap}: dropped the {len(dropped)} oldest "
                "refused snapshot(s)"
            )
        return dropped

    def rejected(self) -> list[Path]:
        if not self.rejected_dir.is_dir():
            return []
        return sorted(p for p in self.rejected_dir.glob("*.json") if ".reason" not in p.name)


# --- state.json --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """The last outcome of one command as state.json keeps it (read back typed, any shape)."""

    at: str
    ok: bool
    exit_code: int
    message: str
    #: the error's own advice, recorded with it (older files have none)
    advice: str | None = None
    #: for a `run`: the error of its own sync phase, if that is where it failed
    sync_error: str | None = None
    #: everything the file holds for it, for `status --json`
    doc: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def from_json(cls, doc: object) -> Record | None:
        if not isinstance(doc, dict):
            return None
        code = doc.get("exitCode")
        inner = doc.get("sync")
        sync_error = inner.get("error") if isinstance(inner, dict) else None
        advice = doc.get("advice")
        return cls(
            at=str(doc.get("at") or ""),
            ok=doc.get("ok") is not False,
            exit_code=code if isinstance(code, int) and not isinstance(code, bool) else 1,
            message=str(doc.get("message") or ""),
            advice=advice if isinstance(advice, str) else None,
            sync_error=str(sync_error) if sync_error is not None else None,
            doc=doc,
        )


@dataclass(frozen=True)
class State:
    """state.json: the last `run`, the last `sync`, the newest snapshot delivered."""

    run: Record | None = None
    sync: Record | None = None
    newest_delivered: str | None = None
    #: the last command that got snapshots accepted by the server (older files have none)
    delivery: Record | None = None

    @property
    def run_resolved(self) -> bool:
        """The last run failed only in its sync phase, and a later `sync` succeeded: the problem
        (a refused key, an outage) is over, and its snapshot was delivered with the rest."""
        run, sync = self.run, self.sync
        if run is None or sync is None or run.ok or run.sync_error is None:
            return False
        return sync.ok and sync.at > run.at

    @property
    def last_sync(self) -> Record | None:
        """The newer of the last `sync` and the sync phase of the last `run`."""
        candidates = [self.sync] if self.sync is not None else []
        run = self.run
        if run is not None and isinstance(run.doc.get("sync"), dict):
            ok = run.sync_error is None
            message = run.message if ok else str(run.sync_error)
            doc = {"at": run.at, "ok": ok, "exitCode": run.exit_code, "message": message}
            candidates.append(Record(run.at, ok, run.exit_code, message, doc=doc))
        return max(candidates, key=lambda record: record.at, default=None)

    @property
    def last_delivery(self) -> Record | None:
        """The last successful delivery, kept across later failures (what `Last sync` shows)."""
        if self.delivery is not None:
            return self.delivery
        latest = self.last_sync  # a file written before deliveries were recorded
        return latest if latest is not None and latest.ok else None


def _state_doc(path: Path) -> dict[str, Any]:
    try:
        doc = read_json(path)
    except (FileNotFoundError, ValueError, RecursionError):
        return {}
    return doc if isinstance(doc, dict) else {}


def load_state(path: Path) -> State:
    doc = _state_doc(path)
    newest = doc.get("newestDelivered")
    return State(
        run=Record.from_json(doc.get("run")),
        sync=Record.from_json(doc.get("sync")),
        newest_delivered=newest if isinstance(newest, str) else None,
        delivery=Record.from_json(doc.get("lastDelivery")),
    )


def record_outcome(path: Path, command: str, outcome: dict[str, Any]) -> None:
    """Store the last outcome of `run` or `sync` (time, ok, exit code, message, durations)."""
    state = _state_doc(path)
    state[command] = {"at": model.format_time(datetime.now(UTC)), **outcome}
    write_json(path, state)


def record_delivered(path: Path, last_updated: str, count: int = 1) -> None:
    """Keep the `lastUpdated` of the newest snapshot the server has accepted from this home,
    and when that delivery happened (a later failed run or sync does not erase it)."""
    state = _state_doc(path)
    state["newestDelivered"] = max(str(state.get("newestDelivered") or ""), last_updated)
    state["lastDelivery"] = {
        "at": model.format_time(datetime.now(UTC)),
        "ok": True,
        "exitCode": 0,
        "message": f"delivered {count} snapshot(s), the newest from {last_updated}",
        "sent": count,
    }
    write_json(path, state)


def newest_delivered(path: Path) -> str | None:
    return load_state(path).newest_delivered


# --- the single-instance lock ------------------------------------------------------------------


def check_home(home: Path) -> None:
    """Refuse a home others could write to or that is not ours; it is never chmod-ed for them.

    A shared 1777 directory (the system temp dir itself) would be tightened to 0700 under every
    other user of it, and anyone who can write there can swap our files.
    """
    try:
        info = home.stat()
    except FileNotFoundError:
        return  # created 0700 when first used
    fix = (
        f"use a directory of your own: mkdir -m 700 {shlex.quote(str(home / 'consolescrape'))} "
        "and pass it as --home (or CONSOLESCRAPE_HOME)"
    )
    if info.st_uid != os.getuid():
        raise ConfigError(f"home {home} belongs to uid {info.st_uid}, not to you", fix)
    if info.st_mode & 0o002:
        raise ConfigError(
            f"home {home} is writable by everyone (mode {info.st_mode & 0o7777:o})", fix
        )


def remove_leftovers(home: Path) -> list[Path]:
    """Remove temp files of atomic writes cut short (SIGKILL, power loss); call under the lock,
    so no live write of ours is among them."""
    removed = []
    for directory in (home, home / "outbox", home / "outbox" / "rejected"):
        if directory.is_dir():
            for temp in directory.glob(".*.tmp"):
                with contextlib.suppress(FileNotFoundError):
                    if temp.is_file():
                        temp.unlink()
                        removed.append(temp)
    return removed


@contextlib.contextmanager
def hold_home(home: Path) -> Iterator[None]:
    """Check the home, hold its lock, and clear what a killed run left: how every writer starts."""
    check_home(home)
    with hold_lock(home / "run.lock"):
        remove_leftovers(home)
        yield


@contextlib.contextmanager
def hold_lock(
    path: Path,
    *,
    doing: str = "is running",
    advice: str = "nothing to do: it will finish on its own; this run changed nothing",
) -> Iterator[None]:
    """Hold a lock file for the duration; a second holder gets `Locked` at once (exit 8),
    naming the pid that holds it and what it `doing`."""
    with concerning(path):
        private_dir(path.parent)
    # A directory (or a FIFO) there would otherwise fail later in words that blame something else.
    fd = open_regular(path, os.O_RDWR | os.O_CREAT)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise Locked(f"another consolescrape (pid {holder}) {doing}", advice) from None
        with concerning(path):
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)
