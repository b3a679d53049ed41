"""A loopback stand-in for Claude Code's OAuth usage endpoint (GET /api/oauth/usage).

It enforces what the real one does — the bearer token and the `anthropic-beta` header — counts
the calls it answered, and records every path anyone asked for (so a test can show that no
token endpoint was ever called); and Claude Code's credentials file that holds the token.
Shared by the tests and the benchmark.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from consolescrape.demo.loopback import Loopback, Reply, Request

USAGE_PATH = "/api/oauth/usage"
BETA = "oauth-2025-04-20"
#: Claude Code's access token in the credentials written here: asserted absent from every
#: output and file.
TOKEN = "sk-ant-oat01-test-oauth-access-token-never-print-5Xq"
#: Its refresh token: never used, never sent, never shown.
REFRESH = "sk-ant-ort01-test-refresh-token-never-used-8Kd"


def credentials_doc(
    token: str = TOKEN,
    expires_in: timedelta = timedelta(hours=5),
    scopes: tuple[str, ...] = ("user:inference", "user:profile"),
) -> dict[str, Any]:
    """`.credentials.json` as Claude Code writes it."""
    expires = datetime.now(UTC) + expires_in
    return {
        "claudeAiOauth": {
            "accessToken": token,
            "refreshToken": REFRESH,
            "expiresAt": int(expires.timestamp() * 1000),
            "scopes": list(scopes),
            "subscriptionType": "max",
        }
    }


def write_credentials(directory: Path, doc: dict[str, Any] | None = None) -> Path:
    """`doc` (a valid one by default) as `directory`/.credentials.json, mode 0600."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / ".credentials.json"
    path.write_text(json.dumps(doc or credentials_doc()))
    path.chmod(0o600)
    return path


def usage_answer(now: datetime | None = None) -> dict[str, Any]:
    """An answer of the 2026 shape: the older fields, codename keys and extra_usage."""
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    return {
        "five_hour": {"utilization": 23.0, "resets_at": (now + timedelta(hours=3)).isoformat()},
        "seven_day": {"utilization": 41.0, "resets_at": (now + timedelta(days=3)).isoformat()},
        "seven_day_oauth_apps": None,
        "seven_day_opus": None,
        "seven_day_sonnet": {
            "utilization": 7.0,
            "resets_at": (now + timedelta(days=3)).isoformat(),
        },
        "iguana_necktie": None,
        "extra_usage": {"is_enabled": False, "monthly_limit": None, "used_credits": None},
    }


def error_body(kind: str, message: str) -> dict[str, Any]:
    """An error as the Anthropic API words it."""
    return {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_1"}


@dataclass(frozen=True)
class Script:
    """What the endpoint answers to a request that passes its checks."""

    status: int = 200
    body: object = None  # None: usage_answer(); bytes: sent as they are
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    hang: float = 0.0


class OAuthStandIn(Loopback):
    """The endpoint on a free port of 127.0.0.1 that accepts exactly `token`."""

    def __init__(self, token: str, **script: Any) -> None:
        self.token = token
        self.script = Script(**script)
        #: Every path requested, with its method, in order: "GET /api/oauth/usage".
        self.requests: list[str] = []
        #: Requests that passed the token and header checks and got the scripted answer.
        self.calls = 0
        self.user_agents: list[str] = []
        self._counting = threading.Lock()
        super().__init__()

    @property
    def url(self) -> str:
        return self.base_url + USAGE_PATH

    def configure(self, **changes: Any) -> None:
        self.script = dataclasses.replace(self.script, **changes)

    def respond(self, request: Request) -> Reply | None:
        with self._counting:
            self.requests.append(f"{request.method} {request.path}")
        if request.route != USAGE_PATH:
            return Reply.json(404, error_body("not_found_error", "Not found"))
        if request.method != "GET":
            return Reply.json(405, error_body("invalid_request_error", "Method not allowed"))
        if request.header("Authorization") != f"Bearer {self.token}":
            return Reply.json(401, error_body("authentication_error", "Invalid bearer token"))
        if request.header("anthropic-beta") != BETA:
            refused = error_body(
                "authentication_error", "OAuth authentication is currently not supported."
            )
            return Reply.json(401, refused)
        script = self.script
        with self._counting:
            self.calls += 1
            self.user_agents.append(request.user_agent)
        if script.hang and self.stopping.wait(script.hang):
            return None
        body = usage_answer() if script.body is None else script.body
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"Content-Type": "application/json", **script.headers}
        return Reply(script.status, raw, headers)
