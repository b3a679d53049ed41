"""Test doubles that the installed package does not ship: a receiver that misbehaves on cue."""

from __future__ import annotations

import base64
import json
import os
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from consolescrape.demo import site
from consolescrape.demo.receiver import Receiver, _Handler
from consolescrape.demo.site import Seen, StandIn


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


class _ScriptedHandler(_Handler):
    receiver: ScriptedReceiver

    def intercept(self, index: int) -> bool:
        fault = self.receiver.next_fault()
        if fault.hang > 0 and self.receiver.stopping.wait(fault.hang):
            self.close_connection = True  # stop() cut the hang short: answer nothing
            return True
        if fault.drop:
            self.close_connection = True
            return True
        if fault.status:
            self._finish(fault.status, fault.body, dict(fault.headers), index=index)
            return True
        return False


class ScriptedReceiver(Receiver):
    """The receiver, with `script()`: the next POSTs get the given faults, in order."""

    handler = _ScriptedHandler

    def __init__(self, api_key: str = "test-key", **kwargs: Any) -> None:
        self._faults: deque[Fault] = deque()
        super().__init__(api_key, **kwargs)

    def script(self, *faults: Fault) -> None:
        """The next len(faults) POSTs get these behaviours in order; then normal handling."""
        with self._lock:
            self._faults.extend(faults)

    def next_fault(self) -> Fault:
        with self._lock:
            return self._faults.popleft() if self._faults else Fault()


class _DeployingHandler(site._Handler):
    site: DeployingSite

    def do_GET(self) -> None:
        if urlsplit(self.path).path.startswith("/assets/"):
            self.site.requests.append(Seen(self.path, dict(self.headers.items())))
            # Hashed bundles are cached for a year, as a web app's are.
            body = b'window.bundle="' + base64.b64encode(os.urandom(self.site.bundle_bytes)) + b'";'
            self.send_response(200)
            self.send_header("Content-Type", "application/javascript")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "public, max-age=31536000, immutable")
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def _send_file(self, page: Path, status: int = 200, cookies: list[str] | None = None) -> None:
        if page != self.site.scenario.page:
            super()._send_file(page, status, cookies)
            return
        # Every page load names new bundles: a deploy between every two runs.
        tags = "".join(
            f'<script src="/assets/app-{os.urandom(8).hex()}.js"></script>'
            for _ in range(self.site.bundles)
        )
        body = page.read_bytes().replace(b"</head>", tags.encode() + b"</head>", 1)
        self._send(status, body, "text/html; charset=utf-8", cookies)


class DeployingSite(StandIn):
    """The stand-in site whose usage page loads `bundles` scripts of about `bundle_bytes` each,
    with new names and new content on every load (cacheable for a year, like hashed bundles)."""

    handler = _DeployingHandler

    def __init__(self, *, bundles: int = 4, bundle_bytes: int = 1_000_000, **kwargs: Any) -> None:
        self.bundles = bundles
        self.bundle_bytes = bundle_bytes
        super().__init__(**kwargs)
