"""Test doubles that the installed package does not ship: a receiver that misbehaves on cue,
and a stand-in site in trouble (rate limited, an outage page, a bot check)."""

from __future__ import annotations

import base64
import fnmatch
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
from consolescrape.demo.site import _Handler as _SiteHandler


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

    def unscript(self) -> None:
        """Forget the faults that no POST has met yet."""
        with self._lock:
            self._faults.clear()

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


# --- a stand-in site in trouble ------------------------------------------------------------------


@dataclass(frozen=True)
class SiteAnswer:
    """What one path of the stand-in site answers instead of its usual page or JSON."""

    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


class _TroubledHandler(_SiteHandler):
    site: TroubledSite

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        answer = self.site.answer_for(path)
        if answer is None:
            super().do_GET()
            return
        self.site.requests.append(Seen(self.path, dict(self.headers.items())))
        self.send_response(answer.status)
        headers = {"Content-Type": "text/html; charset=utf-8", **answer.headers}
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(answer.body)


class TroubledSite(StandIn):
    """The stand-in site, with `answer()`: paths (globs: "/api/organizations/*/usage") that
    answer a given status, body and headers — a 429 with Retry-After, an outage page with 500,
    a bot check with `cf-mitigated: challenge`. `reset()` clears them."""

    handler = _TroubledHandler

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._answers: dict[str, SiteAnswer] = {}
        super().__init__(*args, **kwargs)

    def answer(
        self,
        path: str,
        status: int,
        body: bytes | str = b"",
        headers: Mapping[str, str] | None = None,
        *,
        json_body: Any = None,
    ) -> None:
        all_headers = dict(headers or {})
        if json_body is not None:
            body = json.dumps(json_body)
            all_headers.setdefault("Content-Type", "application/json")
        data = body.encode() if isinstance(body, str) else body
        self._answers = {**self._answers, path: SiteAnswer(status, data, all_headers)}

    def answer_for(self, path: str) -> SiteAnswer | None:
        answers = self._answers
        return next((a for glob, a in answers.items() if fnmatch.fnmatchcase(path, glob)), None)

    def reset(self) -> None:
        super().reset()
        self._answers = {}
