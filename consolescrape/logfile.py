"""The log a scheduled run writes under its home: appended, private, and bounded in size.

`run --log-file PATH` points the process's stderr at PATH, so every line — ours, a library's
warning, a traceback — lands there and nothing waits in cron's mail. Before that, a file that
has reached `MAX_BYTES` becomes `PATH.1` (replacing the previous one): at most two files of about
1 MiB each. A good run logs one line (~110 bytes), a failed one about 300 bytes, so at one run
every 5 minutes the two files keep one to two months.
"""

from __future__ import annotations

import os
from pathlib import Path

MAX_BYTES = 1024 * 1024


def rotated(path: Path) -> Path:
    return path.with_name(path.name + ".1")


def redirect_stderr(path: Path, max_bytes: int = MAX_BYTES) -> str | None:
    """Append stderr (fd 2) to `path`, rotating it first; returns why not, when it cannot."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            if path.stat().st_size >= max_bytes:
                os.replace(path, rotated(path))
        except FileNotFoundError:
            pass
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOCTTY, 0o600)
    except OSError as exc:
        return f"cannot write the log {path}: {exc.strerror or exc}; logging to stderr"
    try:
        os.dup2(fd, 2)
    finally:
        os.close(fd)
    return None
