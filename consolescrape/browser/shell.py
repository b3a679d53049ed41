"""The headless shell: the old headless browser, without the full browser's UI layer.

Debian packages it as `chromium-headless-shell`, Chrome for Testing as `chrome-headless-shell`;
it is run instead of Chrome for headless runs when it is installed. Measured on the heavy
stand-in page (`make bench`, README "What a run costs"): about half the CPU time and memory of
`chromium --headless=new`.

chromedriver drives it only when asked for it by name (browserName "chrome-headless-shell"):
started for remote debugging without a URL, the shell opens no page, and only for that name
does chromedriver pass one ("data:,"). Asked for "chrome", chromedriver polls /json/list for a
page that never comes and fails after 60 s with "unable to discover open pages" (its --verbose
log shows the empty answers). A shell that does not start is replaced by Chrome for the run.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from consolescrape import model, store
from consolescrape.config import Settings

if TYPE_CHECKING:
    from selenium.webdriver import ChromeOptions
    from selenium.webdriver.chrome.webdriver import WebDriver

#: Where the headless shell is: Debian's package (the binary itself, not its /usr/bin wrapper,
#: which stays behind as one more process), then the names Chrome for Testing and others use.
SHELL_PATHS = (Path("/usr/lib/chromium/chromium-headless-shell"),)
SHELL_NAMES = ("chrome-headless-shell", "chromium-headless-shell")
INSTALL_ADVICE = (
    "for about half the CPU time and memory, install the headless shell: "
    "scripts/install-browser (Debian/Ubuntu: apt install chromium-headless-shell)"
)
#: What chromedriver must be told to drive a headless shell (see the module's docstring).
SHELL_BROWSER_NAME = "chrome-headless-shell"
SHELL_FLAGS = (
    # The shell ignores the profile preferences the session sets: images off and the language
    # (without this it sends no Accept-Language at all) need their switches.
    "--blink-settings=imagesEnabled=false",
    "--accept-lang=en-US,en",
    # One process less each: the GPU process draws nothing we read, and the network service
    # can live in the browser process. Measured: -50 and -67 MiB of the tree's memory.
    "--in-process-gpu",
    "--enable-features=NetworkServiceInProcess2",
)
ACCEPT_LANGUAGE = "en-US,en;q=0.9"


#: After the site shows the headless shell a bot check, runs use Chrome for this long: the
#: shell's fingerprint differs from Chrome's (no `window.chrome`, no plugins), and a site that
#: challenged it once is likely to again.
REFUSED_FOR = timedelta(days=7)


def headless_shell(settings: Settings, *, headed: bool) -> Path | None:
    """The headless shell to run instead of Chrome: only headless, only when the browser is
    not configured (CONSOLESCRAPE_CHROME_BINARY is used as it is, a shell included), and not
    while the site refuses the shell (`refused_until`)."""
    if headed or settings.chrome_binary is not None or refused_until(settings) is not None:
        return None
    for path in SHELL_PATHS:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    found = next((p for p in map(shutil.which, SHELL_NAMES) if p), None)
    return Path(found) if found else None


def refused_until(settings: Settings, now: datetime | None = None) -> datetime | None:
    """Until when runs use Chrome because the site showed the shell a bot check; None: not."""
    with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
        until = model.parse_time(store.read_json(settings.shell_refused_file)["until"])
        if until > (now or datetime.now(UTC)):
            return until
    return None


def refuse(settings: Settings, now: datetime | None = None) -> datetime:
    """Remember that the site showed the shell a bot check: Chrome for the next REFUSED_FOR."""
    now = now or datetime.now(UTC)
    until = now + REFUSED_FOR
    doc = {"since": model.format_time(now), "until": model.format_time(until)}
    store.write_json(settings.shell_refused_file, doc)
    return until


def is_shell(binary: Path) -> bool:
    return "headless-shell" in binary.name or "headless_shell" in binary.name


def adapt(options: ChromeOptions, binary: Path) -> None:
    """What a headless shell needs beyond Chrome's options (nothing for Chrome itself)."""
    if not is_shell(binary):
        return
    options.set_capability("browserName", SHELL_BROWSER_NAME)
    for flag in SHELL_FLAGS:
        options.add_argument(flag)


def started(driver: WebDriver, binary: Path, agent: str | None) -> None:
    """Make a headless shell look like the Chrome it is built from: it names itself
    "HeadlessChrome" in the Sec-CH-UA client hints, which --user-agent does not change."""
    if not is_shell(binary) or not agent:
        return
    major = agent.split("Chrome/", 1)[1].split(".", 1)[0]
    brands = [{"brand": _grease_brand(int(major)), "version": _grease_version(int(major))}]
    brands.append({"brand": "Chromium", "version": major})
    metadata = {
        "brands": brands,
        "fullVersionList": [{**b, "version": f"{b['version']}.0.0.0"} for b in brands],
        "platform": _platform(agent),
        "platformVersion": "",
        "architecture": "",
        "model": "",
        "mobile": False,
    }
    driver.execute_cdp_cmd(
        "Emulation.setUserAgentOverride",
        {"userAgent": agent, "acceptLanguage": ACCEPT_LANGUAGE, "userAgentMetadata": metadata},
    )


def _grease_brand(major: int) -> str:
    """Chromium's made-up brand for a major version (components/embedder_support/
    user_agent_utils.cc), e.g. "Not:A-Brand" for 156, as its headers show."""
    chars = " (:-./);=?_"
    return f"Not{chars[major % len(chars)]}A{chars[(major + 1) % len(chars)]}Brand"


def _grease_version(major: int) -> str:
    return ("8", "99", "24")[major % 3]


def _platform(agent: str) -> str:
    if "Macintosh" in agent:
        return "macOS"
    return "Windows" if "Windows" in agent else "Linux"
