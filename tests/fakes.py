"""Test doubles that the installed package does not ship: a receiver that misbehaves on cue."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from consolescrape.demo.receiver import Receiver, _Handler


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
