"""Claude Code's login token, read where Claude Code keeps it — and only read.

Never refreshed, never written: Claude Code's refresh tokens are single-use and rotate, so a
refresh by anyone else that did not write the new pair back would log Claude Code out (on every
machine sharing the account). An expired token is reported as such; Claude Code refreshes it
the next time it runs.

Where: `$CLAUDE_CONFIG_DIR/.credentials.json` when that variable is set, else
`~/.claude/.credentials.json` (`claudeAiOauth.accessToken`, `expiresAt` in ms); on macOS, when
the file has no usable token, the login keychain's "Claude Code-credentials" item.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from consolescrape import store
from consolescrape.config import Secret

#: The keychain item Claude Code stores its login in on macOS.
KEYCHAIN_SERVICE = "Claude Code-credentials"
#: How long `security` may take: a locked keychain in a cron job can wait on a dialog nobody
#: sees.
KEYCHAIN_SECONDS = 5.0
#: A token this close to its expiry is treated as expired: the request would race it.
EXPIRY_MARGIN = timedelta(seconds=30)
#: The scope the usage endpoint requires; `claude setup-token` tokens lack it.
PROFILE_SCOPE = "user:profile"
#: A credentials file is a few hundred bytes; anything this large is not one.
MAX_FILE_BYTES = 256 * 1024

#: Runs a command with a timeout; (exit status, standard output). Injectable for tests.
Runner = Callable[[Sequence[str], float], tuple[int, bytes]]


@dataclass(frozen=True)
class Token:
    """A Claude Code access token and what is known about it; the value never shows itself."""

    secret: Secret = field(repr=False)
    #: where it was read, for messages: a path or the keychain item
    where: str
    expires_at: datetime | None = None
    #: the scopes the credentials list, when they list any
    scopes: tuple[str, ...] | None = None

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at - EXPIRY_MARGIN <= now

    def hours_left(self, now: datetime) -> float | None:
        if self.expires_at is None:
            return None
        return (self.expires_at - now).total_seconds() / 3600

    @property
    def lacks_profile_scope(self) -> bool:
        return self.scopes is not None and PROFILE_SCOPE not in self.scopes


class NoToken(Exception):
    """No token where Claude Code keeps it (or none that could be read); says where it looked."""


def credentials_file(environ: Mapping[str, str]) -> Path:
    """The file Claude Code keeps its login in: $CLAUDE_CONFIG_DIR's, else ~/.claude's."""
    config_dir = environ.get("CLAUDE_CONFIG_DIR", "").strip()
    base = Path(config_dir).expanduser() if config_dir else Path.home() / ".claude"
    return base / ".credentials.json"


def parse(raw: bytes, where: str) -> Token:
    """The token in a credentials document (the file's, or the keychain item's); NoToken."""
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        raise NoToken(f"{where} is not valid JSON") from None
    oauth = doc.get("claudeAiOauth") if isinstance(doc, dict) else None
    value = oauth.get("accessToken") if isinstance(oauth, dict) else None
    if not isinstance(value, str) or not value.strip():
        raise NoToken(f"{where} holds no claudeAiOauth.accessToken")
    value = value.strip()
    if any(ord(char) <= 32 or ord(char) == 127 for char in value):
        # It goes into a header: a space or a line break in it is a damaged file, not a token.
        raise NoToken(f"{where} holds an accessToken with spaces or control characters")
    assert isinstance(oauth, dict)
    return Token(Secret(value), where, _expiry(oauth.get("expiresAt")), _scopes(oauth))


def _expiry(raw: object) -> datetime | None:
    """`expiresAt` (milliseconds since 1970) as a time; None when absent or not a number."""
    if isinstance(raw, str) and raw.strip().isdigit():
        raw = int(raw)
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return None
    try:
        return datetime.fromtimestamp(raw / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _scopes(oauth: Mapping[str, object]) -> tuple[str, ...] | None:
    scopes = oauth.get("scopes")
    if not isinstance(scopes, list):
        return None
    return tuple(s for s in scopes if isinstance(s, str))


def from_file(path: Path) -> Token:
    """The token in a credentials file, opened read-only; NoToken when missing or unreadable."""
    try:
        raw = store.read_bounded(path, MAX_FILE_BYTES)
    except FileNotFoundError:
        raise NoToken(f"no {path}") from None
    except (OSError, store.Unreadable) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise NoToken(f"{path} cannot be read: {reason}") from None
    return parse(raw, str(path))


def run_command(argv: Sequence[str], seconds: float) -> tuple[int, bytes]:
    """Run `argv` with nothing on stdin and an environment without keys; (exit status, stdout),
    or (-1, b"") when it did not finish within `seconds` (then it is killed with its group)."""
    env = {k: v for k, v in os.environ.items() if "API_KEY" not in k.upper()}
    try:
        # Its own session: a child of it holding the pipe must not outlive the timeout.
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    except OSError:
        return 127, b""
    try:
        out, _ = proc.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        return -1, b""
    finally:
        if proc.poll() is None:  # timed out, or a signal arrived meanwhile
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    return proc.returncode, out


def from_keychain(runner: Runner = run_command, seconds: float = KEYCHAIN_SECONDS) -> Token:
    """The token in the macOS login keychain; a refusal, a locked keychain or a timeout is
    NoToken (never a prompt that outlives the run)."""
    where = f'the login keychain item "{KEYCHAIN_SERVICE}"'
    status, out = runner(
        ["security", "find-generic-password", "-s", KEYCHAIN_SERVICE, "-w"], seconds
    )
    if status == -1:
        raise NoToken(f"{where} did not answer within {seconds:g} s (is the keychain locked?)")
    if status != 0:
        raise NoToken(f"no {where} (or access to it was refused)")
    out = out.strip()
    if out and not out.startswith(b"{") and re.fullmatch(rb"(?:[0-9a-fA-F]{2})+", out):
        out = bytes.fromhex(out.decode())  # `security -w` prints data it deems binary as hex
    return parse(out, where)


def find(
    now: datetime,
    *,
    environ: Mapping[str, str] | None = None,
    keychain: bool | None = None,
    runner: Runner = run_command,
    keychain_seconds: float = KEYCHAIN_SECONDS,
) -> Token:
    """The best token Claude Code keeps: the first that has not expired, else the first found
    (the caller says it expired). NoToken, naming every place looked at, when there is none.

    `keychain` (default: on macOS) also asks the login keychain when the file has no usable
    token.
    """
    environ = os.environ if environ is None else environ
    keychain = sys.platform == "darwin" if keychain is None else keychain
    found: list[Token] = []
    missing: list[str] = []
    lookups: list[Callable[[], Token]] = [lambda: from_file(credentials_file(environ))]
    if keychain:
        lookups.append(lambda: from_keychain(runner, keychain_seconds))
    for lookup in lookups:
        try:
            token = lookup()
        except NoToken as exc:
            missing.append(str(exc))
            continue
        if not token.expired(now):
            return token
        found.append(token)
    if found:
        return found[0]
    raise NoToken("; ".join(missing))
