"""The stand-in site answers like claude.ai where the scraper looks: redirects, cookie, JSON.

What `consolescrape demo` ships (consolescrape/demo/site.py) and the tests' stand-in built on it
(tests/support/site.py) both answer the login, the page and the organizations alike; the
scenarios (a bot check, a redirect, a late or missing answer) are the tests' stand-in's alone.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.site import PAGES, SAMPLE_PAGE, StandIn

from consolescrape.demo import site as demo

KEY = "standin-test-session"


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()

    @property
    def json(self) -> object:
        return json.loads(self.body)


def fetch(site: demo.StandIn, path: str, *, key: str | None = KEY, timeout: float = 5) -> Answer:
    """One GET without following redirects, with the session cookie unless key is None."""
    host, port = site.base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        headers = {"Cookie": f"sessionKey={key}"} if key is not None else {}
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return Answer(response.status, response.headers, response.read())
    finally:
        connection.close()


@pytest.fixture
def site() -> Iterator[StandIn]:
    with StandIn(session_key=KEY) as server:
        yield server


@pytest.fixture(params=["demo", "tests"])
def any_site(request: pytest.FixtureRequest) -> Iterator[demo.StandIn]:
    """What the demo ships, and the tests' stand-in: both must answer these alike."""
    kind = demo.StandIn if request.param == "demo" else StandIn
    with kind(session_key=KEY) as server:
        yield server


# --- what both answer ---------------------------------------------------------------------------


def test_usage_page_without_the_cookie_redirects_to_login(any_site: demo.StandIn) -> None:
    answer = fetch(any_site, "/settings/usage", key=None)
    assert answer.status == 302
    assert answer.headers["Location"] == "/login?returnTo=/settings/usage"


def test_usage_page_with_a_wrong_cookie_redirects_to_login(any_site: demo.StandIn) -> None:
    assert fetch(any_site, "/settings/usage", key="not-the-key").status == 302


def test_usage_page_with_the_cookie_serves_the_sample(any_site: demo.StandIn) -> None:
    answer = fetch(any_site, "/settings/usage")
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("text/html")
    assert answer.headers["Cache-Control"] == "no-store"
    text = answer.text
    # The misleading sidebar comes before the usage content.
    assert text.index("0% used") < text.index("Plan usage limits") < text.index("Weekly limits")
    assert 'role="meter"' in text and 'aria-valuenow="47"' in text
    assert any_site.url == f"{any_site.base_url}/settings/usage"


def test_login_page_looks_like_one(any_site: demo.StandIn) -> None:
    answer = fetch(any_site, "/login", key=None)
    assert answer.status == 200
    for words in ("Log in or sign up", "Continue with Google", 'type="email"'):
        assert words in answer.text


def test_organizations_need_the_cookie(any_site: demo.StandIn) -> None:
    denied = fetch(any_site, "/api/organizations", key=None)
    assert denied.status == 403
    assert denied.json == {
        "type": "error",
        "error": {"type": "permission_error", "message": "Invalid authorization"},
    }
    orgs = fetch(any_site, "/api/organizations").json
    assert isinstance(orgs, list)
    assert any("chat" in org["capabilities"] for org in orgs)


def test_usage_endpoint_is_not_found_until_given_an_answer(any_site: demo.StandIn) -> None:
    """The demo's page carries its run: its endpoint has no usage to give."""
    answer = fetch(any_site, "/api/organizations/org-1/usage")
    assert answer.status == 404
    assert answer.json == {
        "type": "error",
        "error": {"type": "not_found_error", "message": "Not found"},
    }
    assert fetch(any_site, "/api/organizations/org-1/usage", key=None).status == 403
    assert fetch(any_site, "/nowhere").status == 404


def test_the_demo_ships_the_pages_it_serves_and_the_tests_keep_theirs() -> None:
    assert sorted(p.name for p in demo.SAMPLE_DIR.iterdir()) == ["login.html", "usage.html"]
    for name in ("bot_check.html", "new.html"):
        assert (PAGES / name).is_file()


# --- what only the tests' stand-in does ----------------------------------------------------------


def test_usage_page_sets_the_last_active_organization(site: StandIn) -> None:
    answer = fetch(site, "/settings/usage")
    assert "lastActiveOrg=org-1" in answer.headers["Set-Cookie"]
    assert "lastActiveOrg=org-1" in fetch(site, "/api/organizations").headers["Set-Cookie"]
    site.configure(last_active_org=None)
    assert "Max-Age=0" in fetch(site, "/settings/usage").headers["Set-Cookie"]
    assert site.paths() == ["/settings/usage", "/api/organizations", "/settings/usage"]


def test_set_page_changes_what_is_served(site: StandIn, tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text("<html><body><h2>Your usage limits</h2></body></html>")
    site.set_page(page)
    assert "Your usage limits" in fetch(site, "/settings/usage").text
    site.reset()
    assert fetch(site, "/settings/usage").body == SAMPLE_PAGE.read_bytes()


def test_an_api_only_organization_is_listed_before_the_chat_one(site: StandIn) -> None:
    orgs = fetch(site, "/api/organizations").json
    assert isinstance(orgs, list)
    # An API-only organization comes first; the chat one is second.
    assert [org["uuid"] for org in orgs] == ["org-0", "org-1"]
    assert "chat" not in orgs[0]["capabilities"] and "chat" in orgs[1]["capabilities"]


def test_usage_endpoint_answers_what_it_is_given(site: StandIn) -> None:
    assert fetch(site, "/api/organizations/org-1/usage").status == 404
    usage = {"limits": [{"kind": "session", "percent": 5, "resets_at": None}]}
    site.set_api(usage)
    assert fetch(site, "/api/organizations/org-1/usage").json == usage
    # An API-only organization's usage is refused, as the real site does.
    assert fetch(site, "/api/organizations/org-0/usage").status == 403
    assert fetch(site, "/api/organizations/org-1/usage", key=None).status == 403
    site.set_api({"type": "error"}, status=500)
    assert fetch(site, "/api/organizations/org-1/usage").status == 500


def test_usage_can_redirect_to_the_settings_panel_of_the_chat_page(site: StandIn) -> None:
    site.configure(redirect_to="/new#settings/usage")
    answer = fetch(site, "/settings/usage")
    assert answer.status == 302
    assert answer.headers["Location"] == "/new#settings/usage"
    chat = fetch(site, "/new")
    assert chat.status == 200 and "#settings/usage" in chat.text
    assert fetch(site, "/new", key=None).headers["Location"] == "/login"
    assert "Plan usage limits" in fetch(site, "/_panel").text


def test_bot_check_answers_every_path_whatever_the_cookie(site: StandIn) -> None:
    site.configure(bot_check=True)
    for path, key in (("/settings/usage", KEY), ("/login", None), ("/api/organizations", KEY)):
        answer = fetch(site, path, key=key)
        assert answer.status == 403
        assert "<title>Just a moment...</title>" in answer.text
        assert "Verifying you are human" in answer.text


def test_content_delay_answers_late(site: StandIn) -> None:
    site.configure(content_delay=0.3)
    began = time.monotonic()
    assert fetch(site, "/settings/usage").status == 200
    assert time.monotonic() - began >= 0.3


def test_hanging_page_never_answers_and_stop_is_still_fast() -> None:
    site = StandIn(session_key=KEY, hang=True).start()
    try:
        with pytest.raises((TimeoutError, socket.timeout)):
            fetch(site, "/settings/usage", timeout=0.5)
    finally:
        began = time.monotonic()
        site.stop()
    assert time.monotonic() - began < 1.5


def test_requests_are_recorded_with_their_headers(site: StandIn) -> None:
    fetch(site, "/login", key=None)
    assert site.paths() == ["/login"]
    assert "sessionKey" not in repr(site.requests[0])
