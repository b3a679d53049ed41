"""Settings: command-line flag > environment variable > .env file > default.

The .env file is `--env-file`, else `<home>/.env`; the working directory's `.env` is never read
(cron starts in `$HOME`, where another project's `.env` would win).

Every variable is listed in the README (Configuration) and .env.example.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urlsplit

from consolescrape.errors import ConfigError, UsageError
from consolescrape.model import DEFAULT_MODEL_ROW

DEFAULT_SYNC_URL = "http://localhost:4000/api/claude/console-usage"
DEFAULT_USAGE_URL = "https://claude.ai/settings/usage"
KEY_VARIABLE = "CLAUDE_SYNC_API_KEY"
#: Claude Code's own usage endpoint, read with its OAuth login (README, Reading without a browser).
DEFAULT_OAUTH_URL = "https://api.anthropic.com/api/oauth/usage"
#: Where the limits are read: the usage page in the browser, Claude Code's OAuth usage
#: endpoint, or the endpoint when a usable token exists and the browser otherwise.
SOURCES = ("browser", "oauth", "auto")


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


class InHome:
    """A path under the settings' home: `data_file = InHome("usage-data.json")`."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, settings: Settings, owner: type[Settings] | None = None) -> Path:
        return settings.home / self.name


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
    #: "send" (the contract: partial snapshots go out) or "hold" (kept local, see
    #: docs/server-contract.md)
    partial: str = "send"
    #: the organization to read, by uuid or name (None: lastActiveOrg, a paid plan, first chat)
    org: str | None = None
    source: str = "browser"
    oauth_url: str = DEFAULT_OAUTH_URL
    env_file: Path | None = None
    #: where each value came from ("flag", "env", ".env", "default"), for `doctor`.
    origins: Mapping[str, str] = field(default_factory=dict, compare=False)
    #: (name, where) of variables with our prefix that no setting reads: typos, warned about.
    unknown: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    # The files under the home (README, Files).
    data_file = InHome("usage-data.json")
    outbox_dir = InHome("outbox")
    debug_dir = InHome("debug")
    state_file = InHome("state.json")
    lock_file = InHome("run.lock")
    history_file = InHome("history.db")
    #: Until when runs use Chrome: the site showed the headless shell a bot check.
    shell_refused_file = InHome("shell-refused.json")

    @property
    def profile(self) -> Path:
        return self.profile_dir or self.home / "profile"


def default_home() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("consolescrape", appauthor=False))


def _env_file_candidates(explicit: Path | None, home: Path) -> list[Path]:
    if explicit is not None:
        return [explicit]
    return [home / ".env"]


def env_file_for(settings: Settings) -> Path:
    """The .env a message should name: the one read, else the one that would be."""
    return settings.env_file or settings.home / ".env"


def our_names(path: Path) -> list[str]:
    """Our variables named in a .env file (names only: values are never read out)."""
    try:
        names = _read_dotenv(path)
    except (OSError, ConfigError):
        return []
    return sorted(n for n in names if n.startswith(("CONSOLESCRAPE_", "CLAUDE_SYNC_")))


# --- reading each variable's text -------------------------------------------------------------


def _text(name: str, text: str) -> str:
    return text.strip()


#: The words a boolean setting takes; anything else is a typo, never silently "off".
SWITCH_WORDS = {
    "1": True,
    "true": True,
    "yes": True,
    "on": True,
    "0": False,
    "false": False,
    "no": False,
    "off": False,
}


def _given(name: str, text: str) -> str:
    """How a message shows what was given: `--timeout 5000` or `CONSOLESCRAPE_TIMEOUT='5000'`."""
    return f"{name} {text}" if name.startswith("--") else f"{name}={text!r}"


def _switch(name: str, text: str) -> bool:
    word = text.strip().lower()
    if word not in SWITCH_WORDS:
        raise ConfigError(
            f"{_given(name, text)} is not a yes/no value",
            f"set {name} to one of: true, false, 1, 0, yes, no, on, off",
        )
    return SWITCH_WORDS[word]


def _url(example: str) -> Parse:
    """An http(s) URL with a host; a password in it is never shown in the message. (Only web
    pages are read: a file: or data: usage URL would hand local files to the browser.)"""

    def parse(name: str, text: str) -> str:
        url = text.strip()
        parts = _split(url)
        if parts is None or parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ConfigError(
                f"{_given(name, shown_url(url))} is not an http(s) URL with a host",
                f"set {name} to an http:// or https:// URL, e.g. {example}",
            )
        return url

    return parse


def _directory(name: str, text: str) -> Path:
    """A directory's path: one that names a file is refused now, not reported as missing later."""
    path = _path(name, text)
    if path.exists() and not path.is_dir():
        raise ConfigError(
            f"{_given(name, text)} is a file, not a directory",
            f"set {name} to a directory (it is created when missing)",
        )
    return path


def _path(name: str, text: str) -> Path:
    return Path(text).expanduser()


def _api_key(name: str, text: str) -> Secret:
    """The key as the header will carry it; a control character in it is a typo, not a key."""
    key = text.strip()
    if any(ord(char) < 32 or ord(char) == 127 for char in key):
        # Never retried: requests refuses such a header before anything is sent.
        raise ConfigError(
            f"{name} contains a line break or another control character",
            f"set {name} to the key alone, on one line",
        )
    return Secret(key)


def _number(low: float, high: float, unit: str, *, whole: bool = False) -> Parse:
    """A number within [low, high]: an `inf` or `1e12` never reaches a timer (it crashed a
    thread), and a typo never disables a deadline or the history's retention."""

    def parse(name: str, text: str) -> float:
        advice = f"set {name} to {low:g}–{high:g} {unit}"
        try:
            value = float(text)
        except ValueError:
            raise ConfigError(f"{_given(name, text)} is not a number", advice) from None
        # `not low <= value` also catches nan, which compares false with everything.
        if not low <= value <= high or (whole and not value.is_integer()):
            raise ConfigError(f"{_given(name, text)} is out of range", advice)
        return int(value) if whole else value

    return parse


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


def _command(name: str, text: str) -> str:
    import shlex

    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise ConfigError(f"{name} cannot be split into words: {exc}", f"fix {name}") from None
    if not words:
        raise ConfigError(f"{name} is blank", f"fix {name}, or leave it unset")
    return text.strip()


def _choice(*allowed: str) -> Parse:
    def parse(name: str, text: str) -> str:
        value = text.strip().lower()
        if value not in allowed:
            raise ConfigError(
                f"{_given(name, text)} is not one of {', '.join(allowed)}",
                f"set {name} to {' or '.join(allowed)}",
            )
        return value

    return parse


def _org(name: str, text: str) -> str:
    """An organization's uuid or name, as the site lists it; one line, printable."""
    value = " ".join(text.split())
    if any(ord(char) < 32 or ord(char) == 127 for char in text.strip()) or len(value) > 200:
        raise ConfigError(
            f"{name} is not an organization's uuid or name",
            f"set {name} to the uuid or the name of an organization (`status` shows the one read)",
        )
    return value


def _oauth_url(name: str, text: str) -> str:
    """The OAuth usage endpoint gets Claude Code's token: https, or http to this machine only."""
    url = str(_url(DEFAULT_OAUTH_URL)(name, text))
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        raise ConfigError(
            f"{name} {shown_url(url)!r} carries a user name or password",
            f"remove `user:password@` from {name}: the token is the only credential sent",
        )
    if parts.scheme == "http" and not is_loopback(parts.hostname or ""):
        raise ConfigError(
            f"{name}: refusing to send Claude Code's login token over plain http to "
            f"{parts.hostname}",
            f"use an https:// {name}",
        )
    return url


Parse = Callable[[str, str], Any]


@dataclass(frozen=True)
class Variable:
    """One setting: its variable, the Settings field it fills, how its text is read, its
    default (as text; None: unset)."""

    name: str
    attr: str
    parse: Parse
    default: str | None = None


#: Every setting, in one table (also what `doctor --verbose` lists). A new setting is a line
#: here and its typed field in Settings.
VARIABLES: tuple[Variable, ...] = (
    Variable("CLAUDE_SYNC_URL", "sync_url", _url(DEFAULT_SYNC_URL), DEFAULT_SYNC_URL),
    Variable(KEY_VARIABLE, "api_key", _api_key),
    Variable("CLAUDE_SYNC_ALLOW_INSECURE", "allow_insecure", _switch, "0"),
    Variable("CLAUDE_SYNC_CA_BUNDLE", "ca_bundle", _path),
    Variable("CONSOLESCRAPE_HOME", "home", _path),
    Variable("CONSOLESCRAPE_USAGE_URL", "usage_url", _url(DEFAULT_USAGE_URL), DEFAULT_USAGE_URL),
    Variable("CONSOLESCRAPE_PROFILE_DIR", "profile_dir", _directory),
    Variable("CONSOLESCRAPE_CHROME_BINARY", "chrome_binary", _path),
    Variable("CONSOLESCRAPE_CHROMEDRIVER", "chromedriver", _path),
    Variable("CONSOLESCRAPE_TIMEOUT", "timeout", _number(1, 3600, "seconds"), "90"),
    Variable("CLAUDE_SYNC_DEADLINE", "sync_deadline", _number(1, 3600, "seconds"), "60"),
    Variable("CONSOLESCRAPE_MODEL_ROW", "model_row", _text, DEFAULT_MODEL_ROW),
    Variable(
        "CONSOLESCRAPE_HEALTHCHECK_URL", "healthcheck_url", _url("https://hc-ping.com/<uuid>")
    ),
    Variable(
        "CONSOLESCRAPE_OUTBOX_CAP",
        "outbox_cap",
        _number(1, 100_000, "snapshots", whole=True),
        "500",
    ),
    # Ten years at most: more is a typo, and the history file would grow without a useful bound.
    Variable(
        "CONSOLESCRAPE_HISTORY_DAYS", "history_days", _number(1, 3650, "days", whole=True), "365"
    ),
    Variable("CONSOLESCRAPE_ALERT_AT", "alert_at", _alert_at),
    Variable("CONSOLESCRAPE_ALERT_COMMAND", "alert_command", _command),
    Variable("CONSOLESCRAPE_METRICS_FILE", "metrics_file", _path),
    Variable("CONSOLESCRAPE_PARTIAL", "partial", _choice("send", "hold"), "send"),
    Variable("CONSOLESCRAPE_ORG", "org", _org),
    Variable("CONSOLESCRAPE_SOURCE", "source", _choice(*SOURCES), "browser"),
    Variable("CONSOLESCRAPE_OAUTH_URL", "oauth_url", _oauth_url, DEFAULT_OAUTH_URL),
)


#: The command-line flag that sets a field, named in a message about a value it was given.
FLAGS = {
    "usage_url": "--url",
    "profile_dir": "--profile-dir",
    "timeout": "--timeout",
    "source": "--source",
}
#: The prefixes of our variables: a name with one that is not in VARIABLES is a typo.
PREFIXES = ("CONSOLESCRAPE_", "CLAUDE_SYNC_")


def _flag_text(value: Any) -> str:
    """A flag's value as the user typed it (typer hands `--timeout 5000` over as 5000.0)."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def unknown_names(
    environ: Mapping[str, str], dotenv: Mapping[str, str], env_file: Path | None
) -> tuple[tuple[str, str], ...]:
    """(name, where) of each variable with our prefix that no setting reads."""
    known = {var.name for var in VARIABLES}
    found = [(name, "the environment") for name in sorted(environ)]
    found += [(name, str(env_file)) for name in sorted(dotenv)]
    return tuple(
        (name, where) for name, where in found if name.startswith(PREFIXES) and name not in known
    )


def closest_name(name: str) -> str | None:
    """The known variable a misspelt one most likely meant (CLAUDE_SYNC_APIKEY → …_API_KEY)."""
    import difflib

    found = difflib.get_close_matches(name, [var.name for var in VARIABLES], n=1, cutoff=0.6)
    return found[0] if found else None


def unknown_warnings(settings: Settings) -> list[str]:
    """One line per unknown variable, with the name it was probably meant to be."""
    lines = []
    for name, where in settings.unknown:
        guess = closest_name(name)
        lines.append(
            f"{name} (in {where}) is not a consolescrape setting and is ignored"
            + (f": did you mean {guess}?" if guess else "")
        )
    return lines


def _read_dotenv(path: Path) -> dict[str, str]:
    from dotenv import dotenv_values

    try:
        values = dotenv_values(path)
    except UnicodeDecodeError:
        import shlex

        quoted, new = shlex.quote(str(path)), shlex.quote(f"{path}.new")
        raise ConfigError(
            f"{path} is not UTF-8 text",
            f"save {path} as UTF-8 (e.g. iconv -f latin1 -t utf-8 {quoted} > {new} && "
            f"mv {new} {quoted})",
        ) from None
    return {k: v for k, v in values.items() if v is not None}


#: The settings a run that failed on its other settings still needs, to record that failure.
RECORDING = frozenset({"home", "metrics_file", "healthcheck_url"})


def load(
    flags: Mapping[str, Any] | None = None,
    *,
    env_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    only: frozenset[str] | None = None,
) -> Settings:
    """Resolve every setting. `flags` maps field names to values given on the command line.

    `only`: resolve just these fields (the others keep their defaults, unchecked).
    """
    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    environ = os.environ if environ is None else environ
    if env_file is not None and not env_file.is_file():
        raise UsageError(f"--env-file {env_file}: no such file")

    home_text = environ.get("CONSOLESCRAPE_HOME")
    home = Path(flags["home"]).expanduser() if "home" in flags else None
    if home is None and home_text:
        home = Path(home_text).expanduser()
    dotenv: dict[str, str] = {}
    used_file = None
    for candidate in _env_file_candidates(env_file, home or default_home()):
        if candidate.is_file():
            dotenv = _read_dotenv(candidate)
            used_file = candidate
            break

    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for var in VARIABLES:
        if only is not None and var.attr not in only:
            continue
        name, attr, default = var.name, var.attr, var.default
        if attr in flags:
            # A command-line value is held to the same rules as the variable it overrides,
            # and a message about it names the flag and the value as typed.
            flag = FLAGS.get(attr, name)
            value, origin = var.parse(flag, _flag_text(flags[attr])), "flag"
        elif name in environ:
            if environ[name] == "":  # set but empty: means "none", and hides .env's value
                if default is None:
                    origins[attr] = "env"
                    continue
                value, origin = var.parse(name, default), "default"
            else:
                value, origin = var.parse(name, environ[name]), "env"
        elif dotenv.get(name, "") != "":
            value, origin = var.parse(name, dotenv[name]), ".env"
        elif default is not None:
            value, origin = var.parse(name, default), "default"
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
    unknown = unknown_names(environ, dotenv, used_file)
    return Settings(**values, env_file=used_file, origins=origins, unknown=unknown)


def load_home(
    home: Path | None = None,
    *,
    env_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Settings for a reader that needs only the home (`status --line`): the home as `load`
    resolves it, every other value its default. A status bar pays this every second, so the
    .env (python-dotenv, ~7 ms) is parsed only when it names CONSOLESCRAPE_HOME, and then by
    `load` itself; a setting the line does not use can never fail it."""
    environ = os.environ if environ is None else environ
    if env_file is not None and not env_file.is_file():
        raise UsageError(f"--env-file {env_file}: no such file")
    if home is None and "CONSOLESCRAPE_HOME" in environ:
        # Set but empty hides the .env's value, as in `load`.
        home = Path(environ["CONSOLESCRAPE_HOME"] or default_home())
    if home is None:
        for candidate in _env_file_candidates(env_file, default_home()):
            if candidate.is_file():
                if b"CONSOLESCRAPE_HOME" in candidate.read_bytes():
                    return load(env_file=env_file, environ=environ)
                break
    return Settings(home=Path(home or default_home()).expanduser().absolute())


def _split(url: str) -> SplitResult | None:
    try:
        return urlsplit(url)
    except ValueError:  # e.g. an unclosed [ in an IPv6 host
        return None


def shown_url(url: str) -> str:
    """`url` without any `user:password@`, for messages (a password must never be printed)."""
    parts = _split(url)
    if parts is None:
        return "(not a URL)"
    if parts.username is None and parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"***@{host}").geturl()


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
    parts = _split(settings.sync_url)
    if parts is None or parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(
            f"CLAUDE_SYNC_URL {shown_url(settings.sync_url)!r} is not an http(s) URL",
            "set CLAUDE_SYNC_URL to the endpoint, e.g. https://example.com/api/claude/console-usage",
        )
    if parts.username is not None or parts.password is not None:
        # requests would send them as Basic auth, and every message would echo them.
        raise ConfigError(
            f"CLAUDE_SYNC_URL {shown_url(settings.sync_url)!r} carries a user name or password",
            "remove `user:password@` from CLAUDE_SYNC_URL: the server is authenticated by "
            f"{KEY_VARIABLE} alone",
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
            f"put {KEY_VARIABLE}=... in {env_file_for(settings)} (or the environment)",
        )
    return settings.api_key
