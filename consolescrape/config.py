"""Settings: command-line flag > environment variable > .env file > default (SPEC §3)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from consolescrape.errors import ConfigError, UsageError
from consolescrape.model import DEFAULT_MODEL_ROW

DEFAULT_SYNC_URL = "http://localhost:4000/api/claude/console-usage"
DEFAULT_USAGE_URL = "https://claude.ai/settings/usage"
KEY_VARIABLE = "CLAUDE_SYNC_API_KEY"

#: variable → (settings field, default as text or None); one table, also used by `doctor`.
VARIABLES: dict[str, tuple[str, str | None]] = {
    "CLAUDE_SYNC_URL": ("sync_url", DEFAULT_SYNC_URL),
    KEY_VARIABLE: ("api_key", None),
    "CLAUDE_SYNC_ALLOW_INSECURE": ("allow_insecure", "0"),
    "CLAUDE_SYNC_CA_BUNDLE": ("ca_bundle", None),
    "CONSOLESCRAPE_HOME": ("home", None),
    "CONSOLESCRAPE_USAGE_URL": ("usage_url", DEFAULT_USAGE_URL),
    "CONSOLESCRAPE_PROFILE_DIR": ("profile_dir", None),
    "CONSOLESCRAPE_CHROME_BINARY": ("chrome_binary", None),
    "CONSOLESCRAPE_CHROMEDRIVER": ("chromedriver", None),
    "CONSOLESCRAPE_TIMEOUT": ("timeout", "90"),
    "CLAUDE_SYNC_DEADLINE": ("sync_deadline", "60"),
    "CONSOLESCRAPE_MODEL_ROW": ("model_row", DEFAULT_MODEL_ROW),
    "CONSOLESCRAPE_HEALTHCHECK_URL": ("healthcheck_url", None),
    "CONSOLESCRAPE_OUTBOX_CAP": ("outbox_cap", "500"),
    "CONSOLESCRAPE_HISTORY_DAYS": ("history_days", "365"),
    "CONSOLESCRAPE_ALERT_AT": ("alert_at", None),
    "CONSOLESCRAPE_ALERT_COMMAND": ("alert_command", None),
    "CONSOLESCRAPE_METRICS_FILE": ("metrics_file", None),
}
#: Ten years: more is a typo, and the history file would grow without a useful bound.
MAX_HISTORY_DAYS = 3650


class Secret:
    """A value that never shows itself in repr, str, logs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Settings:
    home: Path
    sync_url: str = DEFAULT_SYNC_URL
    api_key: Secret | None = field(default=None, repr=False)
    allow_insecure: bool = False
    ca_bundle: Path | None = None
    usage_url: str = DEFAULT_USAGE_URL
    profile_dir: Path | None = None
    chrome_binary: Path | None = None
    chromedriver: Path | None = None
    timeout: float = 90.0
    sync_deadline: float = 60.0
    model_row: str = DEFAULT_MODEL_ROW
    healthcheck_url: str | None = None
    outbox_cap: int = 500
    history_days: int = 365
    #: alert thresholds in percent, ascending; empty: alerts off.
    alert_at: tuple[int | float, ...] = ()
    alert_command: str | None = None
    metrics_file: Path | None = None
    env_file: Path | None = None
    #: where each value came from ("flag", "env", ".env", "default"), for `doctor`.
    origins: Mapping[str, str] = field(default_factory=dict, compare=False)

    @property
    def profile(self) -> Path:
        return self.profile_dir or self.home / "profile"

    @property
    def data_file(self) -> Path:
        return self.home / "usage-data.json"

    @property
    def outbox_dir(self) -> Path:
        return self.home / "outbox"

    @property
    def debug_dir(self) -> Path:
        return self.home / "debug"

    @property
    def state_file(self) -> Path:
        return self.home / "state.json"

    @property
    def lock_file(self) -> Path:
        return self.home / "run.lock"

    @property
    def history_file(self) -> Path:
        return self.home / "history.db"


def default_home() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("consolescrape", appauthor=False))


def _is_true(text: str) -> bool:
    return text.strip().lower() in {"1", "true", "yes", "on"}


def _env_file_candidates(explicit: Path | None, home: Path) -> list[Path]:
    if explicit is not None:
        return [explicit]
    return [Path.cwd() / ".env", home / ".env"]


def _history_days(name: str, text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        days = 0
    if not 1 <= days <= MAX_HISTORY_DAYS:
        raise ConfigError(
            f"{name}={text!r} is not a whole number of days from 1 to {MAX_HISTORY_DAYS}",
            f"fix {name} (default 365)",
        )
    return days


def _alert_at(name: str, text: str) -> tuple[int | float, ...]:
    import math

    found: set[int | float] = set()
    for part in text.split(","):
        try:
            value = float(part)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and 0 < value <= 100):
            raise ConfigError(
                f"{name}={text!r}: {part.strip()!r} is not a percentage above 0 and at most 100",
                f"set {name} to thresholds separated by commas, e.g. {name}=80,95",
            )
        found.add(int(value) if value.is_integer() else value)
    return tuple(sorted(found))


def _alert_command(name: str, text: str) -> str:
    import shlex

    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise ConfigError(f"{name} cannot be split into words: {exc}", f"fix {name}") from None
    if not words:
        raise ConfigError(f"{name} is blank", f"fix {name}, or leave it unset")
    return text.strip()


_PATHS = {"home", "profile_dir", "ca_bundle", "chrome_binary", "chromedriver", "metrics_file"}
_CONVERTERS = {
    "history_days": _history_days,
    "alert_at": _alert_at,
    "alert_command": _alert_command,
}


def _convert(name: str, attr: str, text: str) -> Any:
    try:
        if attr in {"timeout", "sync_deadline"}:
            value = float(text)
            if not value > 0:
                raise ValueError
            return value
        if attr == "outbox_cap":
            cap = int(text)
            if cap < 1:
                raise ValueError
            return cap
    except ValueError:
        raise ConfigError(f"{name}={text!r} is not a positive number", f"fix {name}") from None
    if attr in _CONVERTERS:
        return _CONVERTERS[attr](name, text)
    if attr == "allow_insecure":
        return _is_true(text)
    if attr in _PATHS:
        return Path(text).expanduser()
    if attr == "api_key":
        return Secret(text.strip())
    return text.strip()


def load(
    flags: Mapping[str, Any] | None = None,
    *,
    env_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve every setting. `flags` maps field names to values given on the command line."""
    from dotenv import dotenv_values

    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    environ = os.environ if environ is None else environ
    if env_file is not None and not env_file.is_file():
        raise UsageError(f"--env-file {env_file}: no such file")

    home_text = environ.get("CONSOLESCRAPE_HOME")
    home = Path(flags["home"]) if "home" in flags else None
    if home is None and home_text:
        home = Path(home_text).expanduser()
    dotenv: dict[str, str] = {}
    used_file = None
    for candidate in _env_file_candidates(env_file, home or default_home()):
        if candidate.is_file():
            dotenv = {k: v for k, v in dotenv_values(candidate).items() if v is not None}
            used_file = candidate
            break

    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for name, (attr, default) in VARIABLES.items():
        if attr in flags:
            value, origin = flags[attr], "flag"
        elif name in environ:
            if environ[name] == "":  # set but empty: means "none", and hides .env's value
                if default is None:
                    origins[attr] = "env"
                    continue
                value, origin = _convert(name, attr, default), "default"
            else:
                value, origin = _convert(name, attr, environ[name]), "env"
        elif dotenv.get(name, "") != "":
            value, origin = _convert(name, attr, dotenv[name]), ".env"
        elif default is not None:
            value, origin = _convert(name, attr, default), "default"
        else:
            continue
        values[attr] = value
        origins[attr] = origin
    if "home" not in values:
        values["home"] = default_home()
        origins["home"] = "default"
    values["home"] = Path(values["home"]).expanduser().absolute()
    if isinstance(values.get("api_key"), str):
        values["api_key"] = Secret(values["api_key"])
    if values.get("api_key") is not None and not values["api_key"].reveal():
        del values["api_key"]
    return Settings(**values, env_file=used_file, origins=origins)


def is_loopback(host: str) -> bool:
    import ipaddress

    if host.lower() in {"localhost", "localhost.localdomain"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_sync_target(settings: Settings) -> None:
    """Refuse a sync URL that would not work or would expose the key (exit 7)."""
    parts = urlsplit(settings.sync_url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(
            f"CLAUDE_SYNC_URL {settings.sync_url!r} is not an http(s) URL",
            "set CLAUDE_SYNC_URL to the endpoint, e.g. https://example.com/api/claude/console-usage",
        )
    if parts.scheme == "http" and not is_loopback(parts.hostname) and not settings.allow_insecure:
        raise ConfigError(
            f"refusing to send the API key over plain http to {parts.hostname}",
            "use an https:// CLAUDE_SYNC_URL (or CLAUDE_SYNC_ALLOW_INSECURE=1 to accept the risk)",
        )
    if settings.ca_bundle is not None and not settings.ca_bundle.is_file():
        raise ConfigError(
            f"CLAUDE_SYNC_CA_BUNDLE {settings.ca_bundle}: no such file",
            "point CLAUDE_SYNC_CA_BUNDLE at the PEM file of your server's CA",
        )


def require_key(settings: Settings) -> Secret:
    if settings.api_key is None:
        raise ConfigError(
            f"no API key: {KEY_VARIABLE} is not set",
            f"put {KEY_VARIABLE}=... in {settings.home / '.env'} (or ./.env, or the environment)",
        )
    return settings.api_key
