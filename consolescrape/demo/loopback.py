"""A threaded HTTP server on 127.0.0.1 and a free port, started and stopped as a context.

Each request is read into a `Request` and answered with the `Reply` that `respond()` returns;
the stand-in site and the receiver differ only in that method.
"""

from __future__ import annotations

import contextlib
import functools
import json
import socket
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BufferedIOBase
from typing import Any, Self
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Request:
    """One request a loopback server received."""

    method: str
    #: As sent, query string included.
    path: str
    # Holds the session cookie or the API key: out of repr, so a failing assertion hides it.
    headers: dict[str, str] = field(repr=False)
    body: bytes = field(default=b"", repr=False)
    #: time.monotonic() when the request (headers and body) had arrived.
    received_at: float = 0.0

    @property
    def route(self) -> str:
        """The path without its query string."""
        return urlsplit(self.path).path

    @property
    def user_agent(self) -> str:
        return self.header("User-Agent") or ""

    def header(self, name: str) -> str | None:
        """A request header by case-insensitive name."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)

    def cookie(self, name: str) -> str | None:
        pairs = (part.strip().partition("=") for part in (self.header("Cookie") or "").split(";"))
        return next((value for key, _, value in pairs if key == name), None)


@dataclass(frozen=True)
class Reply:
    """One answer; `stored`: the receiver kept the body (its rules accepted it)."""

    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    stored: bool = False

    @classmethod
    def json(cls, status: int, doc: object, *, stored: bool = False, **headers: str) -> Reply:
        content = {"Content-Type": "application/json; charset=utf-8", **headers}
        return cls(status, json.dumps(doc).encode(), content, stored)

    @classmethod
    def html(cls, status: int, body: bytes, **headers: str) -> Reply:
        return cls(status, body, {"Content-Type": "text/html; charset=utf-8", **headers})


class Loopback:
    """Serve requests in a background thread; `stopping` releases requests that wait."""

    def __init__(self) -> None:
        #: Set by stop(): whatever waits inside respond() waits on it, so stopping stays fast.
        self.stopping = threading.Event()
        self._server = _Server(("127.0.0.1", 0), type("Handler", (_Handler,), {"owner": self}))
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()

    def respond(self, request: Request) -> Reply | None:
        """The answer to `request`, or None to close the connection without one."""
        raise NotImplementedError

    def read_body(self, headers: Message, stream: BufferedIOBase) -> bytes | None:
        """The request's body off the connection, or None to close it without an answer."""
        length = headers.get("Content-Length") or "0"
        return stream.read(int(length)) if length.isdigit() else None

    @property
    def base_url(self) -> str:
        """http://host:port (no trailing slash)."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> Self:
        if self._thread is None:
            self.stopping.clear()
            serve = functools.partial(self._server.serve_forever, poll_interval=0.05)
            self._thread = threading.Thread(target=serve, name=type(self).__name__, daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop promptly, cutting short handlers that wait (their clients get no answer)."""
        self.stopping.set()
        if self._thread is not None:
            self._server.shutdown()
            # Wake handlers blocked on a keep-alive read: stopping must not wait for clients.
            with self._lock:
                open_now = list(self._connections)
            for connection in open_now:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    owner: Loopback
    protocol_version = "HTTP/1.1"
    # A client that promises more body than it sends must not pin a thread forever.
    timeout = 30

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle's algorithm and the
        # client's delayed ACK add ~40 ms to every answer, which the real site does not have.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.owner._lock:
            self.owner._connections.add(self.connection)

    def finish(self) -> None:
        with self.owner._lock:
            self.owner._connections.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the default log goes to stderr, and headers carry the key or the cookie."""

    def answer(self) -> None:
        owner = self.owner
        body = owner.read_body(self.headers, self.rfile)
        headers = dict(self.headers.items())
        reply = None
        if body is not None:
            request = Request(self.command, self.path, headers, body, time.monotonic())
            reply = owner.respond(request)
        if reply is None or owner.stopping.is_set():
            self.close_connection = True
            return
        self.send_response(reply.status)
        # Pages change between runs at the same URL, and the profile persists: no-store.
        sent = {
            "Cache-Control": "no-store",
            **reply.headers,
            "Content-Length": str(len(reply.body)),
        }
        if self.close_connection:
            sent["Connection"] = "close"
        for name, value in sent.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    do_GET = do_POST = do_HEAD = do_OPTIONS = do_PUT = do_PATCH = do_DELETE = answer


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeout, reset) is expected, not an error worth a traceback on
        # stderr; anything else is a bug in the handler and should show.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)
