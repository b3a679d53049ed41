"""A threaded HTTP server on 127.0.0.1 and a free port, started and stopped as a context."""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeout, reset) is expected, not an error worth a traceback on
        # stderr; anything else is a bug in the handler and should show.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)

    def close_connections(self) -> None:
        """Wake handlers blocked on a keep-alive read: stopping must not wait for clients."""
        with self.connections_lock:
            open_now = list(self.connections)
        for conn in open_now:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class Loopback:
    """Serve `handler` in a background thread; `stopping` releases requests that wait."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], host: str, port: int) -> None:
        #: Set by stop(): handlers that hang or wait check it, so stopping stays fast.
        self.stopping = threading.Event()
        self._server = _Server((host, port), handler)
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """http://host:port (no trailing slash)."""
        host, port = self._server.server_address[:2]
        shown = host.decode() if isinstance(host, bytes) else host
        return f"http://{shown}:{port}"

    def start(self) -> Self:
        if self._thread is None:
            self.stopping.clear()
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"{type(self).__name__}:{self._server.server_address[1]}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop promptly, cutting short handlers that wait (their clients get no answer)."""
        self.stopping.set()
        if self._thread is not None:
            self._server.shutdown()
            self._server.close_connections()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
