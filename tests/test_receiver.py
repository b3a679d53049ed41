"""The receivers over real HTTP: what `consolescrape demo` ships enforces the deployed server's
rules (docs/server-contract.md); the tests' receiver built on it enforces the same ones, to the
letter of the server's framework, and misbehaves on cue."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from conftest import SAMPLE, SECRET_KEY
from support.receiver import Fault, ScriptedReceiver

from consolescrape import model
from consolescrape.demo.receiver import Receiver

TIMEOUT = 5.0


def post(
    url: str,
    doc: Any = SAMPLE,
    *,
    key: str | None = SECRET_KEY,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = TIMEOUT,
) -> requests.Response:
    sent = {"Content-Type": "application/json", **(headers or {})}
    if key is not None:
        sent["X-API-Key"] = key
    body = data if data is not None else json.dumps(doc).encode()
    return requests.post(url, data=body, headers=sent, timeout=timeout, allow_redirects=False)


def padded(size: int) -> bytes:
    """A valid compact payload of exactly `size` bytes (an extra key carries the padding)."""
    base = {**SAMPLE, "pad": ""}
    empty = len(json.dumps(base, separators=(",", ":")).encode())
    body = json.dumps({**base, "pad": "x" * (size - empty)}, separators=(",", ":")).encode()
    assert len(body) == size
    return body


def kind(name: str) -> type[Receiver]:
    return Receiver if name == "demo" else ScriptedReceiver


@pytest.fixture(params=["demo", "tests"])
def any_receiver(request: pytest.FixtureRequest) -> Iterator[Receiver]:
    """What the demo ships, and the tests' receiver: both enforce the server's rules alike."""
    with kind(request.param)(api_key=SECRET_KEY) as server:
        yield server


@pytest.fixture(params=["demo", "tests"])
def own_receiver(request: pytest.FixtureRequest) -> Iterator[Receiver]:
    """A receiver the test may stop itself (stop() is idempotent)."""
    server = kind(request.param)(api_key=SECRET_KEY).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def own_scripted_receiver() -> Iterator[ScriptedReceiver]:
    """A receiver that misbehaves on cue, which the test may stop itself."""
    server = ScriptedReceiver(api_key=SECRET_KEY).start()
    try:
        yield server
    finally:
        server.stop()


# --- normal handling ------------------------------------------------------------------------


def test_url_points_at_the_endpoint_on_loopback(any_receiver: Receiver) -> None:
    assert any_receiver.base_url.startswith("http://127.0.0.1:")
    assert any_receiver.url == any_receiver.base_url + "/api/claude/console-usage"


def test_good_payload_is_accepted_and_recorded(any_receiver: Receiver) -> None:
    response = post(any_receiver.url, headers={"Idempotency-Key": '"abc123"'})

    assert response.status_code == 200
    answer = response.json()
    assert answer["success"] is True
    assert answer["message"] == "Usage data stored"
    model.parse_time(answer["timestamp"])
    [got] = any_receiver.accepted
    assert got.method == "POST"
    assert got.path == "/api/claude/console-usage"
    assert got.status == 200
    assert got.json == SAMPLE
    assert got.idempotency_key == '"abc123"'
    assert got.header("x-api-key") == SECRET_KEY
    assert any_receiver.received == [got]


def test_extra_keys_are_accepted_like_the_real_server(any_receiver: Receiver) -> None:
    response = post(any_receiver.url, {**SAMPLE, "source": "api", "somethingNew": [1, 2]})
    assert response.status_code == 200
    assert len(any_receiver.accepted) == 1


def test_same_idempotency_key_is_stored_twice_like_the_real_server(
    any_receiver: Receiver,
) -> None:
    for _ in range(2):
        assert post(any_receiver.url, headers={"Idempotency-Key": '"same"'}).status_code == 200
    assert [r.idempotency_key for r in any_receiver.accepted] == ['"same"', '"same"']


def test_request_without_idempotency_key_records_none(any_receiver: Receiver) -> None:
    post(any_receiver.url)
    assert any_receiver.accepted[0].idempotency_key is None


def test_query_string_still_reaches_the_endpoint(any_receiver: Receiver) -> None:
    assert post(any_receiver.url + "?v=1").status_code == 200
    assert any_receiver.accepted[0].path == "/api/claude/console-usage?v=1"


def test_chunked_body_is_read(receiver: ScriptedReceiver) -> None:
    body = json.dumps(SAMPLE).encode()
    response = requests.post(
        receiver.url,
        data=iter([body[:10], body[10:]]),
        headers={"Content-Type": "application/json", "X-API-Key": SECRET_KEY},
        timeout=TIMEOUT,
    )
    assert response.status_code == 200
    assert receiver.accepted[0].json == SAMPLE


def test_keep_alive_session_serves_several_posts(any_receiver: Receiver) -> None:
    with requests.Session() as session:
        for _ in range(3):
            response = session.post(
                any_receiver.url,
                json=SAMPLE,
                headers={"X-API-Key": SECRET_KEY},
                timeout=TIMEOUT,
            )
            assert response.status_code == 200
    assert len(any_receiver.accepted) == 3


# --- auth -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "code"),
    [(None, "AUTH_MISSING"), ("", "AUTH_MISSING"), ("sk-wrong", "AUTH_INVALID")],
    ids=["no-header", "empty-header", "wrong-key"],
)
def test_missing_or_wrong_key_is_401_with_the_servers_fields(
    any_receiver: Receiver, key: str | None, code: str
) -> None:
    response = post(any_receiver.url, key=key)

    assert response.status_code == 401
    answer = response.json()
    assert set(answer) == {
        "success",
        "errorCode",
        "message",
        "suggestion",
        "requestId",
        "timestamp",
    }
    assert answer["success"] is False
    assert answer["errorCode"] == code
    assert SECRET_KEY not in response.text
    assert any_receiver.accepted == []
    assert [r.status for r in any_receiver.received] == [401]


def test_auth_is_checked_before_the_body(any_receiver: Receiver) -> None:
    assert post(any_receiver.url, key=None, data=b"{not json").status_code == 401
    assert post(any_receiver.url, key="sk-wrong", data=padded(200_000)).status_code == 401


def test_request_ids_differ_between_answers(any_receiver: Receiver) -> None:
    ids = {post(any_receiver.url, key=None).json()["requestId"] for _ in range(3)}
    assert len(ids) == 3


# --- data -------------------------------------------------------------------------------------


def _without(doc: dict[str, Any], *path: str) -> dict[str, Any]:
    copy: dict[str, Any] = json.loads(json.dumps(doc))
    target = copy
    for step in path[:-1]:
        target = target[step]
    del target[path[-1]]
    return copy


def _with(doc: dict[str, Any], value: Any, *path: str) -> dict[str, Any]:
    copy: dict[str, Any] = json.loads(json.dumps(doc))
    target = copy
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return copy


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        (_without(SAMPLE, "lastUpdated"), "lastUpdated"),
        (_with(SAMPLE, "yesterday", "lastUpdated"), "lastUpdated"),
        (_with(SAMPLE, "", "currentSession", "resetsIn"), "currentSession.resetsIn"),
        (_with(SAMPLE, 140, "currentSession", "percentageUsed"), "currentSession.percentageUsed"),
        (_with(SAMPLE, "47", "currentSession", "percentageUsed"), "currentSession.percentageUsed"),
        (_without(SAMPLE, "weeklyLimits", "sonnetOnly"), "weeklyLimits.sonnetOnly"),
        (_without(SAMPLE, "weeklyLimits", "allModels"), "weeklyLimits.allModels"),
        (
            _with(SAMPLE, -1, "weeklyLimits", "allModels", "percentageUsed"),
            "weeklyLimits.allModels.percentageUsed",
        ),
        (_with(SAMPLE, [], "weeklyLimits"), "weeklyLimits"),
        ({"lastUpdated": "2026-11-29T01:17:41.123Z"}, "currentSession or weeklyLimits"),
        ([SAMPLE], "body"),
    ],
    ids=[
        "no-lastUpdated",
        "bad-lastUpdated",
        "empty-resetsIn",
        "percentage-140",
        "percentage-string",
        "no-sonnetOnly",
        "no-allModels",
        "percentage-negative",
        "weeklyLimits-list",
        "no-section",
        "array-body",
    ],
)
def test_invalid_data_is_400_naming_the_field(any_receiver: Receiver, doc: Any, field: str) -> None:
    response = post(any_receiver.url, doc)

    assert response.status_code == 400
    answer = response.json()
    assert answer["success"] is False
    assert answer["message"].startswith("Invalid data: ")
    assert field in answer["message"]
    assert any_receiver.accepted == []
    assert any_receiver.received[0].status == 400


def test_body_without_json_content_type_is_not_parsed(any_receiver: Receiver) -> None:
    """Like express.json(): another content type leaves an empty body, which fails the rules."""
    response = post(any_receiver.url, headers={"Content-Type": "text/plain"})
    assert response.status_code == 400
    assert "lastUpdated" in response.json()["message"]


MALFORMED = pytest.mark.parametrize(
    "data",
    [b'{"lastUpdated": ', b"{'single': 'quotes'}", b'{"a": NaN}', b"42", b'"text"', b"\xff\xfe{}"],
    ids=["truncated", "single-quotes", "nan", "bare-number", "bare-string", "not-utf8"],
)


@MALFORMED
def test_malformed_json_is_400_and_never_stored(any_receiver: Receiver, data: bytes) -> None:
    response = post(any_receiver.url, data=data)

    assert response.status_code == 400
    assert any_receiver.accepted == []
    assert [r.status for r in any_receiver.received] == [400]


def test_unreadable_json_is_the_frameworks_html_error_page(any_receiver: Receiver) -> None:
    response = post(any_receiver.url, data=b'{"lastUpdated": ')

    assert response.headers["Content-Type"].startswith("text/html")
    assert "<pre>SyntaxError" in response.text


@MALFORMED
def test_malformed_json_is_400_html_with_a_stack_trace(
    receiver: ScriptedReceiver, data: bytes
) -> None:
    response = post(receiver.url, data=data)

    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("text/html")
    assert "<pre>SyntaxError" in response.text
    assert "at JSON.parse" in response.text
    assert receiver.accepted == []


def test_body_at_the_limit_is_accepted_and_one_byte_more_is_413(any_receiver: Receiver) -> None:
    assert post(any_receiver.url, data=padded(model.MAX_BODY_BYTES)).status_code == 200

    response = post(any_receiver.url, data=padded(model.MAX_BODY_BYTES + 1))

    assert response.status_code == 413
    assert response.headers["Content-Type"].startswith("text/html")
    assert "PayloadTooLargeError" in response.text
    assert len(any_receiver.accepted) == 1
    assert [r.status for r in any_receiver.received] == [200, 413]


# --- other methods and paths --------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "PUT", "DELETE"])
def test_other_methods_on_the_endpoint_are_405(any_receiver: Receiver, method: str) -> None:
    response = requests.request(method, any_receiver.url, timeout=TIMEOUT, allow_redirects=False)
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    assert any_receiver.received[0].status == 405


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_other_paths_are_404_html(any_receiver: Receiver, method: str) -> None:
    response = requests.request(
        method,
        any_receiver.base_url + "/api/other",
        headers={"X-API-Key": SECRET_KEY},
        json=SAMPLE,
        timeout=TIMEOUT,
        allow_redirects=False,
    )
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("text/html")
    assert f"Cannot {method} /api/other" in response.text
    assert any_receiver.accepted == []


@pytest.mark.parametrize("name", ["demo", "tests"])
def test_custom_path_is_served(name: str) -> None:
    with kind(name)("k", path="/usage") as server:
        assert server.url.endswith("/usage")
        assert post(server.url, key="k").status_code == 200
        assert post(server.base_url + "/api/claude/console-usage", key="k").status_code == 404


# --- scripted faults ----------------------------------------------------------------------------


def test_scripted_503_then_normal_handling_resumes(receiver: ScriptedReceiver) -> None:
    receiver.script(Fault.answer(503))

    first = post(receiver.url)
    second = post(receiver.url)

    assert first.status_code == 503
    assert first.content == b""
    assert second.status_code == 200
    assert [r.status for r in receiver.received] == [503, 200]
    assert len(receiver.accepted) == 1


def test_scripted_faults_apply_in_order(receiver: ScriptedReceiver) -> None:
    receiver.script(Fault.answer(500, json_body={"errorCode": "DB"}), Fault(), Fault.answer(502))

    statuses = [post(receiver.url).status_code for _ in range(4)]

    assert statuses == [500, 200, 502, 200]
    assert len(receiver.accepted) == 2


def test_scripted_json_answer_carries_the_body(receiver: ScriptedReceiver) -> None:
    receiver.script(Fault.answer(500, json_body={"errorCode": "DB_DOWN", "message": "db down"}))
    response = post(receiver.url)
    assert response.status_code == 500
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == {"errorCode": "DB_DOWN", "message": "db down"}


def test_scripted_429_sends_retry_after(receiver: ScriptedReceiver) -> None:
    receiver.script(Fault.answer(429, headers={"Retry-After": "2"}))
    response = post(receiver.url)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "2"
    assert receiver.accepted == []


def test_scripted_302_sends_location(receiver: ScriptedReceiver) -> None:
    receiver.script(Fault.answer(302, headers={"Location": "https://elsewhere.example/x"}))
    response = post(receiver.url)
    assert response.status_code == 302
    assert response.headers["Location"] == "https://elsewhere.example/x"


def test_scripted_html_answer(receiver: ScriptedReceiver) -> None:
    receiver.script(Fault.answer(502, body=b"<html>Bad Gateway</html>"))
    response = post(receiver.url)
    assert response.status_code == 502
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.text == "<html>Bad Gateway</html>"


def test_scripted_fault_still_records_the_request(receiver: ScriptedReceiver) -> None:
    receiver.script(Fault.answer(503))
    post(receiver.url, headers={"Idempotency-Key": '"k1"'})
    [got] = receiver.received
    assert got.idempotency_key == '"k1"'
    assert got.json == SAMPLE


def test_dropped_connection_gets_no_response(receiver: ScriptedReceiver) -> None:
    receiver.script(Fault.dropped())

    with pytest.raises(requests.ConnectionError):
        post(receiver.url)

    assert [r.status for r in receiver.received] == [0]
    assert receiver.accepted == []
    assert post(receiver.url).status_code == 200


def test_hang_makes_the_client_time_out(receiver: ScriptedReceiver) -> None:
    receiver.script(Fault.hang_for(1.0))

    started = time.monotonic()
    with pytest.raises(requests.ReadTimeout):
        post(receiver.url, timeout=0.2)

    assert time.monotonic() - started < 0.9
    assert receiver.received[0].status == 0


def test_hung_request_is_still_stored_when_the_hang_ends(receiver: ScriptedReceiver) -> None:
    """The classic duplicate: the client gave up, the server stored it anyway."""
    receiver.script(Fault.hang_for(0.3))
    with pytest.raises(requests.ReadTimeout):
        post(receiver.url, timeout=0.1)

    deadline = time.monotonic() + TIMEOUT
    while not receiver.accepted and time.monotonic() < deadline:
        time.sleep(0.02)

    assert len(receiver.accepted) == 1
    assert receiver.received[0].status == 200


def test_short_hang_then_normal_answer(receiver: ScriptedReceiver) -> None:
    receiver.script(Fault.hang_for(0.2))
    started = time.monotonic()
    assert post(receiver.url).status_code == 200
    assert time.monotonic() - started >= 0.2


def test_hang_then_drop(receiver: ScriptedReceiver) -> None:
    receiver.script(Fault(hang=0.2, drop=True))
    started = time.monotonic()
    with pytest.raises(requests.ConnectionError):
        post(receiver.url)
    assert time.monotonic() - started >= 0.2
    assert receiver.accepted == []


def test_fault_answer_refuses_a_non_status() -> None:
    with pytest.raises(ValueError, match="not an HTTP status"):
        Fault.answer(0)


# --- life cycle and hygiene ------------------------------------------------------------------


def test_stop_returns_fast_while_a_handler_hangs(
    own_scripted_receiver: ScriptedReceiver,
) -> None:
    own_scripted_receiver.script(Fault.hang_for(30))
    outcome: list[BaseException | int] = []

    def client() -> None:
        try:
            outcome.append(post(own_scripted_receiver.url, timeout=20).status_code)
        except requests.RequestException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=client, daemon=True)
    thread.start()
    own_scripted_receiver.wait_for(1)

    started = time.monotonic()
    own_scripted_receiver.stop()
    assert time.monotonic() - started < 0.5

    thread.join(timeout=2)
    assert not thread.is_alive(), "the hung client must be released, not left to its timeout"
    assert isinstance(outcome[0], requests.ConnectionError)
    assert own_scripted_receiver.accepted == []
    assert own_scripted_receiver.received[0].status == 0


def test_stop_returns_fast_with_an_idle_keep_alive_connection(
    own_receiver: Receiver,
) -> None:
    with requests.Session() as session:
        session.post(
            own_receiver.url, json=SAMPLE, headers={"X-API-Key": SECRET_KEY}, timeout=TIMEOUT
        )
        started = time.monotonic()
        own_receiver.stop()
        assert time.monotonic() - started < 0.5


def test_stopped_receiver_refuses_connections(own_receiver: Receiver) -> None:
    url = own_receiver.url
    own_receiver.stop()
    own_receiver.stop()  # idempotent
    with pytest.raises(requests.ConnectionError):
        post(url, timeout=1)


def test_wait_for_returns_the_requests_or_times_out(receiver: ScriptedReceiver) -> None:
    post(receiver.url)
    assert len(receiver.wait_for(1)) == 1
    with pytest.raises(TimeoutError, match="expected 2"):
        receiver.wait_for(2, timeout=0.1)


def test_nothing_is_logged_and_the_key_never_shows(
    any_receiver: Receiver, capfd: pytest.CaptureFixture[str]
) -> None:
    post(any_receiver.url)
    post(any_receiver.url, key="sk-wrong")
    requests.get(any_receiver.base_url + "/nope", timeout=TIMEOUT)

    out, err = capfd.readouterr()
    assert out == ""
    assert err == ""
    assert SECRET_KEY not in repr(any_receiver.received)
    assert SECRET_KEY not in repr(any_receiver)


def test_received_json_raises_on_a_non_json_body(any_receiver: Receiver) -> None:
    post(any_receiver.url, data=b"{nope")
    with pytest.raises(ValueError, match="Expecting"):
        _ = any_receiver.received[0].json


def test_received_lists_are_copies(any_receiver: Receiver) -> None:
    post(any_receiver.url)
    any_receiver.received.clear()
    any_receiver.accepted.clear()
    assert len(any_receiver.received) == 1
    assert len(any_receiver.accepted) == 1


def test_arrival_times_are_recorded_in_order(any_receiver: Receiver) -> None:
    before = time.monotonic()
    post(any_receiver.url)
    time.sleep(0.05)
    post(any_receiver.url)
    first, second = any_receiver.received
    assert before <= first.received_at
    assert second.received_at - first.received_at >= 0.05
