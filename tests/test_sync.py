"""`consolescrape sync` end to end: the real CLI against the real test receiver."""

from __future__ import annotations

import json
import os
import re
import signal
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import CLI, SAMPLE, SECRET_KEY, file_mode, sync_env, via_typer, write_snapshot
from support.receiver import Fault, ScriptedReceiver

from consolescrape import model, store


def queue(
    home: Path, count: int, *, start: int = 0, doc: dict[str, object] | None = None
) -> list[str]:
    """Put `count` distinct snapshots in the outbox, oldest first; returns their ids."""
    outbox = store.Outbox(home / "outbox")
    ids = []
    for n in range(start, start + count):
        stamp = datetime(2026, 11, 29, 1, 0, tzinfo=UTC) + timedelta(minutes=5 * n)
        snapshot = model.from_json({**(doc or SAMPLE), "lastUpdated": model.format_time(stamp)})
        payload = model.to_payload(snapshot)
        outbox.add(snapshot, payload.id)
        ids.append(payload.id)
        time.sleep(0.002)  # distinct, ordered file names
    return ids


def sent_keys(receiver: ScriptedReceiver) -> list[str | None]:
    return [r.idempotency_key for r in receiver.accepted]


def pending(home: Path) -> list[Path]:
    return sorted((home / "outbox").glob("*.json"))


# --- resending a file -------------------------------------------------------------------------


def test_sync_file_sends_exactly_the_payload_with_key_and_quoted_idempotency_key(
    cli: CLI, home: Path, receiver: ScriptedReceiver, tmp_path: Path
) -> None:
    data = write_snapshot(
        tmp_path / "usage-data.json",
        weeklyLimits={
            **SAMPLE["weeklyLimits"],  # type: ignore[dict-item]
            "opusOnly": {"resetsIn": "Fri 9:00 AM", "percentageUsed": 5},
        },
    )
    result = cli("sync", "--file", str(data), env=sync_env(receiver))
    assert result.code == 0, result.stderr
    [got] = receiver.accepted
    assert got.headers["X-API-Key"] == SECRET_KEY
    assert got.headers["Content-Type"] == "application/json"
    # The server's contract only: no opusOnly row (not the configured one), no local `source`.
    assert got.json == {key: value for key, value in SAMPLE.items() if key != "source"}
    key = got.idempotency_key
    assert key is not None and key.startswith('"') and key.endswith('"') and len(key) > 10
    assert not (home / "outbox").exists(), "sync --file must not touch the outbox"


def test_same_snapshot_gets_same_idempotency_key_from_file_and_from_outbox(
    cli: CLI, home: Path, receiver: ScriptedReceiver, tmp_path: Path
) -> None:
    [item_id] = queue(home, 1)
    doc = json.loads(pending(home)[0].read_text())
    assert cli("sync", env=sync_env(receiver)).code == 0
    data = write_snapshot(tmp_path / "again.json", doc)
    assert cli("sync", "--file", str(data), env=sync_env(receiver)).code == 0
    assert sent_keys(receiver) == [f'"{item_id}"', f'"{item_id}"']


def test_sync_with_empty_outbox_says_nothing_to_sync(
    cli: CLI, home: Path, receiver: ScriptedReceiver
) -> None:
    result = cli("sync", env=sync_env(receiver))
    assert result.code == 0
    assert "nothing to sync" in result.stderr
    assert receiver.received == []


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        (
            json.dumps({**SAMPLE, "currentSession": {"resetsIn": "1 hr", "percentageUsed": 140}}),
            "currentSession.percentageUsed",
        ),
        (json.dumps({**SAMPLE, "lastUpdated": "yesterday"}), "lastUpdated"),
        (json.dumps({"lastUpdated": "2026-11-29T01:00:00Z"}), "neither currentSession"),
        (
            json.dumps({**SAMPLE, "currentSession": {"resetsIn": "", "percentageUsed": 3}}),
            "currentSession.resetsIn",
        ),
    ],
)
def test_invalid_file_is_exit_2_naming_the_problem_and_nothing_is_sent(
    cli: CLI, receiver: ScriptedReceiver, tmp_path: Path, content: str, problem: str
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    result = cli("sync", "--file", str(bad), env=sync_env(receiver))
    assert result.code == 2
    assert problem in result.stderr
    assert receiver.received == []


def test_missing_file_is_exit_2(cli: CLI, receiver: ScriptedReceiver, tmp_path: Path) -> None:
    result = cli("sync", "--file", str(tmp_path / "nope.json"), env=sync_env(receiver))
    assert result.code == 2
    assert "nope.json" in result.stderr


# --- draining the outbox ----------------------------------------------------------------------


def test_outage_queues_and_later_sync_delivers_all_in_order_exactly_once(
    cli: CLI, home: Path, receiver: ScriptedReceiver
) -> None:
    ids = queue(home, 3)
    down = sync_env(
        receiver,
        CLAUDE_SYNC_URL="http://127.0.0.1:9/api/claude/console-usage",
        CLAUDE_SYNC_DEADLINE="1",
    )
    result = cli("sync", env=down)
    assert result.code == 5
    assert "connection refused" in result.stderr
    assert len(pending(home)) == 3, "nothing may be lost during an outage"

    result = cli("sync", env=sync_env(receiver))
    assert result.code == 0, result.stderr
    assert sent_keys(receiver) == [f'"{i}"' for i in ids]
    assert [r.json["lastUpdated"] for r in receiver.accepted] == sorted(
        r.json["lastUpdated"] for r in receiver.accepted
    )
    assert pending(home) == []
    assert cli("sync", env=sync_env(receiver)).code == 0
    assert len(receiver.accepted) == 3, "a delivered snapshot is never sent again"


def test_server_error_is_retried_with_the_same_idempotency_key(
    cli: CLI, home: Path, receiver: ScriptedReceiver
) -> None:
    [item_id] = queue(home, 1)
    receiver.script(
        Fault.answer(500, json_body={"errorCode": "DB", "message": "db down"}), Fault.answer(503)
    )
    result = cli("sync", env=sync_env(receiver))
    assert result.code == 0, result.stderr
    keys = [r.idempotency_key for r in receiver.received]
    assert keys == [f'"{item_id}"'] * 3
    assert pending(home) == []


def test_dropped_connection_is_retried(cli: CLI, home: Path, receiver: ScriptedReceiver) -> None:
    queue(home, 1)
    receiver.script(Fault.dropped())
    assert cli("sync", env=sync_env(receiver)).code == 0
    assert len(receiver.accepted) == 1


def test_retry_after_is_honoured(cli: CLI, home: Path, receiver: ScriptedReceiver) -> None:
    queue(home, 1)
    receiver.script(Fault.answer(429, headers={"Retry-After": "1"}))
    result = cli("sync", env=sync_env(receiver))
    assert result.code == 0
    first, second = receiver.received
    assert second.received_at - first.received_at >= 0.95


def test_retry_after_beyond_the_deadline_gives_up_at_once_and_keeps_the_item(
    cli: CLI, home: Path, receiver: ScriptedReceiver
) -> None:
    queue(home, 1)
    receiver.script(Fault.answer(429, headers={"Retry-After": "3600"}))
    started = time.monotonic()
    result = cli("sync", env=sync_env(receiver, CLAUDE_SYNC_DEADLINE="30"))
    assert result.code == 5
    assert time.monotonic() - started < 5, "must not wait for a Retry-After past its budget"
    assert len(receiver.received) == 1
    assert len(pending(home)) == 1


def test_hanging_server_ends_within_the_deadline_with_exit_5(
    cli: CLI, home: Path, receiver: ScriptedReceiver
) -> None:
    queue(home, 2)
    receiver.script(*[Fault.hang_for(30)] * 5)
    started = time.monotonic()
    result = cli("sync", env=sync_env(receiver, CLAUDE_SYNC_DEADLINE="1"))
    assert result.code == 5
    assert time.monotonic() - started < 8
    assert "2 snapshot(s) stay queued" in result.stderr
    assert len(pending(home)) == 2


def test_wrong_key_is_exit_6_and_stops_draining(
    cli: CLI, home: Path, receiver: ScriptedReceiver
) -> None:
    queue(home, 3)
    env = sync_env(receiver, CLAUDE_SYNC_API_KEY="sk-wrong-key")
    result = cli("sync", env=env)
    assert result.code == 6
    assert "AUTH_INVALID" in result.stderr
    assert "CLAUDE_SYNC_API_KEY" in result.stderr
    assert "sk-wrong-key" not in result.stderr + result.stdout
    assert len(receiver.received) == 1, "every item would fail: stop after the first"
    assert len(pending(home)) == 3


def test_refused_data_moves_aside_and_draining_goes_on(
    cli: CLI, home: Path, receiver: ScriptedReceiver
) -> None:
    ids = queue(home, 3)
    receiver.script(
        Fault.answer(400, json_body={"success": False, "message": "Invalid data: nope"}),
        Fault.answer(413, body=b"<html><title>413 Payload Too Large</title></html>"),
    )
    result = cli("sync", env=sync_env(receiver))
    assert result.code == 6
    assert "Invalid data: nope" in result.stderr
    assert sent_keys(receiver) == [f'"{ids[2]}"']
    assert pending(home) == []
    rejected = store.Outbox(home / "outbox").rejected()
    assert [p.name.rsplit("-", 1)[1] for p in rejected] == [f"{i}.json" for i in ids[:2]]
    assert all(file_mode(p) == 0o600 for p in rejected)


def test_html_error_page_is_shown_as_a_short_excerpt(
    cli: CLI, home: Path, receiver: ScriptedReceiver
) -> None:
    queue(home, 1)
    trace = "<html><head><title>Error</title></head><body><pre>" + "at x.js:1\n" * 500
    receiver.script(*[Fault.answer(500, body=trace.encode())] * 20)
    result = cli("sync", env=sync_env(receiver, CLAUDE_SYNC_DEADLINE="2"))
    assert result.code == 5
    assert "HTTP 500 Error" in result.stderr
    assert "at x.js" not in result.stderr


def test_redirect_is_not_followed_and_is_a_config_error_naming_location(
    cli: CLI, home: Path, receiver: ScriptedReceiver
) -> None:
    queue(home, 1)
    elsewhere = receiver.base_url + "/moved"
    receiver.script(Fault.answer(302, headers={"Location": elsewhere}))
    result = cli("sync", env=sync_env(receiver))
    assert result.code == 7
    assert elsewhere in result.stderr
    assert [r.path for r in receiver.received] == ["/api/claude/console-usage"]
    assert len(pending(home)) == 1


def test_wrong_endpoint_path_is_a_config_error(
    cli: CLI, home: Path, receiver: ScriptedReceiver
) -> None:
    queue(home, 1)
    result = cli("sync", env=sync_env(receiver, CLAUDE_SYNC_URL=receiver.base_url + "/api/nope"))
    assert result.code == 7
    assert "404" in result.stderr and "CLAUDE_SYNC_URL" in result.stderr
    assert len(pending(home)) == 1


def test_plain_http_to_a_remote_host_is_refused_before_any_connection(
    cli: CLI, home: Path, tmp_path: Path
) -> None:
    data = write_snapshot(tmp_path / "usage-data.json")
    env = {"CLAUDE_SYNC_URL": "http://usage.example.com/api", "CLAUDE_SYNC_API_KEY": SECRET_KEY}
    result = cli("sync", "--file", str(data), env=env)
    assert result.code == 7
    assert "plain http" in result.stderr and "CLAUDE_SYNC_ALLOW_INSECURE" in result.stderr


def test_sync_without_a_key_is_a_config_error(
    cli: CLI, home: Path, receiver: ScriptedReceiver
) -> None:
    queue(home, 1)
    result = cli("sync", env={"CLAUDE_SYNC_URL": receiver.url})
    assert result.code == 7
    assert "CLAUDE_SYNC_API_KEY" in result.stderr
    assert receiver.received == []


def test_json_output_is_one_object_on_stdout(
    cli: CLI, home: Path, receiver: ScriptedReceiver
) -> None:
    queue(home, 2)
    result = cli("sync", "--json", env=sync_env(receiver))
    assert result.code == 0
    doc = result.json
    assert doc["ok"] is True and doc["exitCode"] == 0 and doc["command"] == "sync"
    assert doc["sync"]["sent"] == 2 and doc["sync"]["pending"] == 0


def test_model_row_setting_fills_the_sonnet_slot(
    cli: CLI, home: Path, receiver: ScriptedReceiver
) -> None:
    fable = {
        **SAMPLE,
        "weeklyLimits": {
            "allModels": {"resetsIn": "Thu 7:00 AM", "percentageUsed": 31},
            "fableOnly": {"resetsIn": "Thu 7:00 AM", "percentageUsed": 12},
        },
    }
    queue(home, 1, doc=fable)
    result = cli("sync", env=sync_env(receiver))
    assert result.code == 0
    assert "CONSOLESCRAPE_MODEL_ROW=Fable" in result.stderr
    first = receiver.accepted[0].json
    assert "weeklyLimits" not in first and first["isPartial"] is True
    assert "sonnetOnly" in first["extractionErrors"]

    queue(home, 1, start=1, doc=fable)
    assert cli("sync", env=sync_env(receiver, CONSOLESCRAPE_MODEL_ROW="Fable")).code == 0
    second = receiver.accepted[1].json
    assert second["weeklyLimits"]["sonnetOnly"] == {"resetsIn": "Thu 7:00 AM", "percentageUsed": 12}


def test_state_records_the_last_sync_privately(
    cli: CLI, home: Path, receiver: ScriptedReceiver
) -> None:
    queue(home, 1)
    assert cli("sync", env=sync_env(receiver)).code == 0
    state = json.loads((home / "state.json").read_text())
    assert state["sync"]["ok"] is True and state["sync"]["exitCode"] == 0
    assert file_mode(home / "state.json") == 0o600
    assert file_mode(home) == 0o700


# --- crashes and concurrency ------------------------------------------------------------------


def test_a_sync_killed_mid_post_loses_nothing(
    cli: CLI, home: Path, receiver: ScriptedReceiver
) -> None:
    [item_id] = queue(home, 1)
    receiver.script(Fault.hang_for(20))
    proc = subprocess.Popen(
        [sys.executable, "-m", "consolescrape", "sync"],
        env={**os.environ, **sync_env(receiver)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        receiver.wait_for(1, timeout=15)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert len(pending(home)) == 1
    assert cli("sync", env=sync_env(receiver)).code == 0
    assert pending(home) == []
    assert {r.idempotency_key for r in receiver.received} == {f'"{item_id}"'}


def test_a_second_sync_while_one_runs_exits_8_naming_the_pid(
    cli: CLI, home: Path, receiver: ScriptedReceiver
) -> None:
    queue(home, 1)
    with store.hold_lock(home / "run.lock"):
        result = cli("sync", env=sync_env(receiver))
    assert result.code == 8
    assert f"pid {os.getpid()}" in result.stderr
    assert receiver.received == []
    assert len(pending(home)) == 1


def test_concurrent_syncs_never_send_a_snapshot_twice(
    home: Path, receiver: ScriptedReceiver
) -> None:
    ids = queue(home, 4)
    receiver.script(Fault.hang_for(0.5))  # keep the first process busy while the others start
    env = {**os.environ, **sync_env(receiver)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "consolescrape", "sync"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for _ in range(3)
    ]
    codes = sorted(p.wait(timeout=60) for p in procs)
    assert codes[0] == 0 and set(codes[1:]) <= {0, 8}
    assert sorted(k for k in sent_keys(receiver) if k) == sorted(f'"{i}"' for i in ids)


# --- TLS --------------------------------------------------------------------------------------


@pytest.fixture
def tls_receiver(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An https endpoint with a self-signed certificate for 127.0.0.1; yields (url, cert)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = b'{"success": true}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/api/claude/console-usage", cert
    finally:
        server.shutdown()
        server.server_close()


def test_untrusted_certificate_is_a_config_error_and_ca_bundle_fixes_it(
    cli: CLI, home: Path, tmp_path: Path, tls_receiver: tuple[str, Path]
) -> None:
    url, cert = tls_receiver
    data = write_snapshot(tmp_path / "usage-data.json")
    env = {"CLAUDE_SYNC_URL": url, "CLAUDE_SYNC_API_KEY": SECRET_KEY, "CLAUDE_SYNC_DEADLINE": "5"}
    result = cli("sync", "--file", str(data), env=env)
    assert result.code == 7
    assert "TLS" in result.stderr and "CLAUDE_SYNC_CA_BUNDLE" in result.stderr
    result = cli("sync", "--file", str(data), env={**env, "CLAUDE_SYNC_CA_BUNDLE": str(cert)})
    assert result.code == 0, result.stderr


def test_other_permanent_refusals_move_aside_and_draining_goes_on(
    cli: CLI, home: Path, receiver: ScriptedReceiver
) -> None:
    ids = queue(home, 2)
    receiver.script(Fault.answer(422, json_body={"message": "Unprocessable"}))
    result = cli("sync", env=sync_env(receiver))
    assert result.code == 6
    assert sent_keys(receiver) == [f'"{ids[1]}"']
    assert pending(home) == []
    assert len(store.Outbox(home / "outbox").rejected()) == 1


def test_a_server_trickling_bytes_cannot_stretch_the_deadline(
    cli: CLI, home: Path, trickling_server: str
) -> None:
    queue(home, 1)
    env = {
        "CLAUDE_SYNC_URL": trickling_server,
        "CLAUDE_SYNC_API_KEY": SECRET_KEY,
        "CLAUDE_SYNC_DEADLINE": "1",
    }
    started = time.monotonic()
    result = cli("sync", env=env)
    assert result.code == 5
    assert time.monotonic() - started < 8, "the hard deadline must end a trickling request"
    assert len(pending(home)) == 1


# --- nothing from outside reaches the terminal raw, and the key never comes back ------------

HOSTILE = "\x1b]0;pwned\x07\x1b[2J\x1b[31mInvalid data: \x07nope\x9b"


def test_escape_sequences_in_a_refusal_never_reach_stderr_json_or_state(
    cli: CLI, home: Path, receiver: ScriptedReceiver
) -> None:
    queue(home, 1)
    receiver.script(Fault.answer(400, json_body={"success": False, "message": HOSTILE}))
    result = cli("sync", "--json", env=sync_env(receiver))
    assert result.code == 6
    assert "Invalid data:" in result.stderr and "nope" in result.stderr
    state = (home / "state.json").read_text()
    reason = next((home / "outbox" / "rejected").glob("*.reason.json")).read_text()
    for text in (result.stderr, json.dumps(result.json, ensure_ascii=False), state, reason):
        assert not any(c in text for c in "\x1b\x07\x9b"), repr(text)
        assert "pwned" not in text and "[2J" not in text


def test_a_401_echoing_the_key_never_shows_it_in_stderr_json_or_state(
    cli: CLI, home: Path, receiver: ScriptedReceiver
) -> None:
    queue(home, 1)
    echo = {"errorCode": "AUTH_INVALID", "message": f"key {SECRET_KEY} is not valid"}
    receiver.script(Fault.answer(401, json_body={"success": False, **echo}))
    result = cli("sync", "--json", env=sync_env(receiver))  # the fixture checks both streams
    assert result.code == 6
    assert "AUTH_INVALID" in result.stderr and "[redacted]" in result.stderr
    assert "[redacted]" in result.json["error"]["message"]
    assert SECRET_KEY not in (home / "state.json").read_text()
    assert "[redacted]" in (home / "state.json").read_text()


def test_a_key_cut_in_half_by_the_excerpt_is_still_redacted(
    cli: CLI, home: Path, receiver: ScriptedReceiver
) -> None:
    queue(home, 1)
    message = "x" * 145 + SECRET_KEY  # the excerpt's cut at 160 falls inside the key
    receiver.script(Fault.answer(401, json_body={"message": message}))
    result = cli("sync", env=sync_env(receiver))
    assert result.code == 6
    assert SECRET_KEY[:12] not in result.stderr


# --- one bad item never blocks the queue --------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "why"),
    [
        ("0000000002-deep.json", b"[" * 50_000 + b"]" * 50_000, "nested too deeply"),
        ("0000000002-huge.json", b"[" * 100_000 + b"]" * 100_000, "larger than"),
        (
            "0000000002-year1.json",
            json.dumps({**SAMPLE, "lastUpdated": "0001-01-01T00:00+05:00"}).encode(),
            "impossible value",
        ),
        ("1x-copy.json", b"{not json", "not valid JSON"),
        ("0000000002-latin1.json", b'{"lastUpdated": "caf\xe9"}', "not valid JSON"),
    ],
)
def test_a_bad_outbox_item_is_set_aside_and_the_rest_are_delivered(
    cli: CLI, home: Path, receiver: ScriptedReceiver, name: str, content: bytes, why: str
) -> None:
    ids = queue(home, 1)
    (home / "outbox" / name).write_bytes(content)
    ids += queue(home, 1, start=1)
    result = cli("sync", "--json", env=sync_env(receiver))
    assert result.code == 6, result.stderr
    assert sent_keys(receiver) == [f'"{i}"' for i in ids], "the good items all go through"
    assert pending(home) == []
    [reason] = (home / "outbox" / "rejected").glob("*.reason.json")
    assert why in reason.read_text()
    doc = result.json
    assert doc["ok"] is False and doc["sync"]["rejected"] == 1 and doc["sync"]["sent"] == 2
    assert "set aside" in doc["error"]["message"] and name in doc["error"]["message"]
    assert "set aside" in result.stderr
    again = cli("sync", env=sync_env(receiver))
    assert again.code == 0, "once set aside, the item never blocks a later sync"


def test_an_unreadable_item_is_not_reported_as_ok(
    cli: CLI, home: Path, receiver: ScriptedReceiver
) -> None:
    queue(home, 1)
    (home / "outbox" / "0000000009-dir.json").mkdir()
    result = cli("sync", "--json", env=sync_env(receiver))
    assert result.code == 6
    assert result.json["ok"] is False and "set aside" in result.json["error"]["message"]
    assert len(receiver.accepted) == 1


# --- sync --file reads a bounded regular file -------------------------------------------------


@pytest.mark.parametrize("source", ["/dev/zero", "fifo", "sparse", "directory"])
def test_sync_file_refuses_what_is_not_a_small_regular_file_at_once(
    cli: CLI, home: Path, receiver: ScriptedReceiver, tmp_path: Path, source: str
) -> None:
    path = Path(source)
    if source == "fifo":
        path = tmp_path / "fifo.json"
        os.mkfifo(path)
    elif source == "sparse":
        path = tmp_path / "sparse.json"
        with path.open("wb") as handle:
            handle.truncate(1024**3)
    elif source == "directory":
        path = tmp_path
    started = time.monotonic()
    result = cli("sync", "--file", str(path), env=sync_env(receiver), timeout=20)
    assert result.code == 2, result.stderr
    assert time.monotonic() - started < 10
    assert "not a regular file" in result.stderr or "larger than" in result.stderr
    assert receiver.received == []


def test_resending_a_file_older_than_what_was_delivered_warns_naming_both_times(
    cli: CLI, home: Path, receiver: ScriptedReceiver, tmp_path: Path
) -> None:
    queue(home, 1, start=10)  # 2026-11-29T01:50Z
    assert cli("sync", env=sync_env(receiver)).code == 0
    older = write_snapshot(tmp_path / "older.json")  # 2026-11-29T01:17:41.123Z
    result = cli("sync", "--file", str(older), env=sync_env(receiver))
    assert result.code == 0, result.stderr
    assert "2026-11-29T01:17:41.123Z" in result.stderr
    assert "2026-11-29T01:50:00.000Z" in result.stderr and "older" in result.stderr
    newer = write_snapshot(tmp_path / "newer.json", lastUpdated="2026-11-29T02:00:00.000Z")
    assert "older" not in cli("sync", "--file", str(newer), env=sync_env(receiver)).stderr


@pytest.mark.parametrize("status", [400, 413, 422])
def test_a_refused_snapshot_is_counted_the_same_by_sync_and_by_sync_file(
    cli: CLI, receiver: ScriptedReceiver, tmp_path: Path, status: int
) -> None:
    """One verdict per answer: a 422 is a refusal of the data wherever it is met."""
    data = write_snapshot(tmp_path / "usage-data.json")
    receiver.script(Fault.answer(status, {"success": False, "message": "Invalid data: no"}))
    result = cli("sync", "--file", str(data), "--json", env=sync_env(receiver))
    assert result.code == 6
    assert result.json["sync"] | {"attempts": 0} == {
        "sent": 0, "rejected": 1, "pending": 0, "attempts": 0, "error": result.json["sync"]["error"]
    }  # fmt: skip
    queued = write_snapshot(tmp_path / "home" / "outbox" / "0000000001-x-a.json")
    receiver.script(Fault.answer(status, {"success": False, "message": "Invalid data: no"}))
    result = cli("sync", "--json", env=sync_env(receiver))
    assert result.code == 6
    assert (result.json["sync"]["rejected"], result.json["sync"]["pending"]) == (1, 0)
    assert not queued.exists() and list((tmp_path / "home" / "outbox" / "rejected").iterdir())


# --- the front door: `sync` is answered before typer is imported -----------------------------


def untimed(stream: str) -> str:
    """Messages without their leading timestamps (two runs a second apart say the same)."""
    return re.sub(r"(?m)^\d{4}-\d\d-\d\dT\S+ ", "", stream)


@pytest.mark.parametrize(
    ("case", "code"),
    [("sends the file", 0), ("an invalid file", 2), ("a wrong key", 6), ("drains", 0)],
)
def test_typer_gives_the_same_answer_as_the_front_door(
    cli: CLI, home: Path, receiver: ScriptedReceiver, tmp_path: Path, case: str, code: int
) -> None:
    env = sync_env(receiver)
    if case == "a wrong key":
        env["CLAUDE_SYNC_API_KEY"] = "not-the-key-the-server-wants"
    data = write_snapshot(tmp_path / "usage-data.json")
    if case == "an invalid file":
        data.write_text('{"currentSession": 47}')
    args = ["sync", "--json"] if case == "drains" else ["sync", "--file", str(data), "--json"]
    if case == "drains":
        queue(home, 1)
    front = cli(*args, env=env)
    if case == "drains":
        queue(home, 1, start=1)
    typed = via_typer(*args, env=env)
    assert front.code == typed.code == code, (front, typed)
    front_doc, typed_doc = front.json, typed.json
    for doc in (front_doc, typed_doc):
        (doc.get("sync") or {}).pop("seconds", None)
    assert front_doc == typed_doc
    assert untimed(front.stderr) == untimed(typed.stderr)


def test_sync_imports_no_command_layer(
    home: Path, receiver: ScriptedReceiver, tmp_path: Path
) -> None:
    """What `python -X importtime` lists for `sync --file`: the POST's own, no typer, rich or
    browser."""
    data = write_snapshot(tmp_path / "usage-data.json")
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "consolescrape", "sync", "--file", str(data)],
        env={**os.environ, **sync_env(receiver)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(receiver.accepted) == 1
    loaded = {row.rsplit("|", 1)[-1].strip() for row in done.stderr.splitlines() if "|" in row}
    assert "consolescrape.commands.sync" in loaded  # the listing is real
    heavy = {"typer", "click", "rich", "selenium", "sqlite3", "consolescrape.cli"}
    assert sorted(heavy & (loaded | {name.split(".")[0] for name in loaded})) == []


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["--help"], 0, "Send queued snapshots"),
        (["--home", "a", "--home", "b"], 2, "--home was given 2 times"),
        (["--file"], 2, "requires an argument"),
        (["--file", "a", "--file", "b"], 2, "b"),
        (["--bogus"], 2, "No such option: --bogus"),
        (["-vv"], 0, "nothing to sync"),
    ],
)
def test_what_the_front_door_does_not_take_typer_answers(
    cli: CLI, receiver: ScriptedReceiver, args: list[str], code: int, words: str
) -> None:
    """In typer's words: usage, a second --home refused, the last --file, combined flags."""
    result = cli("sync", *args, env=sync_env(receiver))
    assert result.code == code, result.stderr
    assert words in result.stdout + result.stderr


def test_a_reader_that_goes_away_is_exit_1_without_a_traceback(
    home: Path, receiver: ScriptedReceiver
) -> None:
    """`consolescrape sync --json | head -c0`: as typer's door answers it, quietly."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "consolescrape", "sync", "--json"],
        env={**os.environ, **sync_env(receiver)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    proc.stdout.close()  # long before the one JSON object is written
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr
