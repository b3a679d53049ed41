"""history.db: one row per limit per successful scrape, each limit's reset windows, alert state.

SQLite in WAL mode, so `history` and `status` read while a run writes and never hold it up.
Only the commands that use history import this module: `--help` and `sync` never load sqlite3.
What a reset window is, and why one rule decides it, is in the README (section "History,
forecast and alerts").
"""

import contextlib
import os
import shlex
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Self

from consolescrape import model, store
from consolescrape.errors import ConfigError
from consolescrape.windows import Point, Recorded, Window, rows_json, same_window

__all__ = ["History", "HistoryError", "Point", "Recorded", "Window", "rows_json", "same_window"]

# A run imports this module every time, so it is kept cheap to import (benchmarks/history.py):
# records are NamedTuples, not dataclasses (each costs ~0.5 ms to create), and annotations are
# not postponed (NamedTuple compiles each string annotation, ~0.1 ms a field).

#: How long a run waits for a database another program holds before it gives up on history.
BUSY_SECONDS = 1.0
PRUNE_EVERY = timedelta(days=1)
#: A window begun more than this after a reading was begun by a clock that ran ahead; a clock
#: stepped back by NTP (seconds) still finds its window.
CLOCK_SLACK = timedelta(hours=1)


class HistoryError(ConfigError):
    """history.db cannot be used: a run goes on without it and says so in one line (`line`);
    `history` itself cannot, and exits with it (7)."""

    def __init__(self, message: str, advice: str) -> None:
        super().__init__(message, advice)

    def line(self) -> str:
        return f"history not updated: {self.message} (fix: {self.advice})"


# --- time in the database: integer milliseconds, UTC ----------------------------------------------


def _ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


def _ms_span(span: timedelta) -> int:
    return round(span.total_seconds() * 1000)


def _time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _maybe_time(ms: int | None) -> datetime | None:
    return None if ms is None else _time(ms)


# --- schema and migrations -------------------------------------------------------------------


def _v1(db: sqlite3.Connection) -> None:
    for statement in (
        """CREATE TABLE points (
            id INTEGER PRIMARY KEY,
            scraped_at INTEGER NOT NULL,
            limit_key TEXT NOT NULL,
            percent NUMERIC NOT NULL,
            resets_at INTEGER,
            resets_in TEXT NOT NULL,
            source TEXT)""",
        "CREATE INDEX points_by_time ON points (scraped_at)",
        "CREATE INDEX points_by_limit ON points (limit_key, scraped_at)",
        """CREATE TABLE windows (
            id INTEGER PRIMARY KEY,
            limit_key TEXT NOT NULL,
            started_at INTEGER NOT NULL,
            seen_at INTEGER NOT NULL,
            resets_at INTEGER,
            last_percent NUMERIC NOT NULL,
            peak NUMERIC NOT NULL)""",
        "CREATE INDEX windows_by_limit ON windows (limit_key, id)",
        """CREATE TABLE alerts (
            window_id INTEGER NOT NULL,
            kind TEXT NOT NULL,
            threshold NUMERIC NOT NULL,
            recorded_at INTEGER NOT NULL,
            PRIMARY KEY (window_id, kind, threshold)) WITHOUT ROWID""",
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    ):
        db.execute(statement)


#: Schema version N is reached by running MIGRATIONS[N-1]; append, never edit a released step.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_v1]
SCHEMA_VERSION = len(MIGRATIONS)


def _migrate(db: sqlite3.Connection, path: Path) -> None:
    version: int = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise _too_new(path, version)
    for number in range(version + 1, SCHEMA_VERSION + 1):
        with _transaction(db):
            MIGRATIONS[number - 1](db)
            db.execute(f"PRAGMA user_version = {number:d}")


def _too_new(path: Path, version: int) -> HistoryError:
    # A run refuses such a file as well: only a newer consolescrape can read it.
    return HistoryError(
        f"{path} has schema version {version}, newer than this consolescrape knows "
        f"({SCHEMA_VERSION})",
        f"upgrade consolescrape, or move {_quoted(path)} aside",
    )


@contextlib.contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


# --- errors ------------------------------------------------------------------------------------


def _quoted(path: Path) -> str:
    """A path as a shell command needs it (a home with a space in it); shlex loads only here."""

    return shlex.quote(str(path))


def explain(path: Path, exc: BaseException) -> HistoryError:
    """The one line (and its fix) for an error from SQLite or the file system."""
    if isinstance(exc, HistoryError):
        return exc
    text = " ".join(str(exc).split())  # SQLite's integrity report spans lines: keep one
    lowered = text.lower()
    quoted = _quoted(path)
    if "not a database" in lowered or "malformed" in lowered or "corrupt" in lowered:
        aside, wal, shm = (_quoted(Path(f"{path}{end}")) for end in (".broken", "-wal", "-shm"))
        return HistoryError(
            f"{path} is damaged ({text})",
            # Its -wal file belongs to it: left behind, SQLite would replay it into the new one.
            f"mv {quoted} {aside} && rm -f {wal} {shm} — the next run starts anew",
        )
    if "locked" in lowered or "busy" in lowered:
        return HistoryError(
            f"{path} is held by another program ({text})",
            "close whatever has it open (an sqlite3 shell?); the next run catches up",
        )
    if "readonly" in lowered or "read-only" in lowered or isinstance(exc, PermissionError):
        return HistoryError(
            f"{path} cannot be written ({text})",
            f"chmod 600 {quoted} (it and {path.parent} must be yours and writable)",
        )
    return HistoryError(f"{path}: {text}", "`consolescrape doctor` checks it; rerun with --verbose")


# --- the database --------------------------------------------------------------------------------


class History:
    """An open history.db. Writers come from `open_for_writing`, readers from `open_for_reading`."""

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self.db = db
        self.path = path

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing: alert state is committed together with the rows that caused it."""
        try:
            with _transaction(self.db):
                yield
        except sqlite3.Error as exc:
            raise explain(self.path, exc) from exc

    # --- writing ---

    def record(self, snapshot: model.Snapshot) -> list[Recorded]:
        """Append one row per limit of a fresh scrape and carry each limit's window forward."""
        readings = []
        for key, limit in snapshot.limits():
            point = Point(
                snapshot.last_updated,
                key,
                limit.percentage_used,
                limit.resets_at,
                limit.resets_in,
                snapshot.source,
            )
            self.db.execute(
                "INSERT INTO points (scraped_at, limit_key, percent, resets_at, resets_in, source)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    _ms(point.scraped_at),
                    key,
                    point.percent,
                    _ms(point.resets_at) if point.resets_at else None,
                    point.resets_in,
                    point.source,
                ),
            )
            readings.append(self._advance(point))
        return readings

    def _advance(self, point: Point) -> Recorded:
        window = self.current_window(point.limit, point.scraped_at)
        at, resets = _ms(point.scraped_at), _ms(point.resets_at) if point.resets_at else None
        if window is not None and same_window(
            window.resets_at, window.last_percent, point.scraped_at, point.percent, point.resets_at
        ):
            self.db.execute(
                "UPDATE windows SET seen_at = ?, resets_at = coalesce(?, resets_at),"
                " last_percent = ?, peak = max(peak, ?) WHERE id = ?",
                (at, resets, point.percent, point.percent, window.id),
            )
            return Recorded(point, window.id, None)
        cursor = self.db.execute(
            "INSERT INTO windows (limit_key, started_at, seen_at, resets_at, last_percent, peak)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (point.limit, at, at, resets, point.percent, point.percent),
        )
        assert cursor.lastrowid is not None
        return Recorded(point, cursor.lastrowid, window)

    def claim_alert(self, window_id: int, kind: str, threshold: int | float) -> bool:
        """Record an alert before it is sent; False when this window already had it."""
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO alerts (window_id, kind, threshold, recorded_at)"
            " VALUES (?, ?, ?, ?)",
            (window_id, kind, threshold, _ms(datetime.now(UTC))),
        )
        return cursor.rowcount == 1

    def prune(self, days: int, now: datetime | None = None) -> int:
        """Drop rows older than `days` before the newest row we trust, at most once a day (an
        indexed delete); returns the rows removed.

        Trusted is the newest scrape not after `now` except the latest one: that may be a clock
        stepped far ahead (one run 400 days in the future would otherwise prune a year of
        rows). Rows from the future are kept, and a prune dated in the future (by such a clock)
        does not hold off the next one.
        """
        now = now or datetime.now(UTC)
        try:
            row = self.db.execute("SELECT value FROM meta WHERE key = 'pruned_at'").fetchone()
            if row is not None and timedelta(0) <= now - _time(int(row[0])) < PRUNE_EVERY:
                return 0
            trusted = self.db.execute(
                "SELECT DISTINCT scraped_at FROM points WHERE scraped_at <= ?"
                " ORDER BY scraped_at DESC LIMIT 1 OFFSET 1",
                (_ms(now),),
            ).fetchone()
        except sqlite3.Error as exc:
            raise explain(self.path, exc) from exc
        removed = 0
        with self.transaction():
            if trusted is not None:
                cutoff = trusted[0] - _ms_span(timedelta(days=days))
                deleted = self.db.execute("DELETE FROM points WHERE scraped_at < ?", (cutoff,))
                removed = deleted.rowcount
                self.db.execute("DELETE FROM windows WHERE seen_at < ?", (cutoff,))
                self.db.execute(
                    "DELETE FROM alerts WHERE window_id NOT IN (SELECT id FROM windows)"
                )
            self.db.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('pruned_at', ?)",
                (str(_ms(now)),),
            )
        return int(removed)

    # --- reading ---

    def current_window(self, limit: str, at: datetime | None = None) -> Window | None:
        """The limit's latest window; with `at`, the latest one begun by then (a window begun
        by a clock that ran ahead is not the current one once the clock is right again)."""
        query = (
            "SELECT id, limit_key, started_at, seen_at, resets_at, last_percent, peak"
            " FROM windows WHERE limit_key = ?"
        )
        args: tuple[object, ...] = (limit,)
        if at is not None:
            query += " AND started_at <= ?"
            args += (_ms(at + CLOCK_SLACK),)
        row = self.db.execute(query + " ORDER BY id DESC LIMIT 1", args).fetchone()
        if row is None:
            return None
        return Window(
            row[0], row[1], _time(row[2]), _time(row[3]), _maybe_time(row[4]), row[5], row[6]
        )

    def points(
        self, since: datetime, limit: str | None = None, until: datetime | None = None
    ) -> list[Point]:
        """Rows scraped at or after `since` (and, with `until`, not after it: rows a clock ahead
        of time wrote are not the latest), oldest first (one limit, or all)."""
        return list(self.iter_points(since, limit, until))

    def iter_points(
        self, since: datetime, limit: str | None = None, until: datetime | None = None
    ) -> Iterator[Point]:
        """`points`, one at a time: a year of rows is read in bounded memory."""
        query = (
            "SELECT scraped_at, limit_key, percent, resets_at, resets_in, source FROM points"
            " WHERE scraped_at >= ?"
        )
        args: tuple[object, ...] = (_ms(since),)
        if until is not None:
            query += " AND scraped_at <= ?"
            args += (_ms(until),)
        if limit is not None:
            query += " AND limit_key = ?"
            args += (limit,)
        try:
            cursor = self.db.execute(query + " ORDER BY scraped_at, id", args)
            batches = iter(lambda: cursor.fetchmany(4096), [])
            # Rows of one scrape share a time, and a window's rows share a reset time: converting
            # each distinct value once makes a year of rows several times faster to read. The
            # memo is emptied now and then, so it stays small however many rows there are.
            times: dict[int, datetime] = {}
            for batch in batches:
                if len(times) > 4096:
                    times.clear()
                for at, key, percent, resets, text, source in batch:
                    moment = times.get(at)
                    if moment is None:
                        moment = times[at] = _time(at)
                    reset = None
                    if resets is not None:
                        reset = times.get(resets)
                        if reset is None:
                            reset = times[resets] = _time(resets)
                    yield Point(moment, key, percent, reset, text, source)
        except sqlite3.Error as exc:
            raise explain(self.path, exc) from exc

    def window_points(
        self, limit: str, now: datetime | None = None
    ) -> tuple[Window | None, list[Point]]:
        """The limit's current window and its points up to `now` (what a forecast is made
        from)."""
        try:
            window = self.current_window(limit, now)
        except sqlite3.Error as exc:
            raise explain(self.path, exc) from exc
        if window is None:
            return None, []
        return window, self.points(window.started_at, limit, now)


#: The files SQLite opens next to the database; each must be a regular file of ours, or absent.
SIDECARS = ("-wal", "-shm", "-journal")


def present(path: Path) -> bool:
    """Whether history.db exists; HistoryError when it or a sidecar is not a regular file of
    ours. Looked at before SQLite opens anything: SQLite follows a symlink (a database outside
    the home, or someone else's 0644 file made one), and opening a FIFO waits for a writer
    forever (retried through signals, so even SIGTERM cannot end it)."""

    try:
        for sidecar in SIDECARS:
            store.check_regular(path.with_name(path.name + sidecar))
        return store.check_regular(path)
    except store.NotOurFile as exc:
        raise HistoryError(exc.message, exc.advice or "") from None


def _create_private(path: Path) -> None:
    """Create the file 0600 before SQLite does (its -wal and -shm files copy this mode), or
    tighten one of ours that others could read."""

    store.private_dir(path.parent)
    fd = store.open_regular(path, os.O_RDWR | os.O_CREAT)
    try:
        if os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


def open_for_writing(path: Path) -> History:
    """Open (creating and migrating) history.db for a run; every failure is a HistoryError."""

    try:
        present(path)
        _create_private(path)
        db = sqlite3.connect(path, timeout=BUSY_SECONDS, isolation_level=None)
    except store.NotOurFile as exc:
        raise HistoryError(exc.message, exc.advice or "") from None
    except (OSError, sqlite3.Error) as exc:
        raise explain(path, exc) from exc
    try:
        db.execute("PRAGMA journal_mode = WAL")
        # In WAL mode NORMAL is safe against a crash of this process (a SIGKILL), which is the
        # case alert state has to survive; only a power cut can lose the last transaction.
        db.execute("PRAGMA synchronous = NORMAL")
        _migrate(db, path)
    except (OSError, sqlite3.Error, HistoryError) as exc:
        db.close()
        raise explain(path, exc) from exc
    return History(db, path)


def open_for_reading(path: Path) -> History | None:
    """Open history.db read-only (None when there is none yet); never waits on a writer."""
    if not present(path):
        return None
    try:
        db = sqlite3.connect(path.absolute().as_uri() + "?mode=ro", uri=True, timeout=BUSY_SECONDS)
        version: int = db.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.Error as exc:
        raise explain(path, exc) from exc
    if version != SCHEMA_VERSION:
        db.close()
        if version == 0:
            return None  # created, not yet migrated: nothing recorded
        if version > SCHEMA_VERSION:
            raise _too_new(path, version)
        raise HistoryError(
            f"{path} has schema version {version}, this consolescrape reads {SCHEMA_VERSION}",
            "run `consolescrape run` once: it upgrades the file",
        )
    return History(db, path)


def check(path: Path) -> str:
    """For `doctor`: prove the database is readable, intact and writable; raises HistoryError."""
    with open_for_writing(path) as history:
        try:
            verdict = history.db.execute("PRAGMA quick_check(1)").fetchone()[0]
            if verdict != "ok":
                raise sqlite3.DatabaseError(f"database disk image is malformed: {verdict}")
            with _transaction(history.db):
                history.db.execute("INSERT OR REPLACE INTO meta VALUES ('doctor', 'probe')")
                history.db.execute("DELETE FROM meta WHERE key = 'doctor'")
            count: int = history.db.execute("SELECT count(*) FROM points").fetchone()[0]
        except sqlite3.Error as exc:
            raise explain(path, exc) from exc
    return f"{count} rows, schema version {SCHEMA_VERSION}"
