"""Read Claude plan usage limits from the usage page and send them to your own server."""

from __future__ import annotations

import functools


@functools.cache
def version() -> str:
    """The installed package's version: pyproject.toml is its one source, read from the
    package metadata (only when asked: importing importlib.metadata costs start-up time)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("consolescrape")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "0+unknown"
