"""What a run costs with its whole browser tree, against bare Selenium on the same page.

Usage: python benchmarks/cost.py [--rounds N] [--also REF]      (part of `make bench`)

On three pages of the stand-in site, interleaved round by round, medians reported:
  heavy: an app shell with a ~3 MB script that works ~0.4 s, then asks the endpoint and renders
         the panel, plus a web font and two dozen images (benchmarks/heavy_site.py);
  heavy, endpoint down: the same, the endpoint failing, so the page text carries the run;
  small: the bundled sample page, no endpoint (the page benchmark of benchmarks/run.py).
Each: wall time, CPU seconds of the whole process tree (Python, chromedriver, every Chrome
process, however short-lived: benchmarks/tree.py) and the peak of the tree's summed RSS.
The baseline is bare Selenium (benchmarks/bare_selenium.py: chromium --headless=new, no
tricks). Targets (issue #19) on the heavy page: wall ≤ 0.6×, CPU ≤ 0.5×, memory ≤ 0.6×;
elsewhere no worse than bare Selenium. `--also main` also runs that git revision's
consolescrape in the same rounds (a row per page, not judged), to compare with "today".
Writes benchmarks/results/cost-<timestamp>.json, and a year of cost for the README.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from heavy_site import USAGE_PATH, usage_answer, write_heavy_site
from report import HERE, ROOT, Row, child_env, print_table, save_and_judge
from tree import Cost, become_subreaper, measure

sys.path.insert(0, str(ROOT / "tests"))

from cli_login import log_in
from support.site import SAMPLE_PAGE, StandIn

PY = sys.executable
SESSION = "bench-session"
RUNS_A_DAY = 24 * 60 // 5

#: Per page: its targets for (wall, CPU, memory) as ratios to bare Selenium.
TARGETS = {
    "heavy": (0.6, 0.5, 0.6),
    "heavy, endpoint down": (1.0, 1.0, 1.0),
    "small": (1.0, 1.0, 1.0),
}


@contextlib.contextmanager
def revision(ref: str | None) -> Iterator[Path | None]:
    """A checkout of `ref` in a temporary worktree (None: no other revision)."""
    if ref is None:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="consolescrape-rev-") as temp:
        path = Path(temp) / "tree"
        git = ["git", "-C", str(ROOT)]
        subprocess.run([*git, "worktree", "add", "--detach", str(path), ref], check=True)
        try:
            yield path
        finally:
            subprocess.run([*git, "worktree", "remove", "--force", str(path)], check=False)


def scenarios(site_dir: Path) -> dict[str, dict[str, Any]]:
    heavy = write_heavy_site(site_dir)
    return {
        "heavy": {"page": heavy[USAGE_PATH], "pages": heavy, "api": usage_answer()},
        "heavy, endpoint down": {"page": heavy[USAGE_PATH], "pages": heavy, "api": None},
        "small": {"page": SAMPLE_PAGE, "pages": {}, "api": None},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--also", metavar="REF", help="also run this git revision (e.g. main)")
    args = parser.parse_args()
    become_subreaper()
    with (
        tempfile.TemporaryDirectory(prefix="consolescrape-cost-") as temp,
        revision(args.also) as other,
        StandIn(session_key=SESSION) as site,
    ):
        home = Path(temp) / "home"
        env = {"CONSOLESCRAPE_HOME": str(home), "CLAUDE_SYNC_API_KEY": ""}
        log_in(site.url, SESSION, child_env(env))
        run = [PY, "-m", "consolescrape", "run", "--no-sync", "--quiet", "--url", site.url]
        variants: dict[str, tuple[list[str], dict[str, str]]] = {
            "bare": ([PY, str(HERE / "bare_selenium.py"), site.url, str(home / "profile")], env),
            "ours": (run, env),
        }
        if other is not None:
            # -P: not the working directory's package first, but the one on PYTHONPATH.
            variants[args.also] = ([PY, "-P", *run[1:]], {**env, "PYTHONPATH": str(other)})
        pages = scenarios(Path(temp) / "site")
        costs: dict[tuple[str, str], list[Cost]] = {}
        for round_ in range(args.rounds + 1):  # round 0 warms caches and is not counted
            for page, scenario in pages.items():
                site.reset()
                site.configure(**scenario)
                for name, (cmd, cmd_env) in variants.items():
                    cost = measure(cmd, cmd_env)
                    if round_:
                        costs.setdefault((page, name), []).append(cost)
    rows = judge(costs, list(variants), args.also)
    print_table(rows, cells, name=44, target=7)
    print_year(costs)
    save_and_judge(rows, args.rounds, prefix="cost-")


def medians(samples: list[Cost]) -> tuple[float, float, float]:
    return (
        statistics.median(c.wall for c in samples),
        statistics.median(c.cpu for c in samples),
        statistics.median(c.rss_kib for c in samples) / 1024,
    )


def judge(
    costs: dict[tuple[str, str], list[Cost]], names: list[str], also: str | None
) -> list[Row]:
    rows: list[Row] = []
    for page, targets in TARGETS.items():
        base = medians(costs[(page, "bare")])
        for name in names[1:]:
            ours = medians(costs[(page, name)])
            for what, unit, mine, theirs, target in zip(
                ("wall", "CPU", "peak RSS"), ("s", "s", "MiB"), ours, base, targets, strict=True
            ):
                ratio = mine / theirs
                judged = name == "ours"
                rows.append(
                    {
                        "name": f"{page}: {what}" + ("" if judged else f" ({also})"),
                        "ours": mine,
                        "baseline": theirs,
                        "ratio": ratio,
                        "target": target if judged else None,
                        "unit": unit,
                        "met": ratio <= target or not judged,
                    }
                )
    return rows


def cells(r: Row) -> tuple[str, str, str, str]:
    digits = 0 if r["unit"] == "MiB" else 2
    unit = "M" if r["unit"] == "MiB" else "s"
    target = "-" if r["target"] is None else f"≤{r['target']}×"
    return (
        f"{r['ours']:.{digits}f}{unit}",
        f"{r['baseline']:.{digits}f}{unit}",
        f"{r['ratio']:.2f}×",
        target,
    )


def print_year(costs: dict[tuple[str, str], list[Cost]]) -> None:
    """CPU and memory of a run, a day and a year at one run every 5 minutes (for the README)."""
    print(f"\nat one run every 5 minutes ({RUNS_A_DAY} a day):")
    print(f"{'':28} {'CPU/run':>8} {'CPU/day':>9} {'CPU/year':>9} {'peak memory':>12}")
    for (page, name), samples in costs.items():
        _, cpu, rss = medians(samples)
        day = cpu * RUNS_A_DAY
        print(
            f"{page + ', ' + name:28} {cpu:7.2f}s {day / 60:7.1f}min {day * 365 / 3600:7.1f}h "
            f"{rss:9.0f}MiB"
        )


if __name__ == "__main__":
    os.environ.setdefault("SE_AVOID_STATS", "true")
    main()
