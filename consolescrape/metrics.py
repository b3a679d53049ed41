"""The Prometheus textfile (node_exporter's textfile collector), rewritten after every run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from consolescrape import model, store


@dataclass(frozen=True)
class Reading:
    """What one run knows: the latest snapshot (maybe older than this run) and how it ended."""

    snapshot: model.Snapshot | None
    exit_code: int
    outbox_items: int


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


def render(reading: Reading) -> str:
    """The whole file: each family with # HELP and # TYPE, usage per limit when there is data."""
    from consolescrape.history import limits

    found = limits(reading.snapshot) if reading.snapshot else []
    lines = _family(
        "consolescrape_usage_percent",
        "Percent of the usage limit used, as last read from the usage page.",
        [(f'{{limit="{escape(key)}"}}', limit.percentage_used) for key, limit in found],
    )
    lines += _family(
        "consolescrape_usage_resets_at_seconds",
        "When the usage limit resets, Unix time (limits whose reset has no time are left out).",
        [
            (f'{{limit="{escape(key)}"}}', _seconds(limit.resets_at))
            for key, limit in found
            if limit.resets_at is not None
        ],
    )
    if reading.snapshot is not None:
        lines += _family(
            "consolescrape_last_success_timestamp_seconds",
            "When the usage page was last read successfully, Unix time.",
            [("", _seconds(reading.snapshot.last_updated))],
        )
    lines += _family(
        "consolescrape_last_run_exit_code",
        "Exit code of the last `consolescrape run` (0 = saved and synced).",
        [("", reading.exit_code)],
    )
    lines += _family(
        "consolescrape_outbox_items",
        "Snapshots queued in the outbox, not yet accepted by the server.",
        [("", reading.outbox_items)],
    )
    return "\n".join(lines) + "\n"


def write(path: Path, text: str) -> None:
    """Replace `path` atomically, mode 0644: node_exporter runs as its own user and must read it.

    Its directory is not created: a typo in the path is then a warning, not a new directory.
    """
    store.write_atomic(path, text.encode(), mode=0o644)
