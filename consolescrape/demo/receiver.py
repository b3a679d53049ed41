"""A real HTTP receiver on 127.0.0.1 that answers like the user's deployed server.

Its rules are those of docs/server-contract.md.

Used by `consolescrape demo` and the tests. It checks the key, the body size, the JSON and the
server's own rules (`server_rules`) in its order, and records every request. Misbehaving on cue
(5xx, 429, redirects, dropped or hung connections) is a test double's job: tests/fakes.py.
Stdlib only.
"""

from __future__ import annotations

import dataclasses
import hmac
import html
import json
import re
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from consolescrape import model
from consolescrape.demo.loopback import Loopback

DEFAULT_PATH = "/api/claude/console-usage"
#: Bodies above this are drained and then refused; past it the connection is closed unread.
_DRAIN_LIMIT = 8 * 1024 * 1024


@dataclass(frozen=True)
class Received:
    """One request that reached the handler, and the status it was answered with."""

    method: str
    path: str
    # Holds the X-API-Key: kept out of repr so a failing assertion does not print it.
    headers: dict[str, str] = field(repr=False)
    body: bytes = field(repr=False)
    #: 0 while the request is still being handled, or when it was dropped or cut off by stop().
    status: int
    #: time.monotonic() when the request (headers and body) had arrived.
    received_at: float = 0.0

    @property
    def json(self) -> Any:
        """The parsed body (raises ValueError when it is not JSON)."""
        return json.loads(self.body)

    @property
    def idempotency_key(self) -> str | None:
        """The raw Idempotency-Key header, quotes included."""
        return self.header("Idempotency-Key")

    def header(self, name: str) -> str | None:
        """A request header by case-insensitive name."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)


class _Dropped(Exception):
    """Close the connection without answering."""


class _TooLarge(Exception):
    """The body is beyond what the receiver drains."""


class _Handler(BaseHTTPRequestHandler):
    receiver: Receiver
    protocol_version = "HTTP/1.1"
    server_version = "consolescrape-receiver/1"
    # A client that promises more body than it sends must not pin a thread forever.
    timeout = 30

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the default log goes to stderr, and headers carry the API key."""

    # --- dispatch --------------------------------------------------------------------------

    def do_POST(self) -> None:
        try:
            body = self._read_body()
        except _Dropped:
            self.close_connection = True
            return
        except _TooLarge:
            index = self._record(b"")
            self.close_connection = True
            self._finish(*_html_error(413, "PayloadTooLargeError: request entity too large"), index)
            return
        index = self._record(body)
        if self.intercept(index) or self.receiver.stopping.is_set():
            self.close_connection = self.close_connection or self.receiver.stopping.is_set()
            return
        status, payload, headers = self._handle(body)
        self._finish(status, payload, headers, index=index, accepted=status == 200)

    def intercept(self, index: int) -> bool:
        """A test double's chance to answer request `index` itself (True: it did)."""
        return False

    def _not_allowed(self) -> None:
        try:
            body = self._read_body()
        except (_Dropped, _TooLarge):
            body = b""
            self.close_connection = True
        index = self._record(body)
        route = html.escape(urlsplit(self.path).path)
        if self._on_path():
            status, headers = 405, {"Allow": "POST"}
            page = _html_page(f"Cannot {self.command} {route} (only POST)")
        else:
            status, headers = 404, {}
            page = _html_page(f"Cannot {self.command} {route}")
        self._finish(status, page, {"Content-Type": "text/html; charset=utf-8", **headers}, index)

    # Every other method: 405 on the endpoint's path, 404 elsewhere, as the real server does.
    do_GET = do_HEAD = do_OPTIONS = do_PUT = do_PATCH = do_DELETE = _not_allowed

    # --- the server's rules ---------------------------------------------------------------

    def _handle(self, body: bytes) -> tuple[int, bytes, dict[str, str]]:
        """Answer a POST the way the deployed server does: route, key, size, JSON, data."""
        receiver = self.receiver
        if not self._on_path():
            route = html.escape(urlsplit(self.path).path)
            return 404, *_html_error_parts(_html_page(f"Cannot POST {route}"))
        key = self.headers.get("X-API-Key")
        if not key:
            return _auth_error(
                "AUTH_MISSING", "API key is required", "Send your API key in the X-API-Key header"
            )
        if not hmac.compare_digest(key.encode(), receiver.api_key.encode()):
            return _auth_error(
                "AUTH_INVALID", "Invalid API key", "Check the API key configured for this client"
            )
        if len(body) > model.MAX_BODY_BYTES:
            return _html_error(413, "PayloadTooLargeError: request entity too large")
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/json":
            # Like express.json(): a body of another type is not parsed at all.
            document: Any = {}
        else:
            try:
                document = _parse_json(body)
            except ValueError as exc:
                return _html_error(400, f"SyntaxError: {exc}")
        problems = server_rules(document)
        if problems:
            return _json_answer(
                400, {"success": False, "message": "Invalid data: " + "; ".join(problems)}
            )
        return _json_answer(
            200, {"success": True, "message": "Usage data stored", "timestamp": _now()}
        )

    # --- plumbing ---------------------------------------------------------------------------

    def _on_path(self) -> bool:
        return urlsplit(self.path).path == self.receiver.path

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        raw_length = self.headers.get("Content-Length") or "0"
        try:
            length = int(raw_length)
        except ValueError:
            raise _Dropped from None
        if length < 0:
            raise _Dropped
        if length > _DRAIN_LIMIT:
            raise _TooLarge
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            size_line = self.rfile.readline(1024)
            try:
                size = int(size_line.split(b";")[0].strip(), 16)
            except ValueError:
                raise _Dropped from None
            if size == 0:
                while self.rfile.readline(1024).strip():  # trailers, then the blank line
                    pass
                return b"".join(parts)
            total += size
            if total > _DRAIN_LIMIT:
                raise _TooLarge
            parts.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _record(self, body: bytes) -> int:
        request = Received(
            method=self.command,
            path=self.path,
            headers=dict(self.headers.items()),
            body=body,
            status=0,
            received_at=time.monotonic(),
        )
        return self.receiver._arrived(request)

    def _finish(
        self,
        status: int,
        body: bytes,
        headers: Mapping[str, str],
        index: int | None = None,
        *,
        accepted: bool = False,
    ) -> None:
        # Recorded before the answer goes out, so a client that has its answer sees it recorded.
        if index is not None:
            self.receiver._answered(index, status, accepted=accepted)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def _now() -> str:
    return model.format_time(datetime.now(UTC))


def _json_answer(status: int, doc: dict[str, Any]) -> tuple[int, bytes, dict[str, str]]:
    return status, json.dumps(doc).encode(), {"Content-Type": "application/json; charset=utf-8"}


def _auth_error(code: str, message: str, suggestion: str) -> tuple[int, bytes, dict[str, str]]:
    return _json_answer(
        401,
        {
            "success": False,
            "errorCode": code,
            "message": message,
            "suggestion": suggestion,
            "requestId": uuid.uuid4().hex,
            "timestamp": _now(),
        },
    )


_ISO_8601 = re.compile(
    r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$"
)


def server_rules(body: Any) -> list[str]:
    """The deployed server's checks (docs/server-contract.md), written apart from
    `model.validate_payload` on purpose: an end-to-end test then catches a mistake in either.
    Loose where the server is (any ISO 8601 date or time, zone optional)."""

    def limit_problems(limit: Any, path: str) -> list[str]:
        if not isinstance(limit, dict):
            return [f"{path} must be an object"]
        found = []
        if not isinstance(limit.get("resetsIn"), str) or limit["resetsIn"] == "":
            found.append(f"{path}.resetsIn must be a non-empty string")
        used = limit.get("percentageUsed")
        if isinstance(used, bool) or not isinstance(used, int | float) or not 0 <= used <= 100:
            found.append(f"{path}.percentageUsed must be a number between 0 and 100")
        return found

    if not isinstance(body, dict):
        return ["body must be an object"]
    problems = []
    stamp = body.get("lastUpdated")
    valid_stamp = isinstance(stamp, str) and _ISO_8601.match(stamp) is not None
    if valid_stamp:
        try:
            datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
        except ValueError:
            valid_stamp = False
    if not valid_stamp:
        problems.append("lastUpdated must be a valid ISO 8601 timestamp")
    if "currentSession" in body:
        problems += limit_problems(body["currentSession"], "currentSession")
    if "weeklyLimits" in body:
        weekly = body["weeklyLimits"]
        if not isinstance(weekly, dict):
            problems.append("weeklyLimits must be an object")
        else:
            for key in ("allModels", "sonnetOnly"):
                problems += limit_problems(weekly.get(key), f"weeklyLimits.{key}")
    if "currentSession" not in body and "weeklyLimits" not in body:
        problems.append("currentSession or weeklyLimits is required")
    return problems


def _parse_json(body: bytes) -> Any:
    """Parse like body-parser's strict JSON: objects or arrays only, no NaN; empty is {}."""
    if not body.strip():
        return {}
    text = body.decode("utf-8")  # UnicodeDecodeError is a ValueError

    def no_constants(name: str) -> Any:
        raise ValueError(f"Unexpected token {name[:1]} in JSON")

    document = json.loads(text, parse_constant=no_constants)
    if not isinstance(document, dict | list):
        raise ValueError(f"Unexpected token {text.strip()[:1]} in JSON at position 0")
    return document


def _html_page(message: str) -> bytes:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>Error</title>\n</head>\n<body>\n<pre>{message}</pre>\n</body>\n</html>\n"
    ).encode()


def _html_error_parts(page: bytes) -> tuple[bytes, dict[str, str]]:
    return page, {"Content-Type": "text/html; charset=utf-8"}


def _html_error(status: int, error: str) -> tuple[int, bytes, dict[str, str]]:
    """The framework's error page: the error and a stack trace, as the real server shows."""
    trace = [
        "at JSON.parse (&lt;anonymous&gt;)"
        if error.startswith("SyntaxError")
        else "at readStream (/app/node_modules/raw-body/index.js:163:17)",
        "at parse (/app/node_modules/body-parser/lib/types/json.js:92:19)",
        "at /app/node_modules/body-parser/lib/read.js:128:18",
        "at invokeCallback (/app/node_modules/raw-body/index.js:238:16)",
        "at IncomingMessage.onEnd (/app/node_modules/raw-body/index.js:287:7)",
    ]
    text = html.escape(error) + "".join(f"<br> &nbsp; &nbsp;{line}" for line in trace)
    return status, *_html_error_parts(_html_page(text))


class Receiver(Loopback):
    """The user's server, on 127.0.0.1 and a free port, for tests and the demo."""

    #: The request handler; a test double may answer some requests itself (`intercept`).
    handler: type[_Handler] = _Handler

    def __init__(
        self,
        api_key: str = "test-key",
        *,
        path: str = DEFAULT_PATH,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.api_key = api_key
        self.path = path
        self._lock = threading.Condition()
        self._received: list[Received] = []
        self._accepted_at: list[int] = []
        handler = type("Handler", (self.handler,), {"receiver": self})
        super().__init__(handler, host, port)

    def __repr__(self) -> str:
        return f"Receiver({self.url})"

    @property
    def url(self) -> str:
        """The full endpoint URL."""
        return self.base_url + self.path

    # --- inspection -------------------------------------------------------------------------

    @property
    def received(self) -> list[Received]:
        """Every request that reached the handler, in arrival order."""
        with self._lock:
            return list(self._received)

    @property
    def accepted(self) -> list[Received]:
        """The POSTs the server stored (answered 200 by normal handling), in arrival order."""
        with self._lock:
            return [self._received[i] for i in sorted(self._accepted_at)]

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        """Wait until at least `count` requests were received; TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self._received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"receiver got {len(self._received)} request(s), expected {count}"
                    )
                self._lock.wait(left)
            return list(self._received)

    # --- called by the handler threads ----------------------------------------------------

    def _arrived(self, request: Received) -> int:
        with self._lock:
            self._received.append(request)
            self._lock.notify_all()
            return len(self._received) - 1

    def _answered(self, index: int, status: int, *, accepted: bool) -> None:
        with self._lock:
            self._received[index] = dataclasses.replace(self._received[index], status=status)
            if accepted:
                self._accepted_at.append(index)
            self._lock.notify_all()
