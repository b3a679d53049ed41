"""`consolescrape login`: log the persistent profile in, in a window or from a sessionKey."""

from __future__ import annotations

import getpass
import sys

from consolescrape import store
from consolescrape.browser import login as logging_in
from consolescrape.browser.chrome import HEADLESS_LOGIN_ADVICE, check_display
from consolescrape.config import Secret, Settings
from consolescrape.errors import UsageError
from consolescrape.outcome import Outcome
from consolescrape.output import Reporter


def login(
    settings: Settings, reporter: Reporter, *, session_key_stdin: bool, timeout: float
) -> Outcome:
    """Interactively (a window), or from a sessionKey on stdin; the home's lock held."""
    if session_key_stdin and sys.stdin is None:  # started with its stdin closed (`<&-`)
        raise UsageError(
            "--session-key-stdin: stdin is closed, so there is no session key to read",
            "pipe the value in: consolescrape login --session-key-stdin < FILE",
        )
    with store.hold_home(settings.home):
        if session_key_stdin:
            value = _read_session_key()
            if not value:
                raise UsageError("--session-key-stdin: nothing was read from standard input")
            # Like the API key, the session value is redacted from every line and the result.
            reporter.secrets.append(Secret(value))
            logging_in.login_with_session_key(settings, value)
        else:
            # No screen: say so first, rather than announce a window that cannot open.
            check_display(HEADLESS_LOGIN_ADVICE)
            reporter.info(
                f"a browser window opens on the usage page: log in there (within {timeout:g} s); "
                "it closes by itself once the usage page shows"
            )
            logging_in.login_interactive(settings, timeout=timeout)
    reporter.info(f"logged in: the profile at {settings.profile} can read the usage page")
    return Outcome(data={"profile": str(settings.profile)})


def _read_session_key() -> str:
    """The sessionKey from stdin: asked for without echo at a terminal, read as is from a pipe."""
    if sys.stdin.isatty():
        # getpass writes the prompt to the terminal itself, never to stdout.
        return getpass.getpass("sessionKey cookie value (not shown as you type): ").strip()
    return sys.stdin.readline().strip()
