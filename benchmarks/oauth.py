"""The oauth source (Claude Code's usage endpoint, no browser) against a browser run, measured
in the same run on the same machine.

Usage: python benchmarks/oauth.py [--rounds N]      (part of `make bench`)

Both read the same limits from loopback stand-ins (the site in Chromium; the OAuth endpoint)
and save them, without sync. Peak memory is the whole process tree's (our Python process
included: without a browser it is all there is). Targets (issue #20):
  run --source oauth vs run (browser), wall time                   ≤ 0.5×
  run --source oauth vs run (browser), peak RSS of the process tree ≤ 0.2×
  run --source oauth vs a bare `requests.get` of the same endpoint  ≤ 2.5×
      (a run also pays the CLI's start-up, the lock, the atomic save, state.json, history)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from report import ROOT, Row, child_env, print_table, ratio_row, save_and_judge
from run import median_of
from tree import children_of, rss_kib

from consolescrape.demo.site import StandIn

sys.path.insert(0, str(ROOT / "tests"))

from cli_login import log_in
from support.oauth import BETA, OAuthStandIn, credentials_doc, write_credentials

PY = sys.executable
SESSION = "bench-session"
ACCESS = "bench-oauth-access-not-secret"

BARE_GET = (
    "import sys, requests; r = requests.get(sys.argv[1], headers={'Authorization': 'Bearer ' + "
    f"sys.argv[2], 'anthropic-beta': '{BETA}'}}, timeout=10); assert r.ok, r.status_code; "
    "open(sys.argv[3], 'w').write(r.text)"
)


def tree_timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, int]:
    """Wall time and the peak summed RSS (KiB) of the command's whole tree, itself included:
    sampled every 20 ms, and at least the process's own peak as the kernel reports it."""
    peak = 0
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env=child_env(env), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            pids = {proc.pid} | children_of(proc.pid)
            peak = max(peak, sum(rss_kib(p) for p in pids))
            done.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {err.decode()[-2000:]}")
    return elapsed, max(peak, usage.ru_maxrss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    rows: list[Row] = []

    def row(name: str, ours: float, base: float, target: float, unit: str = "s") -> None:
        rows.append(ratio_row(name, ours, base, target, unit))

    with (
        tempfile.TemporaryDirectory(prefix="consolescrape-bench-") as temp,
        StandIn(session_key=SESSION) as site,
        OAuthStandIn(ACCESS) as endpoint,
    ):
        home = Path(temp) / "home"
        claude = Path(temp) / "claude"
        write_credentials(claude, credentials_doc(ACCESS))
        env = {
            "CONSOLESCRAPE_HOME": str(home),
            "CLAUDE_SYNC_API_KEY": "",
            "CLAUDE_CONFIG_DIR": str(claude),
            "CONSOLESCRAPE_OAUTH_URL": endpoint.url,
        }
        log_in(site.url, SESSION, child_env(env))
        run = [PY, "-m", "consolescrape", "run", "--no-sync", "--quiet", "--url", site.url]
        oauth = [*run, "--source", "oauth"]
        tree_timed(run, env)  # warm the disk cache for both
        browser_t, browser_mem = median_of(rounds, lambda: tree_timed(run, env))
        oauth_t, oauth_mem = median_of(rounds * 2, lambda: tree_timed(oauth, env))
        saved = json.loads((home / "usage-data.json").read_text())
        assert saved["via"] == "oauth", saved
        bare = [PY, "-c", BARE_GET, endpoint.url, ACCESS, str(Path(temp) / "bare.json")]
        bare_t, _ = median_of(rounds * 2, lambda: tree_timed(bare))
        row("run --source oauth vs run (browser)", oauth_t, browser_t, 0.5)
        row("peak tree RSS, oauth vs browser run", oauth_mem / 1024, browser_mem / 1024, 0.2, "MiB")
        row("run --source oauth vs bare requests.get", oauth_t, bare_t, 2.5)

    def cells(r: Row) -> tuple[str, str, str, str]:
        return (
            f"{r['ours']:.2f}{r['unit'][0]}",
            f"{r['baseline']:.2f}",
            f"{r['ratio']:.2f}×",
            f"≤{r['target']}×",
        )

    print_table(rows, cells, name=42, target=7)
    save_and_judge(rows, rounds, prefix="oauth-")


if __name__ == "__main__":
    main()
