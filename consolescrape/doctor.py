"""`consolescrape doctor`: check the set-up, one line per check, each failure with its fix."""

from __future__ import annotations

import dataclasses
import os
import shlex
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from consolescrape import config, history, model, oauth, store, sync
from consolescrape.browser import shell
from consolescrape.browser.chrome import binary_version, find_browser
from consolescrape.config import Settings
from consolescrape.errors import LOGIN_ADVICE, ConsolescrapeError, Locked


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "check": self.name,
            "ok": self.ok,
            "detail": self.detail,
            "fix": self.fix or None,
            "required": self.required,
        }


def _major(version: str | None) -> str | None:
    return version.split(".", 1)[0] if version else None


def check_browser(settings: Settings) -> list[Check]:
    try:
        chrome, driver = find_browser(settings)
    except ConsolescrapeError as exc:
        return [Check("browser and driver", False, exc.message, exc.advice or "")]
    chrome_version = binary_version(chrome)
    driver_version = binary_version(driver)
    checks = [
        Check(
            "browser",
            chrome_version is not None,
            f"{chrome} {chrome_version or '(no version)'}",
            "set CONSOLESCRAPE_CHROME_BINARY to a working Chrome/Chromium",
        ),
    ]
    if driver_version is None:
        checks.append(
            Check(
                "chromedriver",
                False,
                f"{driver} does not answer --version",
                "install chromedriver, or set CONSOLESCRAPE_CHROMEDRIVER",
            )
        )
    elif _major(driver_version) != _major(chrome_version):
        checks.append(
            Check(
                "chromedriver",
                False,
                f"{driver} {driver_version} does not match the browser's major version "
                f"{_major(chrome_version)}",
                "install the chromedriver of the same major version (Debian: chromium-driver)",
            )
        )
    else:
        checks.append(Check("chromedriver", True, f"{driver} {driver_version}"))
    checks.append(check_headless(settings, chrome, driver_version))
    return checks


def check_headless(settings: Settings, chrome: Path, driver_version: str | None) -> Check:
    """Which browser a headless run uses: the headless shell when it is installed and matches
    chromedriver, else Chrome (never a failure: both work, the shell costs less)."""

    refused = shell.refused_until(settings)
    if refused is not None and settings.chrome_binary is None:
        return Check(
            "headless browser",
            True,
            f"{chrome.name} --headless=new: the site showed the headless shell a bot check, so "
            f"runs use Chrome until {refused.astimezone():%Y-%m-%d %H:%M}",
            required=False,
        )
    light = shell.headless_shell(settings, headed=False)
    if light is None:
        why = "configured" if settings.chrome_binary is not None else "no headless shell found"
        return Check(
            "headless browser",
            True,
            f"{chrome.name} --headless=new ({why})",
            "" if settings.chrome_binary is not None else shell.INSTALL_ADVICE,
            required=False,
        )
    version = binary_version(light)
    if _major(version) != _major(driver_version):
        return Check(
            "headless browser",
            False,
            f"{light} {version or '(no version)'} does not match chromedriver's major version, "
            f"so runs use {chrome.name}",
            "install the headless shell of chromedriver's version, or remove it",
            required=False,
        )
    return Check(
        "headless browser",
        True,
        f"{light} {version} (the headless shell; {chrome.name} when it does not start)",
        required=False,
    )


def check_profile(settings: Settings) -> Check:
    profile = settings.profile
    if not profile.is_dir():
        return Check(
            "profile",
            False,
            f"{profile} does not exist",
            LOGIN_ADVICE,
        )
    info = profile.stat()
    if info.st_uid != os.getuid():
        return Check(
            "profile",
            False,
            f"{profile} is owned by uid {info.st_uid}, not you",
            f"chown -R $(id -u) {shlex.quote(str(profile))}",
        )
    if info.st_mode & 0o077:
        return Check(
            "profile",
            False,
            f"{profile} is mode {info.st_mode & 0o777:o}, readable "
            "by others (it holds your session)",
            f"chmod 700 {shlex.quote(str(profile))}",
        )
    return Check("profile", True, f"{profile} (0700; add --online to check the login)")


def check_online(settings: Settings) -> Check:
    # Only `--online` opens the page: Selenium is loaded for it alone.
    from consolescrape.browser.scrape import scrape

    try:
        # The lock keeps this browser and a cron run's from killing each other's processes
        # (each clears leftovers on the shared profile at start).
        with store.hold_home(settings.home):
            snapshot = scrape(settings)
    except Locked:
        return Check("logged in", False, "a run is in progress right now", "try again in a minute")
    except ConsolescrapeError as exc:
        return Check("logged in", False, exc.message, exc.advice or "")
    return Check("logged in", True, f"usage page read: {model.summary(snapshot)}")


def check_sync(settings: Settings) -> list[Check]:
    checks = []
    try:
        config.check_sync_target(settings)
        checks.append(Check("sync URL", True, settings.sync_url))
    except ConsolescrapeError as exc:
        return [Check("sync URL", False, exc.message, exc.advice or "")]
    if settings.api_key is None:
        checks.append(
            Check(
                "API key",
                False,
                f"{config.KEY_VARIABLE} is not set",
                f"add {config.KEY_VARIABLE}=... to {config.env_file_for(settings)}",
            )
        )
        return checks
    checks.append(Check("API key", True, f"set (from {settings.origins.get('api_key', '?')})"))
    checks.append(check_endpoint(settings))
    return checks


def check_endpoint(settings: Settings) -> Check:
    try:
        answer = sync.probe(settings)
    except ConsolescrapeError as exc:
        return Check("endpoint", False, exc.message, exc.advice or "")
    name = "endpoint"
    verdict = answer.verdict
    if verdict is sync.Verdict.DATA_REFUSED and answer.status == 400:
        return Check(
            name, True, "reachable, key accepted (probe refused as intended, nothing stored)"
        )
    if verdict is sync.Verdict.KEY_REFUSED:
        return Check(
            name,
            False,
            f"reachable, but the key was refused: {answer.message}",
            f"set {config.KEY_VARIABLE} to the server's key",
        )
    if answer.status == 0:
        return Check(
            name,
            False,
            f"unreachable: {answer.message}",
            "check that the server is up and CLAUDE_SYNC_URL's host and port",
        )
    if verdict is sync.Verdict.MISCONFIGURED:
        error = answer.misconfiguration(settings.sync_url)
        return Check(name, False, error.message, error.advice or "")
    if verdict is sync.Verdict.SENT:
        return Check(name, True, f"reachable (HTTP {answer.status})")
    return Check(
        name, False, f"HTTP {answer.status}: {answer.message}", "look at the server's logs"
    )


def check_home(settings: Settings) -> Check:
    try:
        store.check_home(settings.home)
    except ConsolescrapeError as exc:
        return Check("data dir", False, exc.message, exc.advice or "")
    try:
        store.private_dir(settings.home)
        with tempfile.NamedTemporaryFile(dir=settings.home, prefix=".doctor-"):
            pass
    except OSError as exc:
        return Check(
            "data dir",
            False,
            f"{settings.home}: {exc.strerror or exc}",
            "set CONSOLESCRAPE_HOME to a directory you can write",
        )
    return Check("data dir", True, f"{settings.home} (writable)")


def check_env_file(settings: Settings) -> Check:
    if settings.env_file is None:
        return Check(
            ".env",
            True,
            f"none: {config.env_file_for(settings)} does not exist (settings from the environment)",
            required=False,
        )
    mode = settings.env_file.stat().st_mode & 0o777
    if mode & 0o044:
        return Check(
            ".env",
            False,
            f"{settings.env_file} is mode {mode:o}, readable by others",
            f"chmod 600 {shlex.quote(str(settings.env_file))}",
        )
    return Check(".env", True, f"{settings.env_file} ({mode:o})")


def check_ignored_dotenv(settings: Settings) -> Check | None:
    """A ./.env holding our variables was read by older versions; now it is not: say so."""
    local = Path.cwd() / ".env"
    if local == settings.env_file or not local.is_file():
        return None
    names = config.our_names(local)
    if not names:
        return None
    return Check(
        "ignored ./.env",
        False,
        f"{local} sets {', '.join(names)}, but the working directory's .env is never read "
        f"(settings come from {config.env_file_for(settings)})",
        f"move those lines to {config.env_file_for(settings)}, or pass --env-file {local}",
        required=False,
    )


def check_model_row(settings: Settings) -> Check:
    try:
        snapshot = store.load_snapshot(settings.data_file)
    except ValueError:
        snapshot = None
    hint = model.model_row_hint(snapshot, settings.model_row) if snapshot else None
    if hint:
        return Check("model row", False, hint, "", required=False)
    return Check("model row", True, f"CONSOLESCRAPE_MODEL_ROW={settings.model_row}", required=False)


def check_organization(settings: Settings) -> Check:
    """CONSOLESCRAPE_ORG against the organization the last run read; several paid ones."""
    try:
        snapshot = store.load_snapshot(settings.data_file)
    except ValueError:
        snapshot = None
    org = (snapshot.organization if snapshot else None) or {}
    read = org.get("name")
    shown = f"{read} ({org['plan']})" if read and org.get("plan") else str(read)
    name = "organization"
    pin = settings.org
    if pin:
        if not read:
            return Check(
                name, True, f"CONSOLESCRAPE_ORG={pin} (no data read yet; --online checks it)"
            )
        wanted = pin.casefold()
        if org.get("chosenBy") == "CONSOLESCRAPE_ORG" and wanted in (
            str(org.get("uuid", "")).casefold(),
            str(read).casefold(),
        ):
            return Check(name, True, f"CONSOLESCRAPE_ORG={pin}: the last run read {shown}")
        return Check(
            name,
            False,
            f"the last data was read from {shown}, not CONSOLESCRAPE_ORG={pin}",
            "run `consolescrape run` (or `doctor --online`) to read the pinned organization",
            required=False,
        )
    others = org.get("otherPaid")
    if isinstance(others, list) and others:
        return Check(
            name,
            False,
            f"read {shown}, the first paid one; also paid: {', '.join(map(str, others))}",
            "set CONSOLESCRAPE_ORG=<uuid or name> to choose which one is read",
            required=False,
        )
    detail = f"{shown} ({org.get('chosenBy')})" if read else "not known yet (no data read)"
    return Check(name, True, detail)


def check_history(settings: Settings) -> Check:
    """history.db readable, intact and writable; a broken one only costs history and alerts."""

    path = settings.history_file
    try:
        # A dangling link or a stray -shm there is a problem to name, not "none yet".
        if not history.present(path):
            return Check("history", True, f"{path} (none yet: the next run starts it)")
        detail = history.check(path)
    except history.HistoryError as exc:
        return Check(
            "history",
            False,
            f"{exc.message} — runs still save and sync, without history or alerts",
            exc.advice or "",
        )
    return Check("history", True, f"{path} ({detail})")


def check_oauth(settings: Settings, *, online: bool) -> list[Check]:
    """Claude Code's token for the oauth source: where, how long it lasts (never the token);
    with `online`, one request to the endpoint. Required only when the source is `oauth`."""

    required = settings.source == "oauth"
    now = datetime.now(UTC)
    try:
        token = oauth.usable_token(now)
    except oauth.Unavailable as exc:
        fallback = " (auto reads the usage page instead)" if settings.source == "auto" else ""
        return [
            Check(
                "oauth token",
                False,
                exc.error.message + fallback,
                exc.error.advice or "",
                required=required,
            )
        ]
    hours = token.hours_left(now)
    expiry = f"expires in {hours:.1f} hours" if hours is not None else "no expiry recorded"
    checks = [Check("oauth token", True, f"found in {token.where} ({expiry})", required=required)]
    if online:
        try:
            snapshot = oauth.read(settings, seconds=oauth.client.SECONDS, secrets=[])
        except (oauth.Unavailable, ConsolescrapeError) as exc:
            error = exc.error if isinstance(exc, oauth.Unavailable) else exc
            found = Check("oauth endpoint", False, error.message, error.advice or "")
        else:
            found = Check("oauth endpoint", True, f"usage read: {model.summary(snapshot)}")
        checks.append(dataclasses.replace(found, required=required))
    return checks


def check_source(settings: Settings) -> Check:
    """Which way `run` reads the limits; the oauth checks follow when it is not the browser."""
    if settings.source == "browser":
        return Check(
            "source",
            True,
            "browser (the usage page); CONSOLESCRAPE_SOURCE=auto would use Claude Code's login "
            "when it has one",
            required=False,
        )
    return Check("source", True, settings.source, required=False)


def check_names(settings: Settings) -> Check:
    """Variables with our prefix that no setting reads: a typo leaves its setting unset."""
    if not settings.unknown:
        return Check("setting names", True, "every CONSOLESCRAPE_*/CLAUDE_SYNC_* name is known")
    fixes = []
    for name, where in settings.unknown:
        guess = config.closest_name(name)
        fixes.append(f"rename {name} to {guess} in {where}" if guess else f"remove {name}")
    return Check(
        "setting names",
        False,
        "; ".join(config.unknown_warnings(settings)),
        "; ".join(fixes),
        required=False,
    )


def check_healthcheck(settings: Settings, *, online: bool) -> Check | None:
    """The dead-man's-switch URL (its syntax is checked when loaded); --online pings it once."""
    url = settings.healthcheck_url
    if url is None:
        return None
    shown = config.shown_url(url)
    if not online:
        return Check("health check", True, f"{shown} (add --online to ping it once)")

    if sync.ping_health(url, ok=True):
        return Check("health check", True, f"{shown} answered (pinged once)")
    return Check(
        "health check",
        False,
        f"{shown} did not answer with a success within 5 s",
        "check CONSOLESCRAPE_HEALTHCHECK_URL and that its host is reachable from here",
    )


def check_alert_command(settings: Settings) -> Check | None:
    """The alert command's program: found on PATH (or at its path) and executable."""

    command = settings.alert_command
    if command is None:
        return None
    program = shlex.split(command)[0]
    found = shutil.which(program)
    if found is None:
        exists = os.path.sep in program and os.path.exists(program)
        return Check(
            "alert command",
            False,
            f"{program} is not executable" if exists else f"{program} is not found",
            f"chmod +x {program}"
            if exists
            else "set CONSOLESCRAPE_ALERT_COMMAND to a program on PATH, or to its full path",
        )
    return Check("alert command", True, f"{found} (executable)")


def check_metrics_file(settings: Settings) -> Check | None:
    """The metrics file's folder exists and is writable (the file is replaced atomically)."""
    path = settings.metrics_file
    if path is None:
        return None
    folder = path.parent
    if not folder.is_dir():
        return Check(
            "metrics file",
            False,
            f"{folder} does not exist" if not folder.exists() else f"{folder} is not a directory",
            f"mkdir -p {folder}, or set CONSOLESCRAPE_METRICS_FILE elsewhere",
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        return Check(
            "metrics file",
            False,
            f"{folder} is not writable by you",
            f"give yourself write access to {folder}, or set CONSOLESCRAPE_METRICS_FILE elsewhere",
        )
    return Check("metrics file", True, f"{path} (folder writable)")


def run_checks(settings: Settings, *, online: bool) -> list[Check]:
    steps: list[Callable[[], Check | list[Check] | None]] = [
        lambda: check_browser(settings),
        lambda: check_profile(settings),
    ]
    if settings.source == "oauth":
        # No browser is started for this source: its set-up is worth a look, not a failure.
        steps = [lambda: _optional([*check_browser(settings), check_profile(settings)])]
    if online and settings.source != "oauth":
        steps.append(lambda: check_online(settings))
    steps.append(lambda: check_source(settings))
    if settings.source != "browser":
        steps.append(lambda: check_oauth(settings, online=online))
    steps += [
        lambda: check_sync(settings),
        lambda: check_home(settings),
        lambda: check_history(settings),
        lambda: check_env_file(settings),
        lambda: [found] if (found := check_ignored_dotenv(settings)) else [],
        lambda: check_names(settings),
        lambda: check_model_row(settings),
        lambda: check_organization(settings),
        lambda: check_healthcheck(settings, online=online),
        lambda: check_alert_command(settings),
        lambda: check_metrics_file(settings),
    ]
    checks: list[Check] = []
    for step in steps:
        found = step()
        if found is not None:  # a check of an optional setting that is not set
            checks += found if isinstance(found, list) else [found]
    return checks


def _optional(checks: list[Check]) -> list[Check]:
    return [dataclasses.replace(c, required=False) for c in checks]


def resolved_settings(settings: Settings) -> list[tuple[str, str, str]]:
    """(variable, value, origin) for every setting; the key is only ever "set"."""
    table = []
    for name, attr in ((var.name, var.attr) for var in config.VARIABLES):
        value = getattr(settings, attr)
        if attr == "api_key":
            shown = "(set)" if value is not None else "(not set)"
        elif attr.endswith("url") and value is not None:
            shown = config.shown_url(value)
        else:
            shown = "" if value is None else str(value)
        table.append((name, shown, settings.origins.get(attr, "default")))
    return table
