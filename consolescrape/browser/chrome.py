"""Finding Chrome and chromedriver, and how Chrome is started: flags, user agent, environment.

No Selenium here except Selenium Manager, the last resort for a driver (it uses the network).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from consolescrape import store
from consolescrape.browser.cache import DISK_CACHE_BYTES
from consolescrape.config import KEY_VARIABLE, Settings
from consolescrape.errors import ConfigError, ScrapeFailed

logger = logging.getLogger(__name__)

CHROME_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
MAC_CHROMES = (
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
    "/Applications/Chromium.app/Contents/MacOS/Chromium",
)
#: The profile remembers which browser version its user agent was built from.
VERSION_CACHE = "consolescrape-browser.json"


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_browser(settings: Settings) -> tuple[Path, Path]:
    """(Chrome, chromedriver): configured paths, else PATH, else Selenium Manager for the driver."""
    if settings.chrome_binary is not None:
        chrome = settings.chrome_binary
        if not _executable(chrome):
            raise ConfigError(
                f"CONSOLESCRAPE_CHROME_BINARY {chrome}: no such executable",
                "point it at Chrome or Chromium, or unset it to search PATH",
            )
    else:
        found = next((p for p in map(shutil.which, CHROME_NAMES) if p), None)
        if found is None and sys.platform == "darwin":
            found = next((p for p in MAC_CHROMES if _executable(Path(p))), None)
        if found is None:
            raise ScrapeFailed(
                "no Chrome or Chromium found (looked for " + ", ".join(CHROME_NAMES) + ")",
                "install Chromium (Debian/Ubuntu: apt install chromium chromium-driver) "
                "or set CONSOLESCRAPE_CHROME_BINARY",
            )
        chrome = Path(found)
    if settings.chromedriver is not None:
        if not _executable(settings.chromedriver):
            raise ConfigError(
                f"CONSOLESCRAPE_CHROMEDRIVER {settings.chromedriver}: no such executable",
                "point it at chromedriver, or unset it to search PATH",
            )
        return chrome, settings.chromedriver
    driver = shutil.which("chromedriver")
    if driver is not None:
        return chrome, Path(driver)
    return chrome, _driver_from_selenium_manager(chrome, settings.timeout)


def _driver_from_selenium_manager(chrome: Path, timeout: float) -> Path:
    """Last resort: Selenium Manager (network!), without usage statistics, with a short timeout."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.selenium_manager import SeleniumManager

    # Without these it reports to plausible.io and waits up to 300 s on a silent network.
    os.environ["SE_AVOID_STATS"] = "true"
    args = ["--browser", "chrome", "--browser-path", str(chrome), "--avoid-stats"]
    args += ["--timeout", str(max(5, int(min(30.0, timeout / 3))))]
    try:
        path = Path(SeleniumManager().binary_paths(args)["driver_path"])
    except (WebDriverException, KeyError, OSError, ValueError):
        path = Path()
    if not _executable(path):
        raise ScrapeFailed(
            "no chromedriver found on PATH, and Selenium Manager could not provide one",
            "install the chromedriver of your Chrome's version (Debian/Ubuntu: apt install "
            "chromium-driver) or set CONSOLESCRAPE_CHROMEDRIVER",
        )
    return path


HEADLESS_LOGIN_ADVICE = (
    "on a machine without a screen, copy the sessionKey cookie from a logged-in browser "
    "and run `consolescrape login --session-key-stdin`"
)


def check_display(advice: str) -> None:
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        raise ConfigError("no display for a visible browser (DISPLAY is not set)", advice)


def binary_version(binary: Path) -> str | None:
    """The dotted version a Chrome or chromedriver binary prints for --version, if any."""
    try:
        done = subprocess.run(
            [str(binary), "--version"],
            capture_output=True,
            text=True,
            timeout=15,
            check=False,
            env=child_env(),
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"\d+\.\d+\.\d+(?:\.\d+)?", done.stdout)
    return match.group(0) if match else None


def user_agent(chrome: Path, profile: Path) -> str | None:
    """A user agent like the headed browser's, so headless runs never say "HeadlessChrome".

    Built from the binary's version (cached in the profile until the binary changes: asking it
    costs a process start) and passed as --user-agent: unlike a CDP override, the flag keeps the
    Sec-CH-UA client hints and applies to every tab and worker.
    """
    try:
        info = chrome.resolve().stat()
    except OSError:
        return None
    stamp = [str(chrome), info.st_mtime_ns, info.st_size]
    cache = profile / VERSION_CACHE
    major = None
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        doc = json.loads(store.read_bounded(cache, 64 * 1024))  # never blocks on a FIFO
        if doc["binary"] == stamp:
            major = int(doc["major"])
    if major is None:
        version = binary_version(chrome)
        if version is None:
            logger.debug(f"browser: no version in `{chrome} --version`; keeping its own user agent")
            return None
        major = int(version.split(".", 1)[0])
        with contextlib.suppress(OSError):
            store.write_private(cache, json.dumps({"binary": stamp, "major": major}).encode())
    # Chrome's reduced user agent: the platform part is frozen per OS, the version is MAJOR.0.0.0.
    if sys.platform == "darwin":
        system = "Macintosh; Intel Mac OS X 10_15_7"
    elif sys.platform == "win32":
        system = "Windows NT 10.0; Win64; x64"
    else:
        system = "X11; Linux x86_64"
    return (
        f"Mozilla/5.0 ({system}) AppleWebKit/537.36 (KHTML, like Gecko) "
        f"Chrome/{major}.0.0.0 Safari/537.36"
    )


def child_env() -> dict[str, str]:
    """Our environment without the sync key (or any other API key) for chromedriver and Chrome."""
    return {
        name: value
        for name, value in os.environ.items()
        if name != KEY_VARIABLE and "API_KEY" not in name.upper()
    }


def chrome_flags(profile: Path, *, headed: bool) -> list[str]:
    flags = [
        f"--user-data-dir={profile}",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--mute-audio",
        "--lang=en-US",
        "--disable-blink-features=AutomationControlled",
        "--window-size=1280,1000",
        # Two renderers we never use: the omnibox's WebUI popup and a spare kept ready for the
        # next navigation. Measured: -200 MiB (-21 %) of browser-tree memory, same wall time.
        "--disable-features=WebUIOmniboxPopup,WebUIOmniboxAimPopup,WebUIOmniboxFullPopup,"
        "SpareRendererForSitePerProcess",
        # The profile lives for months: without a cap, a site whose bundles change with each
        # deploy grew it by their size every run (6 → 803 MB in 130 runs). The cap keeps a
        # deploy's bundles (claude.ai's are a few MB compressed); see browser/cache.py.
        f"--disk-cache-size={DISK_CACHE_BYTES}",
        f"--media-cache-size={DISK_CACHE_BYTES}",
    ]
    if not headed:
        flags.append("--headless=new")
    if sys.platform.startswith("linux"):
        # The cookie key must not depend on a desktop keyring: cron has no D-Bus session, and
        # cookies saved at a headed login under the keyring would be unreadable (= logged out).
        flags.append("--password-store=basic")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        flags.append("--no-sandbox")  # as root Chrome refuses to start with its sandbox
    return flags
