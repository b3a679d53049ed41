"""The end of every benchmark script: a table on stdout, the rows saved as JSON under
benchmarks/results/, and exit status 1 when any target was missed."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

Row = dict[str, Any]


def ratio_row(name: str, ours: float, base: float, target: float, unit: str = "s") -> Row:
    """A row judged by ours / baseline ≤ target."""
    ratio = ours / base if base else float("inf")
    return {
        "name": name,
        "ours": ours,
        "baseline": base,
        "ratio": ratio,
        "target": target,
        "unit": unit,
        "met": ratio <= target,
    }


def print_table(
    rows: list[Row], cells: Callable[[Row], tuple[str, str, str, str]], name: int, target: int
) -> None:
    """One line a row; `cells` formats its ours, baseline, ratio and target (`name` and `target`
    are those columns' widths)."""
    print(
        f"{'benchmark':<{name}} {'ours':>9} {'baseline':>9} {'ratio':>7} {'target':>{target}}  met"
    )
    for r in rows:
        ours, base, ratio, goal = cells(r)
        print(
            f"{r['name']:<{name}} {ours:>9} {base:>9} {ratio:>7} {goal:>{target}}  "
            f"{'yes' if r['met'] else 'NO'}"
        )


def save_and_judge(rows: list[Row], rounds: int, prefix: str = "") -> None:
    """Write benchmarks/results/<prefix><timestamp>.json; exit 1 if any row missed its target."""
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    saved = results / f"{prefix}{stamp}.json"
    saved.write_text(json.dumps({"at": stamp, "rounds": rounds, "rows": rows}, indent=2) + "\n")
    print(f"saved {saved.relative_to(ROOT)}")
    if not all(r["met"] for r in rows):
        raise SystemExit(1)


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Our environment, but with bytecode caching on as in any installed copy: with
    PYTHONDONTWRITEBYTECODE set (this machine sets it), every module of ours would be compiled
    anew in every process, which no user's run does."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, **(extra or {})}
