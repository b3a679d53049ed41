"""The home stays within its stated bound over many runs: Chrome's caches on a site that deploys
between every two runs, rejected/ against a server that refuses everything, the debug dump."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import CLI, SESSION_KEY, processes_mentioning, sync_env
from support.receiver import Fault, ScriptedReceiver
from support.site import DeployingSite

from consolescrape import store
from consolescrape.browser import cache
from consolescrape.browser.session import DEBUG_HTML_BYTES

#: Each page load names 8 new bundles of ~1.3 MB: ~10.7 MB more cache per run without a cap,
#: so that 5 runs outgrow the cap by half again (Chrome's own default is far larger), and
#: rejected/ its cap of 3 twice.
BUNDLES, BUNDLE_BYTES = 8, 1_000_000
RUNS = 5
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def site() -> Iterator[DeployingSite]:
    """Replaces conftest's stand-in for this module (the logged-in profile is the host's)."""
    with DeployingSite(session_key=SESSION_KEY, bundles=BUNDLES, bundle_bytes=BUNDLE_BYTES) as s:
        yield s


def size(path: Path) -> int:
    return sum(
        os.lstat(os.path.join(root, name)).st_size
        for root, _, files in os.walk(path)
        for name in files
    )


@pytest.fixture
def env(site: DeployingSite, profile: Path, home: Path) -> Iterator[dict[str, str]]:
    site.reset()
    yield {
        "CONSOLESCRAPE_USAGE_URL": site.url,
        "CONSOLESCRAPE_PROFILE_DIR": str(profile),
        "CONSOLESCRAPE_TIMEOUT": "30",
    }
    assert processes_mentioning(profile) == [], "a Chrome or chromedriver outlived the command"


def test_many_runs_on_a_site_that_deploys_each_time_keep_the_home_bounded(
    cli: CLI,
    env: dict[str, str],
    site: DeployingSite,
    profile: Path,
    home: Path,
    receiver: ScriptedReceiver,
) -> None:
    cap = 3
    receiver.script(*[Fault.answer(400, {"success": False, "message": "Invalid data"})] * RUNS)
    settings = {**env, **sync_env(receiver), "CONSOLESCRAPE_OUTBOX_CAP": str(cap)}
    before = size(profile)
    for run in range(RUNS):
        result = cli("run", "--json", env=settings)
        assert result.code == 6, result.stderr  # saved and queued; the server refused it
        dropped = f"outbox/rejected/ over its cap of {cap}: dropped the 1 oldest"
        assert (dropped in result.stderr) == (run >= cap), result.stderr
    served = sum(1 for path in site.paths() if path.startswith("/assets/"))
    assert served >= RUNS * BUNDLES, "every run loaded new bundles"
    # Without a cap the HTTP cache alone grows by every run's bundles (~53 MB here).
    http_cache = size(profile / "Default" / "Cache")
    assert http_cache <= cache.DISK_CACHE_BYTES, f"HTTP cache {http_cache / MiB:.1f} MiB"
    grown = size(profile) - before
    assert grown <= cache.DISK_CACHE_BYTES + 8 * MiB, f"the profile grew {grown / MiB:.1f} MiB"
    # rejected/ holds the newest `cap` refused snapshots, each with its reason; nothing else.
    outbox = store.Outbox(home / "outbox", cap)
    assert outbox.pending() == []
    kept = outbox.rejected()
    assert len(kept) == cap
    assert sorted((home / "outbox" / "rejected").iterdir()) == sorted(
        [*kept, *(p.with_suffix(".reason.json") for p in kept)]
    )
    newest = json.loads(kept[-1].read_text())["lastUpdated"]
    assert newest == json.loads((home / "usage-data.json").read_text())["lastUpdated"]


def test_caches_over_the_bound_are_emptied_at_start_and_the_login_survives(
    cli: CLI, env: dict[str, str], profile: Path
) -> None:
    junk = profile / "Default" / "Code Cache" / "js"
    junk.mkdir(parents=True, exist_ok=True)
    for index in range(cache.CACHE_TRIM_BYTES // (4 * MiB) + 2):
        (junk / f"stale-{index}").write_bytes(os.urandom(4 * MiB))
    (profile / "GrShaderCache").mkdir(exist_ok=True)
    (profile / "GrShaderCache" / "data_0").write_bytes(b"\0" * MiB)
    assert cache.cache_size(profile) > cache.CACHE_TRIM_BYTES
    result = cli("run", "--no-sync", env=env)
    assert result.code == 0, result.stderr  # still logged in: the cookies are not a cache
    assert not any(junk.glob("stale-*")), "the stale caches were not emptied"
    assert cache.cache_size(profile) <= cache.DISK_CACHE_BYTES + 8 * MiB


def test_the_debug_dump_of_a_huge_failed_page_is_bounded(
    cli: CLI, env: dict[str, str], site: DeployingSite, home: Path, tmp_path: Path
) -> None:
    page = tmp_path / "huge.html"
    # Megabytes of markup that shows nothing (a comment): the page reads fast, and has no usage.
    filler = "<!-- " + "lorem ipsum dolor sit amet " * 200_000 + " -->"
    page.write_text(f"<html><head></head><body><p>Nothing here</p>{filler}</body></html>")
    assert page.stat().st_size > 2 * DEBUG_HTML_BYTES
    site.set_page(page)
    result = cli("run", "--no-sync", env={**env, "CONSOLESCRAPE_TIMEOUT": "15"})
    assert result.code == 4, result.stderr
    dump = home / "debug" / "page.html"
    assert 0 < dump.stat().st_size <= DEBUG_HTML_BYTES
    assert (home / "debug" / "screenshot.png").stat().st_size < 8 * MiB
