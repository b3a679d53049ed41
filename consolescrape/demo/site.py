"""A local stand-in for claude.ai on 127.0.0.1, as much of it as `consolescrape demo` needs.

`/settings/usage` redirects to `/login` without the `sessionKey` cookie and serves the sample
page with it; `/api/organizations` lists one chat organization to a logged-in browser only, and
its usage endpoint is not found, so the page carries the run. Stdlib only.
"""

from __future__ import annotations

from http import HTTPStatus
from pathlib import Path

from consolescrape.demo.loopback import Loopback, Reply, Request

SAMPLE_DIR = Path(__file__).resolve().parent / "sample"
SAMPLE_PAGE = SAMPLE_DIR / "usage.html"
USAGE_PATH = "/settings/usage"
ORGANIZATIONS = [{"uuid": "org-1", "name": "Demo", "capabilities": ["chat", "claude_max"]}]
DENIED = {
    "type": "error",
    "error": {"type": "permission_error", "message": "Invalid authorization"},
}
NOT_FOUND = {"type": "error", "error": {"type": "not_found_error", "message": "Not found"}}


def page(path: Path, status: int = HTTPStatus.OK, **headers: str) -> Reply:
    """A file served as an HTML page."""
    return Reply.html(status, path.read_bytes(), **headers)


def redirect(location: str) -> Reply:
    return Reply(HTTPStatus.FOUND, headers={"Location": location})


class StandIn(Loopback):
    """The stand-in site on a free port of 127.0.0.1; a context manager."""

    def __init__(self, *, session_key: str = "demo-session") -> None:
        self.session_key = session_key
        super().__init__()

    @property
    def url(self) -> str:
        """The usage page."""
        return self.base_url + USAGE_PATH

    def logged_in(self, request: Request) -> bool:
        return request.cookie("sessionKey") == self.session_key

    def respond(self, request: Request) -> Reply | None:
        """The site's answer; a stand-in that does more extends it (tests/support/site.py)."""
        route, logged_in = request.route, self.logged_in(request)
        if route == "/login":
            return page(SAMPLE_DIR / "login.html")
        if route.startswith("/api/"):
            if not logged_in:
                return Reply.json(HTTPStatus.FORBIDDEN, DENIED)
            if route == "/api/organizations":
                return Reply.json(HTTPStatus.OK, ORGANIZATIONS)
            return Reply.json(HTTPStatus.NOT_FOUND, NOT_FOUND)
        if route == USAGE_PATH:
            return page(SAMPLE_PAGE) if logged_in else redirect(f"/login?returnTo={USAGE_PATH}")
        return Reply(HTTPStatus.NOT_FOUND, b"not found", {"Content-Type": "text/plain"})
