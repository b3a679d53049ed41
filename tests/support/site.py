"""The stand-in site as the tests need it, built on the demo's through `StandIn.respond()`.

`StandIn` behaves like the parts of claude.ai the scraper touches (docs/architecture.md): on top
of the demo's login redirect and sample page, it serves any page it is told to (or redirects to
the `/new` chat page, whose settings panel opens on `#settings/usage`), answers the JSON
endpoint with what it is given for the organizations it is given, sets the `lastActiveOrg`
cookie, and can show a Cloudflare-style bot check, answer late, or never answer. `TroubledSite`
answers chosen paths with trouble; `DeployingSite` names new script bundles on every load.
"""

from __future__ import annotations

import base64
import dataclasses
import fnmatch
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any

from consolescrape.demo import site as demo
from consolescrape.demo.loopback import Reply, Request
from consolescrape.demo.site import DENIED, NOT_FOUND, SAMPLE_DIR, SAMPLE_PAGE, USAGE_PATH

__all__ = ["SAMPLE_DIR", "SAMPLE_PAGE", "USAGE_PATH", "DeployingSite", "StandIn", "TroubledSite"]

#: The test pages the stand-in serves on its own: the bot check, the chat page.
PAGES = Path(__file__).resolve().parent.parent / "pages"
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
#: How the real site caches a page's fingerprinted script, font and images: for good.
_IMMUTABLE = "public, max-age=31536000, immutable"


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
    #: A challenge that only the fingerprint of Chrome passes (not the old headless shell's):
    #: every request without its clearance cookie gets it.
    fingerprint_check: bool = False
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


def served_file(path: Path, status: int = HTTPStatus.OK) -> Reply:
    """A page, or a file a page loads (its content type and caching follow its suffix)."""
    kind = _TYPES.get(path.suffix)
    if kind is None:
        return demo.page(path, status)
    return Reply(status, path.read_bytes(), {"Content-Type": kind, "Cache-Control": _IMMUTABLE})


class StandIn(demo.StandIn):
    """The stand-in site on a free port of 127.0.0.1 that records every request and plays the
    `scenario` it is given; a context manager."""

    def __init__(
        self, page: str | Path = SAMPLE_PAGE, *, session_key: str = "demo-session", **scenario: Any
    ) -> None:
        """`scenario`: any Scenario field to start with, e.g. StandIn(hang=True)."""
        super().__init__(session_key=session_key)
        self.scenario = Scenario(page=Path(page), **scenario)
        self._initial = self.scenario
        #: Requests received so far, in order.
        self.requests: list[Request] = []

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

    def paths(self) -> list[str]:
        """The paths requested so far (query strings included)."""
        return [seen.path for seen in self.requests]

    def respond(self, request: Request) -> Reply | None:
        self.requests.append(request)
        scenario = self.scenario
        route, logged_in = request.route, self.logged_in(request)
        if scenario.bot_check:
            return demo.page(PAGES / "bot_check.html", HTTPStatus.FORBIDDEN)
        if scenario.fingerprint_check and request.cookie("cf_clearance") != "passed":
            return demo.page(PAGES / "js_challenge.html", HTTPStatus.FORBIDDEN)
        if route in scenario.pages:
            return served_file(scenario.pages[route])
        if route == USAGE_PATH and (logged_in or scenario.hang):
            return self._usage_page(scenario)
        if route in ("/", "/new"):
            if logged_in and route == "/new":
                return demo.page(PAGES / "new.html")
            return demo.redirect("/new" if logged_in else "/login")
        if route == "/_panel" and logged_in:
            return served_file(scenario.page)
        if route.startswith("/api/") and logged_in:
            return self._api(route, scenario)
        if route.endswith(".png"):
            return Reply(HTTPStatus.OK, _PIXEL, {"Content-Type": "image/png"})
        return super().respond(request)

    def _usage_page(self, scenario: Scenario) -> Reply | None:
        if scenario.hang:
            self.stopping.wait()  # never answer; stop() releases it, so stopping stays fast
            return None
        if scenario.redirect_to is not None:
            return demo.redirect(scenario.redirect_to)
        if scenario.content_delay and self.stopping.wait(scenario.content_delay):
            return None
        return _with_org_cookie(served_file(scenario.page), scenario)

    def _api(self, route: str, scenario: Scenario) -> Reply | None:
        usage = f"/api/organizations/{scenario.usage_org}/usage"
        if route == "/api/organizations":
            return _with_org_cookie(Reply.json(HTTPStatus.OK, scenario.organizations), scenario)
        if route == usage and scenario.api is not None:
            if scenario.api_hang:
                self.stopping.wait()
                return None
            if isinstance(scenario.api, str):
                return Reply.html(scenario.api_status, scenario.api.encode())
            return Reply.json(scenario.api_status, scenario.api)
        if route.startswith("/api/organizations/") and route.endswith("/usage") and route != usage:
            # Another organization's usage: what an API-only organization answers.
            return Reply.json(HTTPStatus.FORBIDDEN, DENIED)
        return Reply.json(HTTPStatus.NOT_FOUND, NOT_FOUND)


def _with_org_cookie(reply: Reply, scenario: Scenario) -> Reply:
    """The real site keeps the chosen organization in a long-lived cookie that the scraper may
    read, however it reached the site (a page, or the JSON document of the organizations)."""
    org = scenario.last_active_org
    cookie = (
        "lastActiveOrg=; Path=/; Max-Age=0"
        if org is None
        else f"lastActiveOrg={org}; Path=/; Max-Age=31536000; SameSite=Lax"
    )
    return dataclasses.replace(reply, headers={**reply.headers, "Set-Cookie": cookie})


# --- a stand-in site in trouble ------------------------------------------------------------------


class TroubledSite(StandIn):
    """The stand-in site, with `answer()`: paths (globs: "/api/organizations/*/usage") that
    answer a given status, body and headers — a 429 with Retry-After, an outage page with 500,
    a bot check with `cf-mitigated: challenge`. `reset()` clears them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._answers: dict[str, Reply] = {}
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
        all_headers.setdefault("Content-Type", "text/html; charset=utf-8")
        data = body.encode() if isinstance(body, str) else body
        self._answers = {**self._answers, path: Reply(status, data, all_headers)}

    def answer_for(self, path: str) -> Reply | None:
        answers = self._answers
        return next((a for glob, a in answers.items() if fnmatch.fnmatchcase(path, glob)), None)

    def respond(self, request: Request) -> Reply | None:
        answer = self.answer_for(request.route)
        if answer is None:
            return super().respond(request)
        self.requests.append(request)
        return answer

    def reset(self) -> None:
        super().reset()
        self._answers = {}


# --- a site that deploys between every two runs --------------------------------------------------


class DeployingSite(StandIn):
    """The stand-in site whose usage page loads `bundles` scripts of about `bundle_bytes` each,
    with new names and new content on every load (cacheable for a year, like hashed bundles)."""

    def __init__(self, *, bundles: int = 4, bundle_bytes: int = 1_000_000, **kwargs: Any) -> None:
        self.bundles = bundles
        self.bundle_bytes = bundle_bytes
        super().__init__(**kwargs)

    def respond(self, request: Request) -> Reply | None:
        if request.route.startswith("/assets/"):
            self.requests.append(request)
            body = b'window.bundle="' + base64.b64encode(os.urandom(self.bundle_bytes)) + b'";'
            headers = {"Content-Type": "application/javascript", "Cache-Control": _IMMUTABLE}
            return Reply(HTTPStatus.OK, body, headers)
        reply = super().respond(request)
        if reply is None or request.route not in (USAGE_PATH, "/_panel") or reply.status != 200:
            return reply
        tags = "".join(
            f'<script src="/assets/app-{os.urandom(8).hex()}.js"></script>'
            for _ in range(self.bundles)
        )
        return dataclasses.replace(
            reply, body=reply.body.replace(b"</head>", tags.encode() + b"</head>", 1)
        )
