"""Space held back in the home, so that a full disk can still record why the runs fail.

When the disk is full a run cannot queue its snapshot (exit 7), and then it could not write
state.json either: `status --check` would go on reading the last good run. So each run keeps a
small file of allocated space (`reserved-space`, 64 KiB), and gives it up to record its outcome
when nothing else can be written. A later run makes it again once there is room.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)

RESERVE = "reserved-space"
SIZE = 64 * 1024
#: The errors that freeing space can cure.
FULL = (errno.ENOSPC, errno.EDQUOT)


def keep(home: Path) -> None:
    """Make sure the reserve exists (quietly: without room for it, there is none this run)."""
    path = home / RESERVE
    if path.exists():
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except OSError:
        return
    try:
        try:
            os.posix_fallocate(fd, 0, SIZE)  # real blocks, not a sparse file
        except (AttributeError, OSError):  # macOS has no posix_fallocate
            os.write(fd, b"\0" * SIZE)
            os.fsync(fd)
    except OSError as exc:
        logger.debug(f"headroom: no room to reserve {SIZE // 1024} KiB ({exc.strerror})")
        with contextlib.suppress(OSError):
            path.unlink()
    finally:
        os.close(fd)


def release(home: Path, fault: OSError) -> bool:
    """Give the reserve up when `fault` is a full disk; True when that freed some space."""
    if fault.errno not in FULL:
        return False
    try:
        (home / RESERVE).unlink()
    except OSError:
        return False
    logger.debug("headroom: the disk is full; released the reserved space to record the run")
    return True
