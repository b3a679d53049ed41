"""A local stand-in for claude.ai on 127.0.0.1: login redirect, usage page, JSON endpoint.

Used by the tests and by `consolescrape demo`. It behaves like the parts of the real site the
scraper touches (docs/architecture.md): `/settings/usage` redirects to `/login` without the
`sessionKey` cookie; with it, it serves the configured page (or redirects to the `/new` chat
page, whose settings panel opens on `#settings/usage`); `/api/organizations` and
`/api/organizations/{uuid}/usage` answer JSON to a logged-in browser only. It can also show a
Cloudflare-style bot check, answer late, or never answer. Stdlib only.
"""

from __future__ import annotations

import dataclasses
import json
import socket
from dataclasses import dataclass
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from consolescrape.demo.loopback import Loopback

SAMPLE_DIR = Path(__file__).resolve().parent / "sample"
SAMPLE_PAGE = SAMPLE_DIR / "usage.html"
USAGE_PATH = "/settings/usage"
#: The organization whose usage the endpoint answers for; an API-only org is listed before it,
#: so a scraper that takes the first org instead of the first chat org asks the wrong one.
CHAT_ORG = "org-1"
ORGANIZATIONS: list[dict[str, Any]] = [
    {"uuid": "org-0", "name": "Acme API console", "capabilities": ["api"]},
    {
        "uuid": CHAT_ORG,
        "name": "you@example.com's Organization",
        "capabilities": ["chat", "claude_max"],
    },
]
#: Content types of the files a page may load; anything else is served as an HTML page.
_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".ttf": "font/ttf",
    ".woff2": "font/woff2",
}
# A 1×1 transparent PNG: pages reference images, so "images off" has something to skip.
_PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


@dataclass(frozen=True)
class Seen:
    """One request the stand-in received."""

    path: str
    # Holds the session cookie: kept out of repr so a failing assertion does not print it.
    headers: dict[str, str] = dataclasses.field(repr=False)

    @property
    def user_agent(self) -> str:
        return next((v for k, v in self.headers.items() if k.lower() == "user-agent"), "")


@dataclass(frozen=True)
class Scenario:
    """What the site does; replaced as a whole so a request never sees half a change."""

    page: Path = SAMPLE_PAGE
    api: object | None = None
    api_status: int = 200
    #: Where a logged-in /settings/usage redirects instead of serving the page, e.g.
    #: "/new#settings/usage" (the settings panel over the chat page) or "/new" (hash lost).
    redirect_to: str | None = None
    bot_check: bool = False
    content_delay: float = 0.0
    hang: bool = False
    #: The /api/organizations answer, which of them /usage answers for (the others: 403, as an
    #: API-only organization does), and the lastActiveOrg cookie the page sets (None: none).
    organizations: object = dataclasses.field(default_factory=lambda: ORGANIZATIONS)
    usage_org: str = CHAT_ORG
    last_active_org: str | None = CHAT_ORG
    #: The usage endpoint never answers (the page must carry the run).
    api_hang: bool = False
    #: Pages served at these paths instead of the built-in ones (e.g. "/upgrade", or a "/login"
    #: whose script logs in the way a person would), or files a page loads (a script, a font,
    #: an image: the content type follows the file's suffix).
    pages: dict[str, Path] = dataclasses.field(default_factory=dict)


class StandIn(Loopback):
    """The stand-in site on a free port of 127.0.0.1; a context manager."""

    #: How requests are answered (a test's variant of the site subclasses it).
    handler: type[_Handler]

    def __init__(
        self,
        page: str | Path = SAMPLE_PAGE,
        *,
        session_key: str = "demo-session",
        host: str = "127.0.0.1",
        port: int = 0,
        **scenario: Any,
    ) -> None:
        """`scenario`: any Scenario field to start with, e.g. StandIn(hang=True)."""
        self.session_key = session_key
        self.scenario = Scenario(page=Path(page), **scenario)
        self._initial = self.scenario
        #: Requests received so far, in order.
        self.requests: list[Seen] = []
        handler = getattr(type(self), "handler", _Handler)
        super().__init__(type("Handler", (handler,), {"site": self}), host, port)

    # --- configuration -----------------------------------------------------------------------

    def configure(self, **changes: Any) -> None:
        """Change any Scenario field for the next requests, e.g. configure(hang=True)."""
        if "page" in changes:
            changes["page"] = Path(changes["page"])
        self.scenario = dataclasses.replace(self.scenario, **changes)

    def set_page(self, page: str | Path) -> None:
        self.configure(page=page)

    def set_api(self, api: object | None, status: int = 200) -> None:
        """The usage endpoint's answer (None: 404; a str: sent as an HTML page) and status."""
        self.configure(api=api, api_status=status)

    def reset(self) -> None:
        """Back to the scenario the stand-in was created with."""
        self.scenario = self._initial

    # --- addresses ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The usage page."""
        return self.base_url + USAGE_PATH

    def paths(self) -> list[str]:
        """The paths requested so far (query strings included)."""
        return [seen.path for seen in self.requests]


class _Handler(BaseHTTPRequestHandler):
    site: StandIn
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle's algorithm and the
        # client's delayed ACK add ~40 ms to every answer, which the real site does not have.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def version_string(self) -> str:
        return "cloudflare"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests and the demo print their own messages."""

    def do_GET(self) -> None:
        site = self.site
        scenario = site.scenario
        site.requests.append(Seen(self.path, dict(self.headers.items())))
        path = urlsplit(self.path).path
        if scenario.bot_check:
            self._send_file(SAMPLE_DIR / "bot_check.html", HTTPStatus.FORBIDDEN)
            return
        logged_in = self._cookie("sessionKey") == site.session_key
        if path in scenario.pages:
            self._send_file(scenario.pages[path])
        elif path == USAGE_PATH:
            self._usage_page(scenario, logged_in)
        elif path == "/login":
            self._send_file(SAMPLE_DIR / "login.html")
        elif path in ("/", "/new"):
            if logged_in and path == "/new":
                self._send_file(SAMPLE_DIR / "new.html")
            else:
                self._redirect("/new" if logged_in else "/login")
        elif path == "/_panel" and logged_in:
            self._send_file(scenario.page)
        elif path.startswith("/api/"):
            self._api(path, scenario, logged_in)
        elif path.endswith(".png"):
            self._send(HTTPStatus.OK, _PIXEL, "image/png")
        else:
            self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain")

    def _usage_page(self, scenario: Scenario, logged_in: bool) -> None:
        if scenario.hang:
            # Never answer; stop() releases the thread so the server shuts down at once.
            self.site.stopping.wait()
            self.close_connection = True
            return
        if not logged_in:
            self._redirect(f"/login?returnTo={USAGE_PATH}")
            return
        if scenario.redirect_to is not None:
            self._redirect(scenario.redirect_to)
            return
        if scenario.content_delay and self.site.stopping.wait(scenario.content_delay):
            return
        self._send_file(scenario.page, cookies=_org_cookie(scenario))

    def _api(self, path: str, scenario: Scenario, logged_in: bool) -> None:
        if not logged_in:
            error = {"type": "permission_error", "message": "Invalid authorization"}
            self._send_json(HTTPStatus.FORBIDDEN, {"type": "error", "error": error})
        elif path == "/api/organizations":
            body = json.dumps(scenario.organizations).encode()
            self._send(HTTPStatus.OK, body, "application/json", cookies=_org_cookie(scenario))
        elif path == f"/api/organizations/{scenario.usage_org}/usage" and scenario.api is not None:
            if scenario.api_hang:
                self.site.stopping.wait()
                self.close_connection = True
            elif isinstance(scenario.api, str):
                self._send(scenario.api_status, scenario.api.encode(), "text/html; charset=utf-8")
            else:
                self._send_json(scenario.api_status, scenario.api)
        elif (
            path.startswith("/api/organizations/")
            and path.endswith("/usage")
            and path != f"/api/organizations/{scenario.usage_org}/usage"
        ):
            # Another organization's usage: what an API-only organization answers.
            error = {"type": "permission_error", "message": "Invalid authorization"}
            self._send_json(HTTPStatus.FORBIDDEN, {"type": "error", "error": error})
        else:
            error = {"type": "not_found_error", "message": "Not found"}
            self._send_json(HTTPStatus.NOT_FOUND, {"type": "error", "error": error})

    # --- answers -----------------------------------------------------------------------------

    def _cookie(self, name: str) -> str | None:
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(self.headers.get("Cookie", ""))
        except CookieError:
            return None
        morsel = jar.get(name)
        return None if morsel is None else morsel.value

    def _redirect(self, location: str) -> None:
        self.send_response(HTTPStatus.FOUND)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()

    def _send_file(
        self, page: Path, status: int = HTTPStatus.OK, cookies: list[str] | None = None
    ) -> None:
        kind = _TYPES.get(page.suffix)
        # A page's script, font and images are fingerprinted files on the real site, cached
        # for good as there; pages themselves change between runs at the same URL.
        cache = "public, max-age=31536000, immutable" if kind else "no-store"
        self._send(status, page.read_bytes(), kind or "text/html; charset=utf-8", cookies, cache)

    def _send_json(self, status: int, doc: object) -> None:
        self._send(status, json.dumps(doc).encode(), "application/json")

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        cookies: list[str] | None = None,
        cache: str = "no-store",
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        # Pages change between runs at the same URL, and the profile persists: no-store.
        self.send_header("Cache-Control", cache)
        for cookie in cookies or []:
            self.send_header("Set-Cookie", cookie)
        self.end_headers()
        self.wfile.write(body)


def _org_cookie(scenario: Scenario) -> list[str]:
    """The real site keeps the chosen organization in a long-lived cookie that the scraper may
    read, however it reached the site (a page, or the JSON document of the organizations)."""
    org = scenario.last_active_org
    if org is None:
        return ["lastActiveOrg=; Path=/; Max-Age=0"]
    return [f"lastActiveOrg={org}; Path=/; Max-Age=31536000; SameSite=Lax"]
