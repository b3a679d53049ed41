"""History, forecast and alerts: their cost, against baselines measured in the same run.

Usage: python benchmarks/history.py [--rounds N]      (part of `make bench`)

Every figure runs against a history.db holding a year of 5-minute rows for three limits
(~105 000 rows per limit, tests/history_rows.py). Targets (issue #11):
  history write in a fresh process (import sqlite3, open, record, claim alerts, prune)  ≤ 5 ms
      (shown next to the atomic save of usage-data.json, which every run already pays)
  `consolescrape history` (7 days) and `history --json --since 30d`                  ≤ 0.5 s
      (shown next to `consolescrape status`, the other command that reads the home)
  `status` with the forecast vs `status` of the same home without history.db          ≤ 1.5×
and, against a history.db of a million rows (a year at one run every 95 s, three limits;
issue #15), `history --json --since 365d` as it streams vs the same document built whole in
memory first (what it did before; 21 s and 933 MiB on the issue's machine):
  wall time                                                                           ≤ 1.0×
  peak memory (the process's maximum RSS)                                             ≤ 0.25×
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from report import ROOT, Row, child_env, print_table, save_and_judge

sys.path.insert(0, str(ROOT / "tests"))

import history_rows

PY = sys.executable

#: Run in a fresh interpreter, as cron's run is: a run imports sqlite3 and the history modules
#: with tracking, before its browser phase, so the probe imports them before it times the write
#: too; what it times is what the write adds to a run.
WRITE_PROBE = """
import sys, time
from pathlib import Path
from consolescrape import config, store, tracking
from consolescrape.commands import run
from consolescrape.output import Reporter
home = Path(sys.argv[1])
settings = config.load({"home": home}, environ={"CONSOLESCRAPE_ALERT_AT": "80,95"})
snapshot = store.load_snapshot(settings.data_file)
started = time.perf_counter()
store.save_snapshot(home / "copy.json", snapshot)
saved = time.perf_counter() - started
started = time.perf_counter()
tracking.after_scrape(settings, snapshot, Reporter(quiet=True))
print(saved, time.perf_counter() - started)
"""


#: What `history --json` did before it streamed: every row held, as objects, then as one text.
WHOLE_DOCUMENT = """
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from consolescrape import config, history, model, output
from consolescrape.views import history as history_view
settings = config.load({"home": Path(sys.argv[1])})
end = datetime.now(UTC)
start = end - timedelta(days=365)
with history.open_for_reading(settings.history_file) as reader:
    points = reader.points(start, until=end)
data = {
    "since": model.format_time(start),
    "rows": history.rows_json(points),
    "limits": [s.to_json() for s in history_view.summarize(points)],
}
output.print_result("history", 0, data=data)
"""


#: Runs a command and prints its seconds and peak RSS. A small process of its own: a child's
#: peak RSS counts its parent's pages until it execs, and this benchmark holds a year of rows.
MEASURE = """
import os, sys, time
started = time.perf_counter()
pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ,
                     file_actions=[(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)])
_, status, usage = os.wait4(pid, 0)
print(os.waitstatus_to_exitcode(status), time.perf_counter() - started, usage.ru_maxrss / 1024)
"""


def wall_and_peak(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Seconds and the peak RSS (MiB; the kernel counts kilobytes) of one process, its stdout
    thrown away."""
    done = subprocess.run(
        [PY, "-c", MEASURE, *cmd], env=child_env(env), capture_output=True, text=True, check=True
    )
    code, seconds, peak = done.stdout.split()
    if code != "0":
        raise SystemExit(f"{' '.join(cmd)} failed ({code})")
    return float(seconds), float(peak)


def wall(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        cmd, env=child_env(env), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.decode()}")
    return elapsed


def median(rounds: int, fn: Callable[[], float]) -> float:
    return statistics.median(fn() for _ in range(rounds))


def make_home(root: Path) -> Path:
    from consolescrape import model, store

    home = root / "home"
    home.mkdir(mode=0o700)
    history_rows.fill(home / "history.db")
    now = model.format_time(datetime.now(UTC))
    doc = {
        "currentSession": {"resetsIn": "2 hr", "percentageUsed": 47},
        "weeklyLimits": {
            "allModels": {"resetsIn": "Thu 7:00 AM", "percentageUsed": 31},
            "sonnetOnly": {"resetsIn": "Sat 12:00 PM", "percentageUsed": 10},
        },
        "lastUpdated": now,
    }
    store.save_snapshot(home / "usage-data.json", model.from_json(doc))
    return home


def cells(r: Row) -> tuple[str, str, str, str]:
    """Times in milliseconds; a target in seconds is shown in milliseconds too; memory in MiB."""
    target = f"≤{r['target'] * 1000:g}ms" if r["unit"] == "s" else f"≤{r['target']}×"
    if r.get("measure") == "MiB":
        ours, base = f"{r['ours']:.0f}MiB", f"{r['baseline']:.0f}MiB"
    else:
        ours, base = f"{r['ours'] * 1000:.1f}ms", f"{r['baseline'] * 1000:.1f}ms"
    return ours, base, f"{r['ratio']:.2f}×", target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    rounds = parser.parse_args().rounds
    rows: list[Row] = []

    def row(
        name: str, ours: float, base: float, target: float, absolute: bool, measure: str = "s"
    ) -> None:
        ratio = ours / base if base else float("inf")
        met = (ours if absolute else ratio) <= target
        rows.append(
            {"name": name, "ours": ours, "baseline": base, "ratio": ratio, "target": target}
            | {"unit": "s" if absolute else "×", "met": met, "measure": measure}
        )

    with tempfile.TemporaryDirectory(prefix="consolescrape-bench-history-") as temp:
        home = make_home(Path(temp))
        env = {"CONSOLESCRAPE_HOME": str(home), "CLAUDE_SYNC_API_KEY": ""}

        writes = []
        for _ in range(rounds):
            out = subprocess.run(
                [PY, "-c", WRITE_PROBE, str(home)],
                capture_output=True,
                text=True,
                check=True,
                env=child_env(),
            ).stdout.split()
            writes.append((float(out[0]), float(out[1])))
        save_t = statistics.median(w[0] for w in writes)
        write_t = statistics.median(w[1] for w in writes)
        row("history write, fresh process (vs save usage-data.json)", write_t, save_t, 0.005, True)

        status_cmd = [PY, "-m", "consolescrape", "status"]
        wall(status_cmd, env)  # warm the disk cache
        status_t = median(rounds, lambda: wall(status_cmd, env))
        history_cmd = [PY, "-m", "consolescrape", "history"]
        history_t = median(rounds, lambda: wall(history_cmd, env))
        row("history (7 days of a year) vs status", history_t, status_t, 0.5, True)
        json_cmd = [*history_cmd, "--json", "--since", "30d"]
        json_t = median(rounds, lambda: wall(json_cmd, env))
        row("history --json --since 30d vs status", json_t, status_t, 0.5, True)

        bare = Path(temp) / "bare"
        bare.mkdir(mode=0o700)
        shutil.copy(home / "usage-data.json", bare / "usage-data.json")
        bare_env = {**env, "CONSOLESCRAPE_HOME": str(bare)}
        without_t = median(rounds, lambda: wall(status_cmd, bare_env))
        row("status with forecast vs without history.db", status_t, without_t, 1.5, False)

    with tempfile.TemporaryDirectory(prefix="consolescrape-bench-million-") as temp:
        home = Path(temp) / "home"
        home.mkdir(mode=0o700)
        history_rows.fill(home / "history.db", days=365, step=timedelta(seconds=95))
        env = {"CONSOLESCRAPE_HOME": str(home), "CLAUDE_SYNC_API_KEY": ""}
        streamed_cmd = [PY, "-m", "consolescrape", "history", "--json", "--since", "365d"]
        whole_cmd = [PY, "-c", WHOLE_DOCUMENT, str(home)]
        million_rounds = max(1, min(rounds, 3))  # each round reads a million rows twice
        streamed = [wall_and_peak(streamed_cmd, env) for _ in range(million_rounds)]
        whole = [wall_and_peak(whole_cmd, env) for _ in range(million_rounds)]
        name = "history --json --since 365d, 1M rows, streamed vs whole"
        row(
            f"{name}: time",
            statistics.median(t for t, _ in streamed),
            statistics.median(t for t, _ in whole),
            1.0,
            False,
        )
        row(
            f"{name}: peak RSS",
            statistics.median(m for _, m in streamed),
            statistics.median(m for _, m in whole),
            0.25,
            False,
            measure="MiB",
        )

    print_table(rows, cells, name=66, target=8)
    save_and_judge(rows, rounds, prefix="history-")


if __name__ == "__main__":
    main()
