"""A real HTTP receiver on 127.0.0.1 that answers like the user's deployed server.

It checks the route, the key, the body size, the JSON and the data (`model.validate_payload`)
in the server's order (docs/server-contract.md), and records every request. Stdlib only.
"""

from __future__ import annotations

import dataclasses
import hmac
import html
import json
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from consolescrape import model
from consolescrape.demo.loopback import Loopback, Reply, Request

DEFAULT_PATH = "/api/claude/console-usage"


@dataclass(frozen=True)
class Received(Request):
    """One request that reached the receiver, and the status it was answered with."""

    #: 0 while the request is still being handled, or when it was dropped or cut off by stop().
    status: int = 0
    #: The server stored the body.
    stored: bool = False

    @property
    def json(self) -> Any:
        """The parsed body (raises ValueError when it is not JSON)."""
        return json.loads(self.body)

    @property
    def idempotency_key(self) -> str | None:
        """The raw Idempotency-Key header, quotes included."""
        return self.header("Idempotency-Key")


def html_page(status: int, text: str, **headers: str) -> Reply:
    """The server's framework's page around `text` (already HTML)."""
    head = '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Error</title>'
    page = f"{head}\n</head>\n<body>\n<pre>{text}</pre>\n</body>\n</html>\n"
    return Reply.html(status, page.encode(), **headers)


def _now() -> str:
    return model.format_time(datetime.now(UTC))


def _auth_error(key_sent: bool) -> Reply:
    code, message, suggestion = (
        ("AUTH_INVALID", "Invalid API key", "Check the API key configured for this client")
        if key_sent
        else ("AUTH_MISSING", "API key is required", "Send your API key in the X-API-Key header")
    )
    doc = {"success": False, "errorCode": code, "message": message, "suggestion": suggestion}
    return Reply.json(401, {**doc, "requestId": uuid.uuid4().hex, "timestamp": _now()})


class Receiver(Loopback):
    """The user's server, on 127.0.0.1 and a free port; a context manager."""

    def __init__(self, api_key: str = "test-key", *, path: str = DEFAULT_PATH) -> None:
        self.api_key = api_key
        self.path = path
        #: Notified whenever a request arrives or is answered.
        self.changed = threading.Condition()
        self._received: list[Received] = []
        super().__init__()

    @property
    def url(self) -> str:
        """The full endpoint URL."""
        return self.base_url + self.path

    @property
    def received(self) -> list[Received]:
        """Every request that reached the receiver, in arrival order."""
        with self.changed:
            return list(self._received)

    @property
    def accepted(self) -> list[Received]:
        """The requests whose body the server stored, in arrival order."""
        return [request for request in self.received if request.stored]

    def respond(self, request: Request) -> Reply | None:
        """Record `request`, then answer it as `rules` says (before the answer goes out: a
        client that has its answer sees it recorded)."""
        received = Received(**vars(request))
        with self.changed:
            index = len(self._received)
            self._received.append(received)
            self.changed.notify_all()
        reply = self.rules(received)
        if reply is not None and not self.stopping.is_set():
            with self.changed:
                self._received[index] = dataclasses.replace(
                    received, status=reply.status, stored=reply.stored
                )
                self.changed.notify_all()
        return reply

    def rules(self, request: Received) -> Reply | None:
        """The deployed server's answer, or None to close the connection without one.

        The extension point of a receiver that misbehaves on cue (tests/support/receiver.py).
        """
        shown = f"{request.method} {html.escape(request.route)}"
        if request.route != self.path:
            return html_page(404, f"Cannot {shown}")
        if request.method != "POST":
            return html_page(405, f"Cannot {shown} (only POST)", Allow="POST")
        key = request.header("X-API-Key") or ""
        if not key or not hmac.compare_digest(key.encode(), self.api_key.encode()):
            return _auth_error(key_sent=bool(key))
        if len(request.body) > model.MAX_BODY_BYTES:
            return self.error_page(413, "PayloadTooLargeError: request entity too large")
        # Like express.json(): a body of another type is not parsed at all.
        media = (request.header("Content-Type") or "").split(";")[0].strip().lower()
        try:
            document = self.parse(request.body) if media == "application/json" else {}
        except ValueError as exc:
            return self.error_page(400, f"SyntaxError: {exc}")
        if problems := model.validate_payload(document):
            return Reply.json(
                400, {"success": False, "message": "Invalid data: " + "; ".join(problems)}
            )
        stored = {"success": True, "message": "Usage data stored", "timestamp": _now()}
        return Reply.json(200, stored, stored=True)

    def parse(self, body: bytes) -> Any:
        """The JSON document in a body (empty is {}); ValueError when it is not JSON."""
        return json.loads(body) if body.strip() else {}

    def error_page(self, status: int, error: str) -> Reply:
        """The page the server's framework answers an unreadable or oversized body with."""
        return html_page(status, html.escape(error))
