"""`consolescrape status --line`: what a status bar pays every second, against baselines measured
in the same run.

Usage: python benchmarks/status_line.py [--rounds N]      (part of `make bench`)

The home is the default one (found through XDG_DATA_HOME, as a bar's is) with a snapshot,
state.json and a .env holding the key, as a real user's. Targets (issue #21):
  the `consolescrape` script's `status --line` vs python -c "import typer"     ≤ 1.2×
  python -m consolescrape status --line vs python -c "import typer"            ≤ 1.2×
  modules the line loads that it does not print (typer, click, rich, requests,
      selenium, sqlite3, dotenv, logging), from python -X importtime             0
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from report import Row, child_env, print_table, save_and_judge

PY = sys.executable
SCRIPT = str(Path(PY).parent / "consolescrape")
HEAVY = ("typer", "click", "rich", "requests", "selenium", "sqlite3", "dotenv", "logging")


def make_home(data_home: Path) -> None:
    from consolescrape import model, store

    home = data_home / "consolescrape"
    home.mkdir(parents=True, mode=0o700)
    now = datetime.now(UTC)
    doc = {
        "currentSession": {
            "resetsIn": "2 hr 41 min",
            "percentageUsed": 47,
            "resetsAt": model.format_time(now + timedelta(hours=2, minutes=41)),
        },
        "weeklyLimits": {
            "allModels": {"resetsIn": "Thu 7:00 AM", "percentageUsed": 31},
            "sonnetOnly": {"resetsIn": "Thu 7:00 AM", "percentageUsed": 10},
        },
        "lastUpdated": model.format_time(now),
    }
    store.save_snapshot(home / "usage-data.json", model.from_json(doc))
    store.record_outcome(home / "state.json", "run", {"ok": True, "exitCode": 0, "message": "ok"})
    store.write_private(home / ".env", b"CLAUDE_SYNC_API_KEY=bench-key-not-secret\n")


def wall(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.decode()}")
    return elapsed


def interleaved(rounds: int, commands: list[list[str]], env: dict[str, str]) -> list[float]:
    """The median wall time of each command, run in turns so that a busy moment of the machine
    weighs on all of them alike."""
    times: list[list[float]] = [[] for _ in commands]
    for cmd in commands:
        wall(cmd, env)  # warm the disk and bytecode caches
    for _ in range(rounds):
        for cmd, seen in zip(commands, times, strict=True):
            seen.append(wall(cmd, env))
    return [statistics.median(seen) for seen in times]


def heavy_modules(env: dict[str, str]) -> list[str]:
    done = subprocess.run(
        [PY, "-X", "importtime", "-m", "consolescrape", "status", "--line"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = {row.rsplit("|", 1)[-1].strip() for row in done.stderr.splitlines() if "|" in row}
    return sorted(name for name in loaded if name.split(".")[0] in HEAVY)


def cells(r: Row) -> tuple[str, str, str, str]:
    if r["unit"] == "modules":
        return f"{r['ours']:g}", "-", "-", f"≤{r['target']:g}"
    ours, base = f"{r['ours'] * 1000:.1f}ms", f"{r['baseline'] * 1000:.1f}ms"
    return ours, base, f"{r['ratio']:.2f}×", f"≤{r['target']}×"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    rounds = parser.parse_args().rounds
    rows: list[Row] = []

    with tempfile.TemporaryDirectory(prefix="consolescrape-bench-line-") as temp:
        make_home(Path(temp))
        environ = child_env({"XDG_DATA_HOME": temp})
        env = {k: v for k, v in environ.items() if not k.startswith(("CONSOLESCRAPE_", "CLAUDE_"))}
        typer_cmd = [PY, "-c", "import typer"]
        script_cmd = [SCRIPT, "status", "--line"]
        module_cmd = [PY, "-m", "consolescrape", "status", "--line"]
        if subprocess.run(script_cmd, env=env, capture_output=True, text=True).stdout[:2] != "S ":
            raise SystemExit("the benchmark home shows no data: the line would be measured short")
        typer_t, script_t, module_t = interleaved(rounds, [typer_cmd, script_cmd, module_cmd], env)
        for name, ours in (
            ("consolescrape status --line vs import typer", script_t),
            ("python -m consolescrape status --line vs import typer", module_t),
        ):
            ratio = ours / typer_t
            rows.append(
                {"name": name, "ours": ours, "baseline": typer_t, "ratio": ratio}
                | {"target": 1.2, "unit": "s", "met": ratio <= 1.2}
            )
        heavy = heavy_modules(env)
        rows.append(
            {"name": "modules loaded it does not print", "ours": len(heavy), "baseline": None}
            | {"ratio": None, "target": 0, "unit": "modules", "met": not heavy, "which": heavy}
        )

    print_table(rows, cells, name=54, target=7)
    save_and_judge(rows, rounds, prefix="status-line-")


if __name__ == "__main__":
    main()
