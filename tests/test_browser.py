"""Real headless Chromium against the stand-in site on 127.0.0.1: every page, every failure.

No mocks. What a page reads as is read on the worker's shared Chrome (tests/shared_chrome.py)
by the steps `browser.scrape` takes; what a launch, a deadline or a tear-down does (debug files,
processes, the profile's lock, the headless shell) launches the browser through
`consolescrape.browser` as `run` does. One stand-in site and one logged-in profile are shared
by the module to keep it fast.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from shared_chrome import SharedChrome
from support.site import SAMPLE_PAGE, StandIn

from consolescrape.browser import chrome, login, processes, usage_page
from consolescrape.browser import scrape as browsing
from consolescrape.config import Settings
from consolescrape.errors import ConfigError, LoggedOut, ScrapeFailed, UsageError
from consolescrape.model import Snapshot

KEY = "browser-test-session-4711"
PAGES = Path(__file__).parent / "pages"
DRIVER = shutil.which("chromedriver")
ROOT = Path(__file__).resolve().parent.parent

SAMPLE = {
    "currentSession": ("2 hr 42 min", 47),
    "allModels": ("Thu 7:00 AM", 31),
    "sonnetOnly": ("Sat 12:00 PM", 10),
}


def make_settings(home: Path, **changes: Any) -> Settings:
    """Settings for a test home; the driver pinned like a user's CONSOLESCRAPE_CHROMEDRIVER."""
    values: dict[str, Any] = {"chromedriver": Path(DRIVER) if DRIVER else None, "timeout": 30.0}
    return Settings(home=home, **{**values, **changes})


def limits(snapshot: Snapshot) -> dict[str, tuple[str, int | float]]:
    found = {}
    if snapshot.session is not None:
        found["currentSession"] = (snapshot.session.resets_in, snapshot.session.percentage_used)
    for key, limit in snapshot.weekly.items():
        found[key] = (limit.resets_in, limit.percentage_used)
    return found


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- processes, seen from outside ----------------------------------------------------------------


def _proc(pid: int, name: str) -> bytes:
    try:
        with open(f"/proc/{pid}/{name}", "rb") as handle:
            return handle.read()
    except OSError:
        return b""


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its parent to reap it holds nothing)."""
    stat = _proc(pid, "stat").decode(errors="replace")
    return bool(stat) and stat[stat.rfind(")") + 2 :][:1] not in ("Z", "X")


def on_profile(profile: Path) -> list[int]:
    """Live processes whose command line uses `profile` as Chrome's user data dir."""
    flag = f"--user-data-dir={profile}".encode()
    return [
        int(entry)
        for entry in os.listdir("/proc")
        if entry.isdigit()
        and flag in _proc(int(entry), "cmdline").split(b"\0")
        and alive(int(entry))
    ]


def children_named(pid: int, name: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = _proc(int(entry), "stat").decode(errors="replace")
        if stat and f"({name})" in stat and int(stat[stat.rfind(")") + 2 :].split()[1]) == pid:
            found.append(int(entry))
    return found


def wait_until(condition: Callable[[], object], timeout: float, what: str) -> None:
    until = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > until:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site() -> Iterator[StandIn]:
    with StandIn(session_key=KEY) as server:
        yield server


@pytest.fixture(autouse=True)
def fresh_site(site: StandIn) -> Iterator[None]:
    site.reset()
    yield
    site.reset()


@pytest.fixture(scope="module")
def hanging() -> Iterator[StandIn]:
    """A site whose usage page never answers."""
    with StandIn(session_key=KEY, hang=True) as server:
        yield server


@pytest.fixture(scope="module")
def logged_in(site: StandIn, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A home whose profile holds the stand-in's session cookie."""
    settings = make_settings(tmp_path_factory.mktemp("logged-in"))
    login.login_with_session_key(at(settings, site.url), KEY)
    return at(settings, site.url)


def at(settings: Settings, url: str) -> Settings:
    """The same settings reading another usage URL (what --url does)."""
    return dataclasses.replace(settings, usage_url=url)


def scrape(settings: Settings, site: StandIn, **changes: Any) -> Snapshot:
    return browsing.scrape(dataclasses.replace(settings, usage_url=site.url, **changes))


Read = Callable[..., Snapshot]


@pytest.fixture
def read(shared_chrome: SharedChrome, site: StandIn, tmp_path: Path) -> Read:
    """What `scrape` reads from `site` with a logged-in profile, on the shared Chrome."""

    def reading(**changes: Any) -> Snapshot:
        settings = make_settings(tmp_path, usage_url=site.url, **changes)
        return shared_chrome.read(settings, KEY)

    return reading


# --- what the pages say --------------------------------------------------------------------------

Limits = dict[str, tuple[str, int]]


def case(
    page: str | Path, expected: Limits, *, model_row: str = "Sonnet", partial: bool = False
) -> tuple[Path, str, Limits, bool]:
    """A page (a file in tests/pages, or a full path), the model row configured, the limits it
    reads as, and whether the snapshot is partial."""
    return PAGES / page, model_row, expected, partial


#: fable.html: a Fable row where the Sonnet row usually is.
FABLE = {
    "currentSession": ("4 hr 10 min", 30),
    "allModels": ("Wed 8:00 AM", 18),
    "fableOnly": ("Wed 8:00 AM", 26),
}

PAGE_CASES = {
    "sample (Max, meters, sidebar with '0% used')": case(SAMPLE_PAGE, SAMPLE),
    "Team layout": case(
        "team.html",
        {
            "currentSession": ("3 hr 5 min", 12),
            "allModels": ("Mon 9:00 AM", 40),
            "sonnetOnly": ("Mon 9:00 AM", 22),
        },
    ),
    "legacy progressbar, Opus row": case(
        "progressbar.html",
        {
            "currentSession": ("29 min", 5),
            "allModels": ("Tue 5:00 PM", 64),
            "opusOnly": ("Tue 5:00 PM", 88),
        },
        model_row="Opus",
    ),
    "24-hour clock": case(
        "clock24.html",
        {
            "currentSession": ("18 hr 9 min", 73),
            "allModels": ("Fri 19:00", 55),
            "sonnetOnly": ("Sat, Aug 1", 3),
        },
    ),
    "text running together": case(
        "runtogether.html",
        {
            "currentSession": ("2 hr 53 min", 97),
            "allModels": ("Mar 1", 43),
            "sonnetOnly": ("Mar 2", 9),
        },
    ),
    "nothing used yet": case(
        "unused.html",
        {
            "currentSession": ("Starts when a message is sent", 0),
            "allModels": ("Thu 7:00 AM", 2),
            "sonnetOnly": ("You haven’t used Sonnet yet", 0),
        },
    ),
    "session only": case("session_only.html", {"currentSession": ("1 hr", 81)}, partial=True),
    "Fable row, Sonnet configured": case("fable.html", FABLE, partial=True),
    "Fable row, Fable configured": case("fable.html", FABLE, model_row="Fable"),
    "alerts opening while the rows arrive": case(
        "alerts_while_polled.html",
        {
            "currentSession": ("2 hr 42 min", 47),
            "allModels": ("Thu 7:00 AM", 31),
            "sonnetOnly": ("Sat 12:00 PM", 10),
        },
    ),
    "content rendered 1.5 s after load": case(
        "late.html",
        {
            "currentSession": ("4 hr 1 min", 62),
            "allModels": ("Thu 7:00 AM", 35),
            "sonnetOnly": ("Sat 12:00 PM", 12),
        },
    ),
}


@pytest.mark.parametrize(
    ("page", "model_row", "expected", "partial"), PAGE_CASES.values(), ids=PAGE_CASES.keys()
)
def test_page_reads_as_expected(
    site: StandIn,
    read: Read,
    page: Path,
    model_row: str,
    expected: Limits,
    partial: bool,
) -> None:
    site.set_page(page)
    began = time.monotonic()
    snapshot = read(model_row=model_row)
    # A partial page settles within a second or so; it must not run into the deadline.
    assert time.monotonic() - began < 10
    assert limits(snapshot) == expected
    assert snapshot.source == "page"
    assert snapshot.is_partial is partial
    if partial:
        assert snapshot.extraction_errors


def test_sample_resets_are_resolved_to_absolute_times(read: Read) -> None:
    before = datetime.now(UTC)
    snapshot = read()
    assert snapshot.session is not None and snapshot.session.resets_at is not None
    expected = before + timedelta(hours=2, minutes=42)
    assert abs(snapshot.session.resets_at - expected) < timedelta(seconds=60)
    assert snapshot.weekly["allModels"].resets_at is not None
    assert before <= snapshot.last_updated <= datetime.now(UTC)


@pytest.mark.parametrize("redirect_to", ["/new#settings/usage", "/new"])
def test_usage_shown_as_a_panel_over_the_chat_page(
    site: StandIn, read: Read, redirect_to: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/settings/usage → /new#settings/usage; when the hash is lost, the route is tried (after
    0.5 s here: the test is about the route, not how long a page may take to find it)."""
    monkeypatch.setattr(usage_page, "OFF_ROUTE_GRACE", 0.5)
    site.configure(redirect_to=redirect_to)
    assert limits(read()) == SAMPLE
    assert "/new" in site.paths()


# --- the JSON endpoint first ---------------------------------------------------------------------


def test_endpoint_fills_a_page_whose_rows_are_empty(site: StandIn, read: Read) -> None:
    now = datetime.now(UTC)
    site.set_page(PAGES / "api_only.html")
    site.set_api(
        {
            "limits": [
                {
                    "kind": "session",
                    "percent": 23,
                    "resets_at": iso(now + timedelta(hours=2, minutes=30, seconds=40)),
                },
                {"kind": "weekly_all", "percent": 41.0, "resets_at": iso(now + timedelta(days=3))},
                {
                    "kind": "weekly_scoped",
                    "scope": {"model": {"display_name": "Sonnet"}},
                    "percent": 0,
                    "resets_at": None,
                },
            ]
        }
    )
    snapshot = read()
    assert snapshot.source == "api"
    found = limits(snapshot)
    assert found["currentSession"] == ("2 hr 30 min", 23)
    assert found["allModels"][1] == 41
    assert found["sonnetOnly"] == ("You haven’t used Sonnet yet", 0)
    assert not snapshot.is_partial
    # The chat organization was asked, not the API-only one listed first.
    assert "/api/organizations/org-1/usage" in site.paths()
    assert "/api/organizations/org-0/usage" not in site.paths()


def test_endpoint_older_fields_are_read_too(site: StandIn, read: Read) -> None:
    later = iso(datetime.now(UTC) + timedelta(hours=4))
    site.set_page(PAGES / "api_only.html")
    site.set_api(
        {
            "five_hour": {"utilization": "12.5", "resets_at": later},
            "seven_day": {"utilization": 40, "resets_at": later},
            "seven_day_sonnet": {"utilization": 3.0, "resets_at": later},
        }
    )
    snapshot = read()
    assert snapshot.source == "api"
    assert {k: v[1] for k, v in limits(snapshot).items()} == {
        "currentSession": 12.5,
        "allModels": 40,
        "sonnetOnly": 3,
    }


def test_endpoint_error_falls_back_to_the_page_text(site: StandIn, read: Read) -> None:
    site.set_api({"type": "error", "error": {"type": "api_error"}}, status=500)
    snapshot = read()
    assert snapshot.source == "page"
    assert limits(snapshot) == SAMPLE


def test_endpoint_answer_without_limits_falls_back_to_the_page(site: StandIn, read: Read) -> None:
    site.set_api({"something": "else"})
    snapshot = read()
    assert snapshot.source == "page"
    assert limits(snapshot) == SAMPLE


# --- failures ------------------------------------------------------------------------------------


@pytest.fixture
def settle_soon(monkeypatch: pytest.MonkeyPatch) -> None:
    """A page that never shows a limit is given up on after 1 s, not 3: the test is about what
    is concluded, not how long a page without rows is waited for."""
    monkeypatch.setattr(usage_page, "SETTLE_EMPTY", 1.0)


@pytest.mark.usefixtures("settle_soon")
def test_page_without_limits_is_a_failure_with_debug_files(
    site: StandIn, logged_in: Settings
) -> None:
    site.set_page(PAGES / "no_limits.html")
    with pytest.raises(ScrapeFailed, match="no usage section"):
        scrape(logged_in, site)
    page = logged_in.debug_dir / "page.html"
    assert "Usage details are available on paid plans" in page.read_text()


@pytest.mark.usefixtures("settle_soon")
def test_empty_rows_without_the_endpoint_are_a_failure(site: StandIn, read: Read) -> None:
    site.set_page(PAGES / "api_only.html")
    with pytest.raises(ScrapeFailed, match="no usage section"):
        read()


def test_logged_out_profile_asks_for_login_and_saves_debug_files(
    site: StandIn, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path)
    with pytest.raises(LoggedOut) as raised:
        browsing.scrape(at(settings, site.url))
    assert "consolescrape login" in (raised.value.advice or "")
    page, shot = settings.debug_dir / "page.html", settings.debug_dir / "screenshot.png"
    assert "Log in or sign up" in page.read_text()
    assert shot.read_bytes().startswith(b"\x89PNG")
    assert page.stat().st_mode & 0o777 == 0o600
    assert shot.stat().st_mode & 0o777 == 0o600
    assert settings.profile.stat().st_mode & 0o777 == 0o700


def test_bot_check_is_not_reported_as_logged_out(
    site: StandIn, logged_in: Settings, tmp_path: Path
) -> None:
    site.configure(bot_check=True)
    # A home of its own: the shell's bot check is remembered there (Chrome for a week), and the
    # module's other tests must still see the shell.
    own = dataclasses.replace(logged_in, home=tmp_path, profile_dir=logged_in.profile)
    with pytest.raises(ScrapeFailed, match="bot check") as raised:
        scrape(own, site)
    assert not isinstance(raised.value, LoggedOut)
    assert (tmp_path / "shell-refused.json").exists()
    assert not logged_in.shell_refused_file.exists()
    assert "consolescrape login" in (raised.value.advice or "")
    page = own.debug_dir / "page.html"
    assert "Just a moment..." in page.read_text()
    assert page.stat().st_mode & 0o777 == 0o600


def test_hanging_page_ends_at_the_deadline(hanging: StandIn, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, timeout=3.0)
    began = time.monotonic()
    with pytest.raises(ScrapeFailed, match="timeout"):
        browsing.scrape(at(settings, hanging.url))
    assert time.monotonic() - began < 3.0 + 3
    assert on_profile(settings.profile) == []


def test_hung_renderer_is_killed_at_the_deadline(site: StandIn, logged_in: Settings) -> None:
    """A page whose script never yields blocks chromedriver itself: the watchdog ends it."""
    site.set_page(PAGES / "busy.html")
    began = time.monotonic()
    with pytest.raises(ScrapeFailed, match="time"):
        scrape(logged_in, site, timeout=3.0)
    assert time.monotonic() - began < 3.0 + 3
    assert on_profile(logged_in.profile) == []


# --- logging in ----------------------------------------------------------------------------------


def test_session_key_login_then_scrape(
    site: StandIn, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = make_settings(tmp_path / "home", usage_url=site.url)
    login.login_with_session_key(settings, KEY)
    assert settings.profile.stat().st_mode & 0o777 == 0o700
    assert limits(browsing.scrape(settings)) == SAMPLE
    assert caplog.records and KEY not in caplog.text
    agents = {seen.user_agent for seen in site.requests}
    assert agents and all("Chrome/" in a and "HeadlessChrome" not in a for a in agents)
    assert on_profile(settings.profile) == []


def test_wrong_session_key_is_logged_out_without_showing_the_key(
    site: StandIn, tmp_path: Path
) -> None:
    wrong = "wrong-key-do-not-print-8842"
    with pytest.raises(LoggedOut) as raised:
        login.login_with_session_key(at(make_settings(tmp_path), site.url), wrong)
    assert wrong not in str(raised.value) and wrong not in (raised.value.advice or "")


def test_session_key_that_no_cookie_can_hold_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as raised:
        login.login_with_session_key(at(make_settings(tmp_path), "http://x/"), 'abc; "def"')
    assert "abc" not in str(raised.value)


def test_visible_browser_without_a_display_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(ConfigError) as raised:
        login.login_interactive(at(make_settings(tmp_path), "http://127.0.0.1:9/"), timeout=5)
    assert "--session-key-stdin" in (raised.value.advice or "")
    with pytest.raises(ConfigError):
        browsing.scrape(at(make_settings(tmp_path), "http://127.0.0.1:9/"), headed=True)


# --- processes left behind -----------------------------------------------------------------------

CHILD = """
import sys
from pathlib import Path
from consolescrape.browser import scrape as browsing
from consolescrape.config import Settings
from consolescrape.errors import Stopped
home, url, driver = sys.argv[1:4]
settings = Settings(home=Path(home), chromedriver=Path(driver), timeout=60.0, usage_url=url)
try:
    browsing.scrape(settings)
except Stopped as stopped:
    sys.exit(stopped.exit_code)
"""


def start_child(home: Path, site: StandIn, **env: str) -> subprocess.Popen[bytes]:
    """A Python process scraping `site` (the hanging one) until its page request has arrived."""
    asked = len(site.paths())
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(home), site.url, str(DRIVER)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    wait_until(lambda: len(site.paths()) > asked, 30, "the child's browser to ask for the page")
    return child


def test_killed_run_leaves_processes_that_the_next_run_clears(
    site: StandIn, hanging: StandIn, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path)
    login.login_with_session_key(at(settings, site.url), KEY)
    child = start_child(settings.home, hanging)
    drivers = children_named(child.pid, "chromedriver")
    child.kill()
    child.wait(10)
    # As measured (docs/architecture.md): SIGKILL leaves chromedriver and Chrome running.
    assert on_profile(settings.profile), "expected Chrome to outlive its killed parent"
    if shell.headless_shell(settings, headed=False) is None:  # the shell keeps no such lock
        assert os.path.lexists(settings.profile / "SingletonLock")
    assert limits(browsing.scrape(at(settings, site.url))) == SAMPLE
    assert on_profile(settings.profile) == []
    assert drivers and not any(alive(pid) for pid in drivers)


def test_terminated_run_leaves_nothing_and_hides_the_key(hanging: StandIn, tmp_path: Path) -> None:
    secret = "sk-browser-test-never-in-chrome"
    child = start_child(tmp_path, hanging, CLAUDE_SYNC_API_KEY=secret, OTHER_API_KEY="x")
    drivers = children_named(child.pid, "chromedriver")
    chromes = on_profile(tmp_path / "profile")
    assert drivers and chromes
    for pid in drivers:
        assert b"API_KEY" not in _proc(pid, "environ")
    for pid in chromes:
        environ = _proc(pid, "environ")
        assert b"CLAUDE_SYNC_API_KEY" not in environ and secret.encode() not in environ
    child.send_signal(signal.SIGTERM)
    began = time.monotonic()
    assert child.wait(15) == 128 + signal.SIGTERM
    assert time.monotonic() - began < 8
    assert on_profile(tmp_path / "profile") == []
    assert not any(alive(pid) for pid in drivers)


def test_stale_lock_from_a_dead_process_or_another_host_is_cleared(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    profile = tmp_path / "profile"
    profile.mkdir()
    for target in (f"{socket.gethostname()}-999999", "other-host-4242"):
        os.symlink(target, profile / "SingletonLock")
        os.symlink("123", profile / "SingletonCookie")
        os.symlink("/tmp/gone/SingletonSocket", profile / "SingletonSocket")
        caplog.clear()
        processes.cleanup_profile(profile)
        assert not any(os.path.lexists(profile / n) for n in processes.SINGLETON_FILES)
        assert "stale SingletonLock" in caplog.text
    assert "another host" in caplog.text


# --- set-up --------------------------------------------------------------------------------------


def test_configured_paths_that_do_not_exist_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="CONSOLESCRAPE_CHROME_BINARY"):
        chrome.find_browser(make_settings(tmp_path, chrome_binary=tmp_path / "no-chrome"))
    with pytest.raises(ConfigError, match="CONSOLESCRAPE_CHROMEDRIVER"):
        chrome.find_browser(make_settings(tmp_path, chromedriver=tmp_path / "no-driver"))


def test_what_doctor_and_schedule_use_of_the_browser_loads_no_selenium() -> None:
    """Finding Chrome, its flags, the profile's leftovers: no Selenium until a page is opened."""
    modules = ["browser.chrome", "browser.shell", "browser.processes", "browser.cache"]
    modules += ["doctor", "schedule", "commands.doctor", "commands.schedule"]
    imports = ", ".join(f"consolescrape.{name}" for name in modules)
    code = f"import sys, {imports}; sys.exit('selenium' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=False).returncode == 0
    opened = "import sys, consolescrape.browser.session; sys.exit('selenium' not in sys.modules)"
    assert subprocess.run([sys.executable, "-c", opened], cwd=ROOT, check=False).returncode == 0


def test_a_plain_file_singleton_lock_is_cleared_and_the_run_works(
    site: StandIn, logged_in: Settings
) -> None:
    """Chrome's lock is a symlink; a plain file (a profile copied through its links) is stale."""
    lock = logged_in.profile / "SingletonLock"
    lock.write_text("not a link")
    assert limits(scrape(logged_in, site)) == SAMPLE
    assert not lock.exists() or lock.is_symlink()


# --- as light as the job allows ------------------------------------------------------------------

sys.path.insert(0, str(ROOT / "benchmarks"))
from heavy_site import USAGE_PATH, usage_answer, write_heavy_site  # noqa: E402

from consolescrape.browser import shell  # noqa: E402


def test_endpoint_with_every_section_opens_no_page_of_the_app(site: StandIn, read: Read) -> None:
    site.set_api(usage_answer())
    asked = len(site.paths())
    snapshot = read()
    assert snapshot.source == "api"
    assert {k: v[1] for k, v in limits(snapshot).items()} == {
        "currentSession": 47,
        "allModels": 31,
        "sonnetOnly": 10,
    }
    # The JSON document the endpoint is asked from, and the endpoint: nothing of the app.
    assert set(site.paths()[asked:]) == {"/api/organizations", "/api/organizations/org-1/usage"}


def test_endpoint_without_a_section_still_opens_the_page_to_complete_it(
    site: StandIn, read: Read
) -> None:
    answer = usage_answer()
    answer["limits"] = answer["limits"][:2]  # type: ignore[index]  # no Sonnet row
    site.set_api(answer)
    asked = len(site.paths())
    snapshot = read()
    assert snapshot.source == "mixed"
    assert limits(snapshot)["sonnetOnly"] == SAMPLE["sonnetOnly"]
    # The endpoint was asked once, before the page: the page does not ask it again.
    assert site.paths()[asked:].count("/api/organizations/org-1/usage") == 1
    assert USAGE_PATH in site.paths()[asked:]


@pytest.fixture(scope="module")
def app_pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The heavy stand-in's app shell, lighter: the same script, font and images, less work."""
    return write_heavy_site(tmp_path_factory.mktemp("app"), megabytes=0.05, spin=0, images=3)


def test_app_page_carries_the_run_without_fonts_or_images_when_the_endpoint_fails(
    site: StandIn, read: Read, app_pages: dict[str, Path]
) -> None:
    site.configure(page=app_pages[USAGE_PATH], pages=app_pages)  # no endpoint: 404
    asked = len(site.paths())
    snapshot = read()
    assert snapshot.source == "page"
    assert limits(snapshot) == SAMPLE
    fetched = site.paths()[asked:]
    assert "/static/app.js" in fetched, "the app's script must run to render the panel"
    assert not [p for p in fetched if p.endswith((".ttf", ".png"))], fetched


def test_headless_shell_is_used_and_sends_what_chrome_sends(
    site: StandIn, logged_in: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    light = shell.headless_shell(logged_in, headed=False)
    assert light is not None, "install chromium-headless-shell (scripts/install-browser)"
    caplog.set_level(logging.DEBUG)
    asked = len(site.requests)
    assert limits(scrape(logged_in, site)) == SAMPLE
    assert f"browser: {light.name} launched" in caplog.text
    for seen in site.requests[asked:]:
        headers = {k.lower(): v for k, v in seen.headers.items()}
        assert "HeadlessChrome" not in seen.user_agent + headers.get("sec-ch-ua", "")
        assert '"Chromium"' in headers.get("sec-ch-ua", "")
        assert headers.get("accept-language", "").startswith("en-US")


def test_a_headless_shell_that_does_not_start_is_replaced_by_chrome(
    site: StandIn,
    logged_in: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken = tmp_path / "chromium-headless-shell"
    broken.write_text("#!/bin/sh\necho 'cannot open shared object file' >&2\nexit 127\n")
    broken.chmod(0o755)
    monkeypatch.setattr(shell, "SHELL_PATHS", (broken,))
    monkeypatch.setattr(shell, "SHELL_NAMES", ())
    caplog.set_level(logging.DEBUG)
    assert limits(scrape(logged_in, site)) == SAMPLE
    assert "chromium-headless-shell did not start" in caplog.text
    assert on_profile(logged_in.profile) == []


def test_a_configured_browser_is_used_as_it_is(tmp_path: Path) -> None:
    chrome = Path(shutil.which("chromium") or "/usr/bin/chromium")
    assert shell.headless_shell(make_settings(tmp_path, chrome_binary=chrome), headed=False) is None
    assert shell.headless_shell(make_settings(tmp_path), headed=True) is None
