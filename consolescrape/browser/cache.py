"""The profile's caches, kept within a bound: the profile lives for months.

Chrome caps its HTTP cache itself (`--disk-cache-size`, in chrome.py; the headless shell
ignores it), but its other caches (compiled scripts, GPU shaders, service workers' storage)
have no flag. So under the profile lock with no Chrome on it, at start-up and after the run:
when the cache directories together pass CACHE_TRIM_BYTES, or the HTTP cache alone passes
DISK_CACHE_BYTES, they are emptied. Chrome rebuilds them as it needs them; nothing in them is
the login (cookies and local storage live elsewhere in the profile).
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

logger = logging.getLogger(__name__)

#: Chrome's HTTP cache: a deploy's bundles of the usage page fit (claude.ai's are a few MB as
#: sent, compressed); an entry larger than an eighth of it is not cached at all.
DISK_CACHE_BYTES = 32 * 1024 * 1024
#: Past this, the cache directories below are emptied at start-up: the HTTP cache at its cap
#: plus room for the others (the README states the profile's bound from it).
CACHE_TRIM_BYTES = 64 * 1024 * 1024

#: The HTTP cache, bounded on its own too: Chrome caps it, the headless shell does not.
HTTP_CACHE = "Default/Cache"

#: Chromium's cache directories, relative to the profile: per profile ("Default") and per
#: browser (the GPU's). None of them holds a login.
CACHE_DIRS = (
    "Default/Cache",
    "Default/Code Cache",
    "Default/GPUCache",
    "Default/DawnGraphiteCache",
    "Default/DawnWebGPUCache",
    "Default/Service Worker/CacheStorage",
    "Default/Service Worker/ScriptCache",
    "GPUCache",
    "GrShaderCache",
    "GraphiteDawnCache",
    "ShaderCache",
    "component_crx_cache",
)


def _size(directory: Path) -> int:
    """Bytes in the files under `directory` (links not followed, vanishing files skipped)."""
    total = 0
    for root, _, files in os.walk(directory):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue
    return total


def cache_size(profile: Path) -> int:
    return sum(_size(profile / name) for name in CACHE_DIRS)


def trim(profile: Path, limit: int = CACHE_TRIM_BYTES) -> int:
    """Empty the profile's cache directories when together over `limit`; returns the bytes
    removed (0 when under it). Call with the profile lock held and no Chrome on it."""
    size = cache_size(profile)
    if size <= limit and _size(profile / HTTP_CACHE) <= DISK_CACHE_BYTES:
        return 0
    for name in CACHE_DIRS:
        directory = profile / name
        if directory.is_dir() and not directory.is_symlink():
            shutil.rmtree(directory, ignore_errors=True)
    logger.debug(
        f"browser caches in {profile} were {size / 2**20:.0f} MiB (over "
        f"{limit / 2**20:.0f} MiB): emptied"
    )
    return size
