"""The data model: keys, times, the local JSON format and the server contract.

The contract is docs/server-contract.md.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from conftest import MODEL_ROWS

from consolescrape import model
from consolescrape.model import Limit, Snapshot

T = datetime(2026, 11, 29, 1, 17, 41, 123000, tzinfo=UTC)
T_TEXT = "2026-11-29T01:17:41.123Z"
RESET = datetime(2026, 11, 29, 4, 0, tzinfo=UTC)

SESSION = Limit("2 hr 42 min", 47, RESET)
ALL = Limit("Thu 7:00 AM", 31)
SONNET = Limit("Sat 12:00 PM", 10)
FABLE = Limit("Sat 12:00 PM", 12.5)
OPUS = Limit("Fri 19:00", 3)

VALID: dict[str, Any] = {
    "currentSession": {"resetsIn": "2 hr 42 min", "percentageUsed": 47},
    "weeklyLimits": {
        "allModels": {"resetsIn": "Thu 7:00 AM", "percentageUsed": 31},
        "sonnetOnly": {"resetsIn": "Sat 12:00 PM", "percentageUsed": 10},
    },
    "lastUpdated": T_TEXT,
    "isPartial": False,
}

#: The only keys the server is sent (docs/server-contract.md).
PAYLOAD_KEYS = {"currentSession", "weeklyLimits", "lastUpdated", "isPartial", "extractionErrors"}


def snap(
    session: Limit | None = SESSION,
    *,
    errors: dict[str, str] | None = None,
    partial: bool = False,
    source: str | None = "page",
    when: datetime = T,
    **weekly: Limit,
) -> Snapshot:
    return Snapshot(
        last_updated=when,
        session=session,
        weekly=weekly,
        extraction_errors=errors or {},
        is_partial=partial,
        source=source,
    )


def changed(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of `doc` with the dotted `path` set to `value` (or removed for DELETE)."""
    out = copy.deepcopy(doc)
    *parents, last = path.split(".")
    target = out
    for step in parents:
        target = target[step]
    if value is DELETE:
        del target[last]
    else:
        target[last] = value
    return out


DELETE = object()


# --- keys ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "key"),
    [
        *MODEL_ROWS,
        ("All models", "allModels"),
        ("Sonnet only   ", "sonnetOnly"),
        ("  Fable ", "fableOnly"),
        ("SONNET ONLY", "sonnetOnly"),
        ("sonnet", "sonnetOnly"),
        ("Sonnet", "sonnetOnly"),
        ("Sonnet  Only", "sonnetOnly"),
        ("all MODELS", "allModels"),
        ("claude design only", "claudeDesignOnly"),
    ],
)
def test_model_key_from_page_label(label: str, key: str) -> None:
    assert model.model_key(label) == key


@pytest.mark.parametrize("label", ["", "   ", "—", "!!"])
def test_model_key_refuses_a_label_without_a_name(label: str) -> None:
    with pytest.raises(ValueError, match="no model name"):
        model.model_key(label)


@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("sonnetOnly", "Sonnet"),
        ("opusOnly", "Opus"),
        ("fableOnly", "Fable"),
        ("claudeDesignOnly", "Claude Design"),
    ],
)
def test_model_name_is_the_inverse_of_model_key(key: str, name: str) -> None:
    assert model.model_name(key) == name
    assert model.model_key(name) == key


# --- time ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (T, T_TEXT),
        (datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "2026-01-02T03:04:05.000Z"),
        (datetime(2026, 1, 2, 3, 4, 5, 999999, tzinfo=UTC), "2026-01-02T03:04:05.999Z"),
        (
            datetime(2026, 11, 29, 3, 17, 41, 123000, tzinfo=timezone(timedelta(hours=2))),
            T_TEXT,
        ),
        (
            datetime(2026, 11, 28, 20, 17, 41, 123456, tzinfo=timezone(timedelta(hours=-5))),
            T_TEXT,
        ),
    ],
    ids=["utc", "zero-ms", "truncated-not-rounded", "plus-2", "minus-5"],
)
def test_format_time_is_utc_with_milliseconds_and_z(moment: datetime, text: str) -> None:
    assert model.format_time(moment) == text


@pytest.mark.parametrize(
    "text",
    [T_TEXT, "2026-11-29T01:17:41.123+00:00", "2026-11-29T03:17:41.123+02:00", f"  {T_TEXT}\n"],
)
def test_parse_time_reads_zoned_iso_8601_as_utc(text: str) -> None:
    parsed = model.parse_time(text)
    assert parsed == T
    assert parsed.utcoffset() == timedelta(0)


def test_parse_time_refuses_naive_timestamps() -> None:
    with pytest.raises(ValueError, match="without a time zone"):
        model.parse_time("2026-11-29T01:17:41.123")


@pytest.mark.parametrize("text", ["", "yesterday", "29/11/2026 01:17", "2026-13-01T00:00:00Z"])
def test_parse_time_refuses_non_timestamps(text: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        model.parse_time(text)


def test_time_round_trip_keeps_the_millisecond() -> None:
    assert model.parse_time(model.format_time(T)) == T


# --- local JSON ----------------------------------------------------------------------------------


def test_to_json_writes_the_spec_example_shape() -> None:
    doc = model.to_json(snap(allModels=ALL, sonnetOnly=SONNET, source="api"))
    assert doc == {
        "currentSession": {
            "resetsIn": "2 hr 42 min",
            "percentageUsed": 47,
            "resetsAt": "2026-11-29T04:00:00.000Z",
        },
        "weeklyLimits": {
            "allModels": {"resetsIn": "Thu 7:00 AM", "percentageUsed": 31},
            "sonnetOnly": {"resetsIn": "Sat 12:00 PM", "percentageUsed": 10},
        },
        "lastUpdated": T_TEXT,
        "isPartial": False,
        "source": "api",
    }


def test_to_json_leaves_out_what_is_absent() -> None:
    doc = model.to_json(snap(None, source=None, allModels=ALL))
    assert set(doc) == {"weeklyLimits", "lastUpdated", "isPartial"}


def test_to_json_keeps_every_model_row_under_its_own_key() -> None:
    doc = model.to_json(snap(allModels=ALL, fableOnly=FABLE, opusOnly=OPUS))
    assert list(doc["weeklyLimits"]) == ["allModels", "fableOnly", "opusOnly"]


@pytest.mark.parametrize(
    "snapshot",
    [
        snap(allModels=ALL, sonnetOnly=SONNET),
        snap(None, allModels=ALL, fableOnly=FABLE, opusOnly=OPUS, source="api"),
        snap(
            Limit("Starts when a message is sent", 0),
            errors={"sonnetOnly": "row not found"},
            partial=True,
            allModels=Limit("Thu 7:00 AM", 31, RESET),
        ),
        snap(Limit("Sat, Aug 1", 99.5), source=None),
    ],
    ids=["complete", "model-rows", "partial-with-errors", "float-no-source"],
)
def test_to_json_from_json_round_trip(snapshot: Snapshot) -> None:
    doc = json.loads(json.dumps(model.to_json(snapshot)))
    assert model.from_json(doc) == snapshot


def test_round_trip_keeps_ints_ints_and_floats_floats() -> None:
    snapshot = snap(Limit("1 hr", 47), allModels=Limit("Thu", 47.0), sonnetOnly=Limit("Sat", 0.5))
    back = model.from_json(json.loads(json.dumps(model.to_json(snapshot))))
    assert back.session is not None
    assert type(back.session.percentage_used) is int
    assert type(back.weekly["allModels"].percentage_used) is float
    assert back.weekly["sonnetOnly"].percentage_used == 0.5


def test_round_trip_keeps_resets_at_source_and_errors() -> None:
    snapshot = snap(source="api", errors={"sonnetOnly": "row not found"}, partial=True)
    back = model.from_json(json.loads(json.dumps(model.to_json(snapshot))))
    assert back.session is not None
    assert back.session.resets_at == RESET
    assert back.source == "api"
    assert back.extraction_errors == {"sonnetOnly": "row not found"}
    assert back.is_partial is True


def test_from_json_reads_a_bare_payload() -> None:
    snapshot = model.from_json(VALID)
    assert snapshot.session == Limit("2 hr 42 min", 47)
    assert snapshot.source is None


def test_from_json_tolerates_null_sections_and_missing_flags() -> None:
    snapshot = model.from_json(
        {
            "currentSession": None,
            "weeklyLimits": {"allModels": VALID["weeklyLimits"]["allModels"]},
            "lastUpdated": T_TEXT,
        }
    )
    assert snapshot.session is None
    assert snapshot.is_partial is False
    assert snapshot.extraction_errors == {}


@pytest.mark.parametrize("doc", [None, [], "text", 3, True])
def test_from_json_refuses_a_non_object(doc: object) -> None:
    with pytest.raises(model.ContractViolation, match="document: must be a JSON object"):
        model.from_json(doc)


@pytest.mark.parametrize(
    ("path", "value", "problem"),
    [
        ("lastUpdated", DELETE, "lastUpdated: missing or not a string"),
        ("lastUpdated", 1764379061, "lastUpdated: missing or not a string"),
        ("lastUpdated", "last tuesday", "lastUpdated: not an ISO 8601 timestamp"),
        (
            "lastUpdated",
            "2026-11-29T01:17:41",
            "lastUpdated: not an ISO 8601 timestamp with a zone",
        ),
        ("currentSession.percentageUsed", 140, "currentSession.percentageUsed: must be a number"),
        ("currentSession.percentageUsed", -1, "currentSession.percentageUsed: must be a number"),
        ("currentSession.percentageUsed", "47", "currentSession.percentageUsed: must be a number"),
        ("currentSession.percentageUsed", True, "currentSession.percentageUsed: must be a number"),
        (
            "currentSession.percentageUsed",
            float("nan"),
            "currentSession.percentageUsed: must be a number",
        ),
        (
            "currentSession.percentageUsed",
            DELETE,
            "currentSession.percentageUsed: must be a number",
        ),
        ("currentSession.resetsIn", "", "currentSession.resetsIn: must be a non-empty string"),
        ("currentSession.resetsIn", "   ", "currentSession.resetsIn: must be a non-empty string"),
        ("currentSession.resetsIn", 5, "currentSession.resetsIn: must be a non-empty string"),
        ("currentSession.resetsAt", "soon", "currentSession.resetsAt: must be an ISO 8601"),
        ("currentSession", "47%", "currentSession: must be an object"),
        ("weeklyLimits", ["allModels"], "weeklyLimits: must be an object"),
        ("weeklyLimits.allModels.resetsIn", "", "weeklyLimits.allModels.resetsIn"),
        ("weeklyLimits.sonnetOnly.percentageUsed", 101, "weeklyLimits.sonnetOnly.percentageUsed"),
        ("weeklyLimits.sonnetOnly", 10, "weeklyLimits.sonnetOnly: must be an object"),
        ("isPartial", "no", "isPartial: must be true or false"),
        ("extractionErrors", ["x"], "extractionErrors: must be an object of strings"),
        ("extractionErrors", {"allModels": 3}, "extractionErrors: must be an object of strings"),
    ],
)
def test_from_json_names_the_field_of_each_problem(path: str, value: Any, problem: str) -> None:
    with pytest.raises(model.ContractViolation) as caught:
        model.from_json(changed(VALID, path, value))
    assert any(p.startswith(problem) for p in caught.value.problems), caught.value.problems


@pytest.mark.parametrize(
    "doc",
    [
        {"lastUpdated": T_TEXT},
        {"lastUpdated": T_TEXT, "weeklyLimits": {}},
        {"lastUpdated": T_TEXT, "currentSession": None, "weeklyLimits": None},
    ],
    ids=["nothing", "empty-weekly", "nulls"],
)
def test_from_json_refuses_a_document_without_any_section(doc: dict[str, Any]) -> None:
    with pytest.raises(model.ContractViolation, match="neither currentSession nor weeklyLimits"):
        model.from_json(doc)


def test_from_json_reports_every_problem_at_once() -> None:
    doc = changed(changed(VALID, "lastUpdated", DELETE), "currentSession.percentageUsed", 140)
    with pytest.raises(model.ContractViolation) as caught:
        model.from_json(doc)
    assert len(caught.value.problems) == 2
    assert str(caught.value) == "; ".join(caught.value.problems)


# --- the payload ---------------------------------------------------------------------------------


SNAPSHOTS: dict[str, Snapshot] = {
    "complete": snap(allModels=ALL, sonnetOnly=SONNET),
    "complete-extra-rows": snap(allModels=ALL, sonnetOnly=SONNET, opusOnly=OPUS, fableOnly=FABLE),
    "session-only": snap(),
    "weekly-only": snap(None, allModels=ALL, sonnetOnly=SONNET),
    "session-and-all-models": snap(allModels=ALL),
    "session-and-fable": snap(fableOnly=FABLE),
    "session-unused": snap(Limit("Starts when a message is sent", 0), allModels=ALL),
    "weekly-unused": snap(
        None,
        allModels=Limit("Thu 7:00 AM", 100),
        sonnetOnly=Limit("You haven’t used Sonnet yet", 0),
    ),
    "floats": snap(Limit("29 min", 99.99), allModels=Limit("Mar 1", 0.01), sonnetOnly=SONNET),
    "finished-partial": model.finish(
        T, None, {"allModels": ALL, "sonnetOnly": SONNET}, source="api"
    ),
}


def test_payload_drops_local_only_keys_and_other_rows() -> None:
    snapshot = snap(
        source="api", allModels=Limit("Thu 7:00 AM", 31, RESET), sonnetOnly=SONNET, opusOnly=OPUS
    )

    body = model.to_payload(snapshot).body

    assert body == VALID
    assert "resetsAt" not in json.dumps(body)


def test_payload_has_only_the_keys_the_spec_lists() -> None:
    for snapshot in SNAPSHOTS.values():
        body = model.to_payload(snapshot).body
        assert set(body) <= PAYLOAD_KEYS
        assert set(body.get("weeklyLimits", {})) <= {"allModels", "sonnetOnly"}


def test_model_row_fills_the_sonnet_slot() -> None:
    snapshot = snap(allModels=ALL, fableOnly=FABLE, sonnetOnly=SONNET)

    payload = model.to_payload(snapshot, model_row="Fable")

    assert payload.body["weeklyLimits"]["sonnetOnly"] == {
        "resetsIn": "Sat 12:00 PM",
        "percentageUsed": 12.5,
    }
    assert payload.body["isPartial"] is False
    assert "extractionErrors" not in payload.body
    assert payload.hint is None


def test_missing_slot_row_omits_weekly_limits_and_says_which_rows_exist() -> None:
    snapshot = snap(allModels=ALL, fableOnly=FABLE)

    payload = model.to_payload(snapshot)

    assert "weeklyLimits" not in payload.body
    assert payload.body["isPartial"] is True
    errors = payload.body["extractionErrors"]
    assert "page shows model rows: Fable" in errors["sonnetOnly"]
    assert "both allModels and sonnetOnly" in errors["weeklyLimits"]
    assert payload.hint == (
        "page shows model rows: Fable — set CONSOLESCRAPE_MODEL_ROW=Fable to sync it as sonnetOnly"
    )


def test_hint_names_every_other_row_and_suggests_the_first() -> None:
    payload = model.to_payload(snap(allModels=ALL, opusOnly=OPUS, fableOnly=FABLE))
    assert payload.hint == (
        "page shows model rows: Opus, Fable — set CONSOLESCRAPE_MODEL_ROW=Opus "
        "to sync it as sonnetOnly"
    )


def test_rows_note_from_finish_is_not_repeated_in_the_payload() -> None:
    snapshot = model.finish(T, SESSION, {"allModels": ALL, "fableOnly": FABLE}, source="page")
    reason = model.to_payload(snapshot).body["extractionErrors"]["sonnetOnly"]
    assert reason.count("page shows model rows") == 1


def test_missing_all_models_row_omits_weekly_limits() -> None:
    payload = model.to_payload(snap(sonnetOnly=SONNET))

    assert "weeklyLimits" not in payload.body
    assert payload.body["isPartial"] is True
    assert payload.body["extractionErrors"]["allModels"] == "row not found"
    assert "weeklyLimits" in payload.body["extractionErrors"]
    assert payload.hint is None


def test_missing_session_is_partial_with_the_recorded_reason() -> None:
    snapshot = snap(
        None, errors={"currentSession": "bar unreadable"}, allModels=ALL, sonnetOnly=SONNET
    )

    body = model.to_payload(snapshot).body

    assert "currentSession" not in body
    assert body["isPartial"] is True
    assert body["extractionErrors"] == {"currentSession": "bar unreadable"}


def test_payload_passes_on_unrelated_extraction_errors() -> None:
    snapshot = snap(errors={"opusOnly": "bar and text disagree"}, allModels=ALL, sonnetOnly=SONNET)
    body = model.to_payload(snapshot).body
    assert body["extractionErrors"] == {"opusOnly": "bar and text disagree"}
    assert body["isPartial"] is False


def test_payload_drops_slot_errors_once_another_row_fills_the_slot() -> None:
    """An outbox item scraped with the default row is sent after the user set MODEL_ROW=Fable."""
    scraped = model.finish(T, SESSION, {"allModels": ALL, "fableOnly": FABLE}, source="page")
    body = model.to_payload(scraped, model_row="Fable").body
    assert body["isPartial"] is False
    assert "extractionErrors" not in body


@pytest.mark.parametrize("snapshot", SNAPSHOTS.values(), ids=SNAPSHOTS.keys())
def test_every_payload_passes_the_servers_rules(snapshot: Snapshot) -> None:
    payload = model.to_payload(snapshot)
    assert model.validate_payload(payload.body) == []
    assert json.loads(payload.encode()) == payload.body


def test_snapshot_with_nothing_the_server_takes_gives_a_refused_payload() -> None:
    """Only an unrelated model row: nothing is invented, so the caller must not send it."""
    body = model.to_payload(snap(None, opusOnly=OPUS)).body
    assert model.validate_payload(body) == ["body: needs currentSession or weeklyLimits"]


def test_payload_id_is_stable_for_the_same_snapshot() -> None:
    first = model.to_payload(snap(allModels=ALL, sonnetOnly=SONNET))
    again = model.to_payload(snap(allModels=ALL, sonnetOnly=SONNET))
    assert first.id == again.id
    assert re.fullmatch(r"[0-9a-f]{32}", first.id)


def test_payload_id_survives_the_local_file() -> None:
    snapshot = snap(allModels=ALL, sonnetOnly=SONNET, when=T + timedelta(microseconds=456))
    reread = model.from_json(json.loads(json.dumps(model.to_json(snapshot))))
    assert model.to_payload(reread).id == model.to_payload(snapshot).id


def test_payload_id_ignores_local_only_data() -> None:
    plain = snap(allModels=ALL, sonnetOnly=SONNET, source="page")
    richer = snap(
        allModels=Limit("Thu 7:00 AM", 31, RESET), sonnetOnly=SONNET, opusOnly=OPUS, source="api"
    )
    assert model.to_payload(plain).id == model.to_payload(richer).id


@pytest.mark.parametrize(
    "other",
    [
        snap(Limit("2 hr 42 min", 48), allModels=ALL, sonnetOnly=SONNET),
        snap(Limit("2 hr 41 min", 47), allModels=ALL, sonnetOnly=SONNET),
        snap(allModels=ALL, sonnetOnly=SONNET, when=T + timedelta(milliseconds=1)),
        snap(allModels=ALL),
    ],
    ids=["percentage", "reset-text", "time", "missing-row"],
)
def test_payload_id_differs_for_different_data(other: Snapshot) -> None:
    base = model.to_payload(snap(allModels=ALL, sonnetOnly=SONNET))
    assert model.to_payload(other).id != base.id


def test_payload_encoding_is_compact_utf8() -> None:
    payload = model.to_payload(snap(Limit("You haven’t used Sonnet yet", 0)))
    raw = payload.encode()
    assert b", " not in raw
    assert "haven’t".encode() in raw


# --- the server's rules --------------------------------------------------------------------------


@pytest.mark.parametrize("body", [None, [], [VALID], "text", 1])
def test_validate_refuses_a_non_object(body: object) -> None:
    assert model.validate_payload(body) == ["body: must be a JSON object"]


@pytest.mark.parametrize(
    ("path", "value", "problem"),
    [
        ("lastUpdated", DELETE, "lastUpdated: missing or not a string"),
        ("lastUpdated", None, "lastUpdated: missing or not a string"),
        ("lastUpdated", 1764379061000, "lastUpdated: missing or not a string"),
        ("lastUpdated", "", "lastUpdated: not an ISO 8601 timestamp"),
        ("lastUpdated", "Sun Nov 29 2026", "lastUpdated: not an ISO 8601 timestamp"),
        ("currentSession", None, "currentSession: must be an object"),
        ("currentSession", [], "currentSession: must be an object"),
        ("currentSession.resetsIn", DELETE, "currentSession.resetsIn: must be a non-empty string"),
        ("currentSession.resetsIn", "", "currentSession.resetsIn: must be a non-empty string"),
        ("currentSession.resetsIn", None, "currentSession.resetsIn: must be a non-empty string"),
        (
            "currentSession.resetsIn",
            ["2 hr"],
            "currentSession.resetsIn: must be a non-empty string",
        ),
        (
            "currentSession.percentageUsed",
            DELETE,
            "currentSession.percentageUsed: must be a number",
        ),
        ("currentSession.percentageUsed", None, "currentSession.percentageUsed: must be a number"),
        ("currentSession.percentageUsed", "47", "currentSession.percentageUsed: must be a number"),
        ("currentSession.percentageUsed", True, "currentSession.percentageUsed: must be a number"),
        ("currentSession.percentageUsed", -1, "currentSession.percentageUsed: must be a number"),
        ("currentSession.percentageUsed", -0.01, "currentSession.percentageUsed: must be a number"),
        (
            "currentSession.percentageUsed",
            100.01,
            "currentSession.percentageUsed: must be a number",
        ),
        ("currentSession.percentageUsed", 140, "currentSession.percentageUsed: must be a number"),
        (
            "currentSession.percentageUsed",
            float("nan"),
            "currentSession.percentageUsed: must be a number",
        ),
        (
            "currentSession.percentageUsed",
            float("inf"),
            "currentSession.percentageUsed: must be a number",
        ),
        ("weeklyLimits", None, "weeklyLimits: must be an object"),
        ("weeklyLimits", "31%", "weeklyLimits: must be an object"),
        ("weeklyLimits.allModels", DELETE, "weeklyLimits.allModels: missing"),
        ("weeklyLimits.sonnetOnly", DELETE, "weeklyLimits.sonnetOnly: missing"),
        ("weeklyLimits.sonnetOnly", None, "weeklyLimits.sonnetOnly: must be an object"),
        ("weeklyLimits.allModels.resetsIn", "", "weeklyLimits.allModels.resetsIn"),
        ("weeklyLimits.allModels.percentageUsed", 101, "weeklyLimits.allModels.percentageUsed"),
        ("weeklyLimits.sonnetOnly.resetsIn", 7, "weeklyLimits.sonnetOnly.resetsIn"),
        ("weeklyLimits.sonnetOnly.percentageUsed", False, "weeklyLimits.sonnetOnly.percentageUsed"),
    ],
)
def test_validate_names_the_field_the_server_refuses(path: str, value: Any, problem: str) -> None:
    problems = model.validate_payload(changed(VALID, path, value))
    assert len(problems) == 1, problems
    assert problems[0].startswith(problem)


def test_validate_requires_a_section() -> None:
    body = {"lastUpdated": T_TEXT, "isPartial": True}
    assert model.validate_payload(body) == ["body: needs currentSession or weeklyLimits"]


def test_validate_reports_every_problem() -> None:
    body = changed(changed(VALID, "lastUpdated", DELETE), "weeklyLimits.allModels", DELETE)
    body = changed(body, "currentSession.percentageUsed", 140)
    assert len(model.validate_payload(body)) == 3


@pytest.mark.parametrize(
    "body",
    [
        VALID,
        changed(VALID, "weeklyLimits", DELETE),
        changed(VALID, "currentSession", DELETE),
        changed(VALID, "currentSession.percentageUsed", 0),
        changed(VALID, "currentSession.percentageUsed", 100),
        changed(VALID, "currentSession.percentageUsed", 47.5),
        changed(VALID, "currentSession.percentageUsed", 0.0),
        changed(VALID, "lastUpdated", "2026-11-29T03:17:41+02:00"),
        changed(VALID, "lastUpdated", "2026-11-29T01:17:41Z"),
        changed(VALID, "currentSession.resetsAt", "2026-11-29T04:00:00.000Z"),
        changed(VALID, "weeklyLimits.opusOnly", {"resetsIn": "Fri", "percentageUsed": 3}),
        changed(VALID, "source", "api"),
        changed(VALID, "somethingNew", {"nested": [1, 2, 3]}),
        changed(VALID, "isPartial", "not checked by the server"),
        changed(VALID, "extractionErrors", {"sonnetOnly": "row not found"}),
    ],
    ids=[
        "complete",
        "session-only",
        "weekly-only",
        "zero",
        "hundred",
        "float",
        "float-zero",
        "offset-time",
        "no-ms-time",
        "resetsAt",
        "extra-weekly-row",
        "source",
        "unknown-key",
        "isPartial-unchecked",
        "extractionErrors",
    ],
)
def test_validate_accepts_what_the_server_accepts(body: dict[str, Any]) -> None:
    assert model.validate_payload(body) == []


def _padded(size: int) -> dict[str, Any]:
    """VALID plus an extra key, `size` bytes long once compactly encoded."""
    empty = len(json.dumps({**VALID, "pad": ""}, separators=(",", ":")).encode())
    return {**VALID, "pad": "x" * (size - empty)}


def test_validate_accepts_exactly_100_kib() -> None:
    assert model.validate_payload(_padded(model.MAX_BODY_BYTES)) == []


def test_validate_refuses_more_than_100_kib() -> None:
    problems = model.validate_payload(_padded(model.MAX_BODY_BYTES + 1))
    assert problems == [
        f"body: {model.MAX_BODY_BYTES + 1} bytes, over the server's 102400-byte limit"
    ]


def test_validate_counts_utf8_bytes_not_characters() -> None:
    body = _padded(model.MAX_BODY_BYTES - 1)
    body["pad"] = body["pad"][:-1] + "’"  # one more character, two more bytes
    assert model.validate_payload(body) != []


# JSON allows integers too big for a float; they must be refused, not crash (OverflowError).
HUGE = 10**400


def test_validate_refuses_a_huge_integer_percentage() -> None:
    problems = model.validate_payload(changed(VALID, "currentSession.percentageUsed", HUGE))
    assert problems[0].startswith("currentSession.percentageUsed: must be a number")


def test_from_json_refuses_a_huge_integer_percentage() -> None:
    with pytest.raises(model.ContractViolation, match=r"currentSession\.percentageUsed"):
        model.from_json(changed(VALID, "currentSession.percentageUsed", HUGE))


# --- finish --------------------------------------------------------------------------------------


def test_finish_with_every_section_is_complete() -> None:
    snapshot = model.finish(T, SESSION, {"allModels": ALL, "sonnetOnly": SONNET}, source="page")
    assert snapshot.is_partial is False
    assert snapshot.extraction_errors == {}
    assert snapshot.source == "page"
    assert not snapshot.empty


@pytest.mark.parametrize(
    ("session", "weekly", "missing"),
    [
        (None, {"allModels": ALL, "sonnetOnly": SONNET}, {"currentSession": "section not found"}),
        (SESSION, {"sonnetOnly": SONNET}, {"allModels": "row not found"}),
        (SESSION, {"allModels": ALL}, {"sonnetOnly": "row not found"}),
        (SESSION, {}, {"allModels": "row not found", "sonnetOnly": "row not found"}),
    ],
    ids=["session", "all-models", "sonnet", "both-weekly"],
)
def test_finish_records_why_each_missing_section_is_missing(
    session: Limit | None, weekly: dict[str, Limit], missing: dict[str, str]
) -> None:
    snapshot = model.finish(T, session, weekly, source="page")
    assert snapshot.is_partial is True
    assert snapshot.extraction_errors == missing


def test_finish_notes_the_model_rows_the_page_shows() -> None:
    snapshot = model.finish(T, SESSION, {"allModels": ALL, "fableOnly": FABLE}, source="page")
    assert snapshot.extraction_errors == {
        "sonnetOnly": "row not found (page shows model rows: Fable)"
    }
    assert snapshot.weekly == {"allModels": ALL, "fableOnly": FABLE}


def test_finish_with_model_row_treats_that_row_as_the_slot() -> None:
    snapshot = model.finish(
        T, SESSION, {"allModels": ALL, "fableOnly": FABLE}, source="page", model_row="Fable"
    )
    assert snapshot.is_partial is False
    assert snapshot.extraction_errors == {}


def test_finish_uses_the_extractors_reason_for_missing_sections_only() -> None:
    snapshot = model.finish(
        T,
        SESSION,
        {"sonnetOnly": SONNET},
        source="page",
        errors={
            "currentSession": "found later",
            "allModels": "bar and text disagree",
            "opusOnly": "garbled",
        },
    )
    assert snapshot.extraction_errors == {
        "allModels": "bar and text disagree",
        "opusOnly": "garbled",
    }
    assert snapshot.is_partial is True


def test_finish_extra_errors_alone_do_not_make_it_partial() -> None:
    snapshot = model.finish(
        T,
        SESSION,
        {"allModels": ALL, "sonnetOnly": SONNET},
        source="page",
        errors={"opusOnly": "garbled"},
    )
    assert snapshot.is_partial is False
    assert snapshot.extraction_errors == {"opusOnly": "garbled"}


def test_finish_copies_the_rows() -> None:
    weekly = {"allModels": ALL}
    snapshot = model.finish(T, SESSION, weekly, source="page")
    weekly["sonnetOnly"] = SONNET
    assert "sonnetOnly" not in snapshot.weekly


def test_model_row_hint_only_when_the_slot_row_is_missing_and_others_exist() -> None:
    assert (
        model.model_row_hint(snap(allModels=ALL, sonnetOnly=SONNET, fableOnly=FABLE), "Sonnet")
        is None
    )
    assert model.model_row_hint(snap(allModels=ALL), "Sonnet") is None
    assert model.model_row_hint(snap(allModels=ALL, sonnetOnly=SONNET), "Fable") == (
        "page shows model rows: Sonnet — set CONSOLESCRAPE_MODEL_ROW=Sonnet "
        "to sync it as sonnetOnly"
    )


def test_empty_snapshot() -> None:
    assert snap(None).empty
    assert not snap(None, opusOnly=OPUS).empty


# --- summary -------------------------------------------------------------------------------------


def test_summary_line_matches_the_spec() -> None:
    assert model.summary(snap(allModels=ALL, sonnetOnly=SONNET)) == (
        "session 47% (resets in 2 hr 42 min) · all models 31% · sonnet 10%"
    )


@pytest.mark.parametrize(
    ("resets_in", "phrase"),
    [
        ("2 hr 42 min", "resets in 2 hr 42 min"),
        ("29 min", "resets in 29 min"),
        ("Thu 7:00 AM", "resets Thu 7:00 AM"),
        ("Fri 19:00", "resets Fri 19:00"),
        ("Mar 1", "resets Mar 1"),
        ("Sat, Aug 1", "resets Sat, Aug 1"),
        ("Starts when a message is sent", "Starts when a message is sent"),
    ],
)
def test_summary_phrases_the_session_reset(resets_in: str, phrase: str) -> None:
    assert model.summary(snap(Limit(resets_in, 5))) == f"session 5% ({phrase})"


def test_summary_names_model_rows_and_marks_partial() -> None:
    snapshot = snap(
        None,
        partial=True,
        allModels=Limit("Thu", 47.0),
        claudeDesignOnly=Limit("Sat", 12.5),
    )
    assert model.summary(snapshot) == "all models 47% · claude design 12.5% · partial"


# --- model rows named by family -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "key"),
    [
        ("Claude Opus 4.6", "opusOnly"),
        ("Opus 4.6", "opusOnly"),
        ("Opus", "opusOnly"),
        ("Opus 4.6 only", "opusOnly"),
        ("Claude Opus", "opusOnly"),
        ("Claude Sonnet 4.5", "sonnetOnly"),
        ("Claude 3.5 Sonnet", "sonnetOnly"),
        ("Haiku 4", "haikuOnly"),
        ("Fable 5", "fableOnly"),
        ("Claude Mythos 5 only", "mythosOnly"),
        ("Claude Design", "claudeDesignOnly"),
    ],
)
def test_a_versioned_model_name_is_keyed_by_its_family(label: str, key: str) -> None:
    assert model.model_key(label) == key


def test_a_version_alone_names_no_model() -> None:
    with pytest.raises(ValueError, match="no model name"):
        model.model_key("4.6")


@pytest.mark.parametrize(
    ("label", "key", "kept"),
    [
        ("Claude Opus 4.6", "opusOnly", "Claude Opus 4.6"),
        ("Haiku 4 only", "haikuOnly", "Haiku 4"),
        ("Sonnet only", "sonnetOnly", None),
        ("Opus", "opusOnly", None),
        ("Claude Design", "claudeDesignOnly", None),
        ("All models", "allModels", None),
    ],
)
def test_the_row_label_is_kept_only_when_it_says_more_than_the_family(
    label: str, key: str, kept: str | None
) -> None:
    assert model.row_label(label, key) == kept


def test_the_label_stays_in_the_local_file_and_out_of_the_payload() -> None:
    opus = model.Limit("Thu 7:00 AM", 12, label="Claude Opus 4.6")
    snapshot = model.finish(
        datetime(2026, 11, 29, 1, 17, tzinfo=UTC),
        model.Limit("2 hr", 47),
        {"allModels": model.Limit("Thu 7:00 AM", 31), "opusOnly": opus},
        source="page",
        model_row="Opus",
    )
    doc = model.to_json(snapshot)
    assert doc["weeklyLimits"]["opusOnly"]["label"] == "Claude Opus 4.6"
    assert model.from_json(doc) == snapshot
    body = model.to_payload(snapshot, "Opus 4.6").body
    assert body["weeklyLimits"]["sonnetOnly"] == {"resetsIn": "Thu 7:00 AM", "percentageUsed": 12}


def test_the_hint_names_the_family_not_the_version() -> None:
    snapshot = model.finish(
        datetime(2026, 11, 29, 1, 17, tzinfo=UTC),
        model.Limit("2 hr", 47),
        {
            "allModels": model.Limit("Thu 7:00 AM", 31),
            model.model_key("Claude Opus 4.6"): model.Limit("Thu", 12, label="Claude Opus 4.6"),
        },
        source="page",
    )
    hint = model.model_row_hint(snapshot, "Sonnet")
    assert hint is not None and "CONSOLESCRAPE_MODEL_ROW=Opus " in hint


# --- what the server's card needs -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("weekly", "session", "gaps"),
    [
        ({"allModels": 31, "sonnetOnly": 10}, True, []),
        ({"allModels": 31, "sonnetOnly": 10}, False, ["currentSession"]),
        ({"allModels": 31}, True, ["weeklyLimits.allModels", "weeklyLimits.sonnetOnly"]),
        ({"opusOnly": 3}, True, ["weeklyLimits.allModels", "weeklyLimits.sonnetOnly"]),
    ],
)
def test_card_gaps_are_the_sections_the_card_reads_without_guards(
    weekly: dict[str, int], session: bool, gaps: list[str]
) -> None:
    snapshot = model.finish(
        datetime(2026, 11, 29, 1, 17, tzinfo=UTC),
        model.Limit("2 hr", 47) if session else None,
        {key: model.Limit("Thu 7:00 AM", pct) for key, pct in weekly.items()},
        source="page",
    )
    assert model.card_gaps(model.to_payload(snapshot)) == gaps


def test_the_organization_read_stays_local() -> None:
    org = {"uuid": "org-max", "name": "Home", "plan": "Max", "chosenBy": "paid plan"}
    snapshot = model.finish(
        datetime(2026, 11, 29, 1, 17, tzinfo=UTC),
        model.Limit("2 hr", 47),
        {"allModels": model.Limit("Thu", 31), "sonnetOnly": model.Limit("Thu", 1)},
        source="api",
        organization=org,
    )
    doc = model.to_json(snapshot)
    assert doc["organization"] == org
    assert model.from_json(doc) == snapshot
    assert "organization" not in model.to_payload(snapshot).body
