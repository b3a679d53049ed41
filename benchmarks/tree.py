"""What a command costs with its whole process tree: wall time, CPU seconds, peak summed RSS.

CPU comes from the kernel's own accounting (getrusage of reaped children), so no process is
missed however short it lived: this process becomes a child subreaper (Linux), so Chrome's
helpers that outlive their parent (the zygote, renderers) are re-parented to it and reaped here
too, instead of by init where their CPU time would be lost. Memory is sampled from /proc.
"""

from __future__ import annotations

import ctypes
import os
import resource
import subprocess
import threading
import time
from dataclasses import dataclass

from report import child_env

#: prctl(2) option: orphaned descendants are re-parented to us, not to init.
PR_SET_CHILD_SUBREAPER = 36
#: How often the tree's memory is sampled.
SAMPLE_EVERY = 0.025


@dataclass(frozen=True)
class Cost:
    wall: float
    cpu: float
    #: Peak of the tree's summed resident memory, KiB (shared pages counted once per process).
    rss_kib: int


def become_subreaper() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")


def children_of(pid: int) -> set[int]:
    """Every descendant of `pid` (Linux /proc walk)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(entry))
    found: set[int] = set()
    stack = [pid]
    while stack:
        for child in parents.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _reap_orphans(seconds: float) -> None:
    """Wait for the descendants left behind (re-parented to us) so their CPU is counted."""
    until = time.monotonic() + seconds
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            if time.monotonic() > until:
                raise SystemExit(
                    f"processes still running after the command: {children_of(os.getpid())}"
                )
            time.sleep(0.01)


def measure(cmd: list[str], env: dict[str, str] | None = None) -> Cost:
    """Run `cmd` to the end (it must succeed); its cost with every process it started.

    Call become_subreaper() once first, and run nothing else in parallel: every child of this
    process counts.
    """
    peak = 0
    before = _children_cpu()
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env=child_env(env), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            # Our descendants: the command's tree, and its orphans re-parented to us.
            peak = max(peak, sum(rss_kib(p) for p in children_of(os.getpid())))
            done.wait(SAMPLE_EVERY)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = proc.communicate(timeout=180)
    elapsed = time.perf_counter() - started
    done.set()
    sampler.join()
    _reap_orphans(10.0)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {err.decode()[-2000:]}")
    return Cost(elapsed, _children_cpu() - before, peak)
