"""The receiver as the tests need it, built on the demo's through `Receiver.rules()`.

`ScriptedReceiver` answers like the deployed server to the letter — chunked bodies read,
body-parser's strict JSON, the framework's error pages with their stack trace — and misbehaves
on cue: `script()` the next POSTs' faults (a status of your choice, a hang, a dropped connection).
"""

from __future__ import annotations

import html
import json
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import Message
from io import BufferedIOBase
from typing import Any

from consolescrape.demo.loopback import Reply
from consolescrape.demo.receiver import Received, Receiver, html_page

__all__ = ["Fault", "Received", "Receiver", "ScriptedReceiver"]

#: Bodies past this are not read: the connection is closed.
DRAIN_LIMIT = 8 * 1024 * 1024


@dataclass(frozen=True)
class Fault:
    """A scripted behaviour for one upcoming POST; the default is normal handling."""

    status: int = 0
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    hang: float = 0.0
    drop: bool = False

    @classmethod
    def answer(
        cls,
        status: int,
        json_body: Any = None,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
    ) -> Fault:
        """Answer with this status (and a JSON or raw body) instead of handling the request."""
        if not 100 <= status <= 599:
            raise ValueError(f"not an HTTP status: {status}")
        all_headers = dict(headers or {})
        if json_body is not None:
            body = json.dumps(json_body).encode()
            all_headers.setdefault("Content-Type", "application/json; charset=utf-8")
        elif body:
            all_headers.setdefault("Content-Type", "text/html; charset=utf-8")
        return cls(status=status, body=body, headers=all_headers)

    @classmethod
    def hang_for(cls, seconds: float) -> Fault:
        """Wait this long before handling the request normally (the client may time out)."""
        return cls(hang=seconds)

    @classmethod
    def dropped(cls) -> Fault:
        """Read the request, then close the connection without any response."""
        return cls(drop=True)


class ScriptedReceiver(Receiver):
    """The receiver, with `script()`: the next POSTs get the given faults, in order."""

    def __init__(self, api_key: str = "test-key", **kwargs: Any) -> None:
        self._faults: deque[Fault] = deque()
        self._faults_lock = threading.Lock()
        super().__init__(api_key, **kwargs)

    def script(self, *faults: Fault) -> None:
        """The next len(faults) POSTs get these behaviours in order; then normal handling."""
        with self._faults_lock:
            self._faults.extend(faults)

    def unscript(self) -> None:
        """Forget the faults that no POST has met yet."""
        with self._faults_lock:
            self._faults.clear()

    def next_fault(self) -> Fault:
        with self._faults_lock:
            return self._faults.popleft() if self._faults else Fault()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        """Wait until at least `count` requests were received; TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while len(got := self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"receiver got {len(got)} request(s), expected {count}")
                self.changed.wait(left)
            return got

    # --- misbehaving on cue ------------------------------------------------------------------

    def rules(self, request: Received) -> Reply | None:
        if request.method != "POST":
            return super().rules(request)
        fault = self.next_fault()
        if fault.hang > 0 and self.stopping.wait(fault.hang):
            return None  # stop() cut the hang short: answer nothing
        if fault.drop:
            return None
        if fault.status:
            return Reply(fault.status, fault.body, fault.headers)
        return super().rules(request)

    # --- the deployed server's framework, to the letter -------------------------------------

    def read_body(self, headers: Message, stream: BufferedIOBase) -> bytes | None:
        """Chunked bodies too, as the server's framework reads them; none past DRAIN_LIMIT."""
        if "chunked" not in (headers.get("Transfer-Encoding") or "").lower():
            length = headers.get("Content-Length") or "0"
            if length.isdigit() and int(length) > DRAIN_LIMIT:
                return None
            return super().read_body(headers, stream)
        parts: list[bytes] = []
        while True:
            try:
                size = int(stream.readline(1024).split(b";")[0].strip(), 16)
            except ValueError:
                return None
            if size == 0:
                while stream.readline(1024).strip():  # trailers, then the blank line
                    pass
                return b"".join(parts)
            if sum(map(len, parts)) + size > DRAIN_LIMIT:
                return None
            parts.append(stream.read(size))
            stream.readline(1024)

    def parse(self, body: bytes) -> Any:
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

    def error_page(self, status: int, error: str) -> Reply:
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
        return html_page(
            status, html.escape(error) + "".join(f"<br> &nbsp; &nbsp;{line}" for line in trace)
        )
