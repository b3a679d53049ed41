"""The Prometheus textfile (node_exporter's textfile collector), rewritten after every run."""

from __future__ import annotations

import contextlib
import errno
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from consolescrape import model, store


@dataclass(frozen=True)
class RunMetrics:
    """What one run knows: the latest snapshot (maybe older than this run) and how it ended."""

    snapshot: model.Snapshot | None
    exit_code: int
    outbox_items: int
    #: the home (one per account) the run belongs to: every sample carries it as `home`, so
    #: the files of several accounts in one textfile directory never collide.
    home: str | None = None


class SharedFile(OSError):
    """The metrics file holds another live home's samples: two accounts must not share one."""


def escape(value: str) -> str:
    """A label value in the exposition format: backslash, double quote and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    """Whole numbers without a fraction or an exponent (a Unix time must keep every digit)."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _family(name: str, help_text: str, samples: Sequence[tuple[str, float]]) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
    lines += [f"{name}{labels} {_number(value)}" for labels, value in samples]
    return lines


def _seconds(moment: datetime) -> float:
    return round(moment.timestamp(), 3)


def _labels(reading: RunMetrics, **labels: str) -> str:
    """`{home="…",limit="…"}` (the home first, when known), or nothing without labels."""
    pairs = ({"home": reading.home} if reading.home is not None else {}) | labels
    inner = ",".join(f'{name}="{escape(value)}"' for name, value in pairs.items())
    return f"{{{inner}}}" if inner else ""


def render(reading: RunMetrics) -> str:
    """The whole file: each family with # HELP and # TYPE, usage per limit when there is data."""
    found = reading.snapshot.limits() if reading.snapshot else []
    lines = _family(
        "consolescrape_usage_percent",
        "Percent of the usage limit used, as last read from the usage page.",
        [(_labels(reading, limit=key), limit.percentage_used) for key, limit in found],
    )
    lines += _family(
        "consolescrape_usage_resets_at_seconds",
        "When the usage limit resets, Unix time (limits whose reset has no time are left out).",
        [
            (_labels(reading, limit=key), _seconds(limit.resets_at))
            for key, limit in found
            if limit.resets_at is not None
        ],
    )
    if reading.snapshot is not None:
        lines += _family(
            "consolescrape_last_success_timestamp_seconds",
            "When the usage page was last read successfully, Unix time.",
            [(_labels(reading), _seconds(reading.snapshot.last_updated))],
        )
    lines += _family(
        "consolescrape_last_run_exit_code",
        "Exit code of the last `consolescrape run` (0 = saved and synced).",
        [(_labels(reading), reading.exit_code)],
    )
    lines += _family(
        "consolescrape_outbox_items",
        "Snapshots queued in the outbox, not yet accepted by the server.",
        [(_labels(reading), reading.outbox_items)],
    )
    return "\n".join(lines) + "\n"


_HOME_LABEL = re.compile(r'\{home="((?:[^"\\]|\\.)*)"')


def home_of(text: str) -> str | None:
    """The home a metrics file's samples name, if any."""
    found = _HOME_LABEL.search(text)
    if found is None:
        return None
    value = found[1]
    return re.sub(r"\\(.)", lambda m: "\n" if m[1] == "n" else m[1], value)


def write(path: Path, text: str) -> None:
    """Replace `path` atomically, mode 0644: node_exporter runs as its own user and must read it.

    Its directory is not created: a typo in the path is then a warning, not a new directory.
    A file another home still uses (its samples name a home that exists) is not overwritten:
    two accounts sharing one file would each erase the other's numbers every run.
    """
    ours, other = home_of(text), None
    if ours is not None:
        with contextlib.suppress(OSError, ValueError):  # none yet, or not ours to read: write it
            other = home_of(store.read_bounded(path, 1024 * 1024).decode())
    if other is not None and other != ours and Path(other).is_dir():
        raise SharedFile(
            errno.EEXIST,
            f"it holds the numbers of the home {other}; give each home its own file in the "
            "textfile directory (e.g. consolescrape-<account>.prom)",
        )
    store.write_atomic(path, text.encode(), mode=0o644)
