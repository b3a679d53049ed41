"""`consolescrape login` with a visible window, on a virtual screen (Xvfb): the first thing a
laptop user runs. The window opens on the usage URL, a login completed in it is detected and
the window closes by itself; closed early or never completed, it says so and leaves nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import CLI, processes_mentioning
from support.site import StandIn

KEY = "window-login-session-6061"
PAGES = Path(__file__).parent / "fixtures" / "pages"


@pytest.fixture(scope="module")
def screen() -> Iterator[str]:
    """A virtual X screen of its own; its DISPLAY value."""
    xvfb = shutil.which("Xvfb")
    assert xvfb, "Xvfb is missing: `make test` installs it (scripts/install-browser --display)"
    read, write = os.pipe()
    server = subprocess.Popen(
        [xvfb, "-displayfd", str(write), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as numbers:
        display = ":" + numbers.readline().strip()
    try:
        yield display
    finally:
        server.terminate()
        server.wait(10)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[StandIn]:
    page = tmp_path / "login.html"
    page.write_text((PAGES / "login_completes.html").read_text().replace("SESSION_KEY", KEY))
    with StandIn(session_key=KEY) as server:
        server.configure(pages={"/login": page})
        yield server


def windows(display: str) -> list[str]:
    done = subprocess.run(
        ["xdotool", "search", "--onlyvisible", "--class", "chromium"],
        env={**os.environ, "DISPLAY": display},
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.split()


def login(cli: CLI, site: StandIn, display: str, *args: str) -> subprocess.Popen[str]:
    """`consolescrape login` in the background, as a person starts it in a terminal."""
    del cli  # the fixture sets up the hermetic home and environment this process inherits
    return subprocess.Popen(
        [sys.executable, "-m", "consolescrape", "login", "--json", "--url", site.url, *args],
        env={**os.environ, "DISPLAY": display},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_window_login_is_detected_and_the_window_closes_by_itself(
    cli: CLI, site: StandIn, screen: str, home: Path
) -> None:
    child = login(cli, site, screen, "--timeout", "40")
    out, err = child.communicate(timeout=90)
    assert child.returncode == 0, err
    assert json.loads(out)["ok"] is True
    assert site.paths()[0] == "/settings/usage", "the window opens on the usage URL"
    assert any(p.startswith("/login") for p in site.paths()), "a login, completed in the page"
    assert windows(screen) == []
    assert processes_mentioning(home / "profile") == []
    # The profile now holds the session: a headless run reads the usage page with it.
    result = cli("run", "--url", site.url)
    assert result.code == 0, result.stderr


def test_window_closed_before_the_login_says_so_and_leaves_nothing(
    cli: CLI, site: StandIn, screen: str, home: Path
) -> None:
    site.configure(pages={})  # the login page never completes: the person closes the window
    child = login(cli, site, screen, "--timeout", "60")
    until = time.monotonic() + 30
    while not windows(screen) and time.monotonic() < until:
        time.sleep(0.2)
    [window, *_] = windows(screen)
    time.sleep(1)
    subprocess.run(["xdotool", "windowkill", window], env={**os.environ, "DISPLAY": screen})
    out, err = child.communicate(timeout=60)
    assert child.returncode == 3, err
    assert "closed" in json.loads(out)["error"]["message"]
    assert processes_mentioning(home / "profile") == []


def test_window_login_never_completed_ends_at_its_deadline(
    cli: CLI, site: StandIn, screen: str, home: Path
) -> None:
    site.configure(pages={})
    began = time.monotonic()
    child = login(cli, site, screen, "--timeout", "3")
    out, err = child.communicate(timeout=60)
    assert child.returncode == 3, err
    assert "did not show within 3 s" in json.loads(out)["error"]["message"]
    assert time.monotonic() - began < 20
    assert windows(screen) == []
    assert processes_mentioning(home / "profile") == []
