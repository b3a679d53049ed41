"""The page parser and the JSON-endpoint reader: pure functions over many captured samples."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import MODEL_ROWS

from consolescrape.extract import (
    NoUsage,
    PageKind,
    Reading,
    SpendCapOnly,
    UnknownOrganization,
    choose_organization,
    classify_page,
    endpoint_trouble,
    merge,
    page_trouble,
    pick_organization,
    read_page,
    reset_text,
    resolve_reset,
    snapshot_from_api,
    snapshot_from_page,
)
from consolescrape.extract import read_api as read_api_raw
from consolescrape.model import Snapshot, Spend, to_json, to_payload, validate_payload

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
#: Thursday 26 Nov 2026, 06:30 in Berlin.
NOW = datetime(2026, 11, 26, 5, 30, tzinfo=UTC)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


def page(*lines: str) -> str:
    return "\n".join(lines)


def read(text: str, meters: tuple[float | None, ...] = (), **kwargs: Any) -> dict[str, Any]:
    return to_json(snapshot_from_page(text, meters, now=NOW, tz=BERLIN, **kwargs))


def read_api(usage: object, **kwargs: Any) -> Snapshot:
    return snapshot_from_api(usage, now=NOW, tz=BERLIN, **kwargs)


MAX_PAGE = page(
    "Claude",
    "New chat",
    "Chats",
    "All models",
    "0% used",
    "Settings",
    "Plan usage limits",
    "Max (20x)",
    "Current session",
    "Resets in 2 hr 42 min",
    "47% used",
    "Weekly limits",
    "Your limits are temporarily boosted.",
    "Fable 5 is still included with your Max plan.",
    "Learn more about usage limits",
    "All models",
    "Resets Thu 7:00 AM",
    "31% used",
    "Sonnet only",
    "Resets Sat 12:00 PM",
    "10% used",
    "Additional features",
    "Daily included routine runs",
    "0 / 25",
    "Extra usage",
    "Turn on extra usage to keep using Claude when you hit a limit.",
    "Last updated: just now",
)

#: The session and Sonnet rows as both the Max page and the endpoint's answers give them.
SESSION_47 = {
    "resetsIn": "2 hr 42 min",
    "percentageUsed": 47,
    "resetsAt": "2026-11-26T08:12:00.000Z",
}
SONNET_10 = {
    "resetsIn": "Sat 12:00 PM",
    "percentageUsed": 10,
    "resetsAt": "2026-11-28T11:00:00.000Z",
}

MAX_EXPECTED = {
    "currentSession": SESSION_47,
    "weeklyLimits": {
        "allModels": {
            "resetsIn": "Thu 7:00 AM",
            "percentageUsed": 31,
            "resetsAt": "2026-11-26T06:00:00.000Z",
        },
        "sonnetOnly": SONNET_10,
    },
    "lastUpdated": "2026-11-26T05:30:00.000Z",
    "isPartial": False,
    "source": "page",
}


# --- page text: layouts ----------------------------------------------------------------------


def test_max_layout_reads_every_row_and_ignores_sidebar_promo_and_other_sections() -> None:
    assert read(MAX_PAGE) == MAX_EXPECTED


def test_team_layout_with_your_usage_limits_heading_reads_the_same() -> None:
    text = MAX_PAGE.replace("Plan usage limits\nMax (20x)", "Your usage limits\nTeam")
    assert read(text) == MAX_EXPECTED


def test_text_without_heading_starts_at_current_session() -> None:
    text = MAX_PAGE.replace("Plan usage limits\nMax (20x)\n", "")
    assert read(text) == MAX_EXPECTED


def test_text_that_runs_together_parses_like_the_lined_page() -> None:
    text = (
        "Plan usage limitsMax (20x)Current sessionResets in 2 hr 42 min47% used"
        "Weekly limitsYour limits are temporarily boosted.Fable 5 is still included with your "
        "Max plan.Learn more about usage limitsAll modelsResets Thu 7:00 AM31% used"
        "Sonnet onlyResets Sat 12:00 PM10% usedAdditional featuresDaily included routine runs"
        "0 / 25Extra usageLast updated: just now"
    )
    assert read(text) == MAX_EXPECTED


def test_run_together_sample_from_the_spec() -> None:
    text = (
        "Current sessionResets in 2 hr 53 min97% usedWeekly limitsAll modelsResets Thu 7:00 AM"
        "31% usedSonnet onlyResets Sat 12:00 PM10% used"
    )
    doc = read(text)
    assert doc["currentSession"]["resetsIn"] == "2 hr 53 min"
    assert doc["currentSession"]["percentageUsed"] == 97
    assert doc["weeklyLimits"]["allModels"]["percentageUsed"] == 31
    assert doc["weeklyLimits"]["sonnetOnly"]["percentageUsed"] == 10
    assert doc["isPartial"] is False


def test_windows_line_breaks_non_breaking_spaces_and_indentation_are_tolerated() -> None:
    text = "\r\n".join(f"   {line}\t" for line in MAX_PAGE.split("\n")).replace(" hr ", "\u00a0hr ")
    assert read(text) == MAX_EXPECTED


def test_sidebar_rows_before_the_heading_are_never_read() -> None:
    text = page(
        "Sonnet only",
        "Resets Fri 9:00 AM",
        "99% used",
        "Plan usage limits",
        "Pro",
        "Current session",
        "Resets in 1 hr",
        "5% used",
    )
    doc = read(text)
    assert "weeklyLimits" not in doc
    assert doc["currentSession"]["percentageUsed"] == 5


@pytest.mark.parametrize(
    "promo",
    [
        "Fable 5 is still included with your Max plan.",
        "Your limits are temporarily boosted.",
        "Learn more about usage limits",
        "Sonnet only limits apply to Sonnet models.",
    ],
)
def test_promo_lines_naming_models_are_not_rows(promo: str) -> None:
    text = MAX_PAGE.replace(
        "Learn more about usage limits", f"Learn more about usage limits\n{promo}"
    )
    assert read(text) == MAX_EXPECTED


# --- page text: reset forms and statuses ------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "resets_in", "resets_at"),
    [
        ("Resets in 2 hr 42 min", "2 hr 42 min", "2026-11-26T08:12:00.000Z"),
        ("Resets in 18 hr 9 min", "18 hr 9 min", "2026-11-26T23:39:00.000Z"),
        ("Resets in 29 min", "29 min", "2026-11-26T05:59:00.000Z"),
        ("Resets in 1 hr", "1 hr", "2026-11-26T06:30:00.000Z"),
        ("Resets Thu 7:00 AM", "Thu 7:00 AM", "2026-11-26T06:00:00.000Z"),
        ("Resets Fri 19:00", "Fri 19:00", "2026-11-27T18:00:00.000Z"),
        ("Resets Mar 1 at 9:00 AM", "Mar 1 at 9:00 AM", "2027-03-01T08:00:00.000Z"),
        ("Resets Mar 1", "Mar 1", None),
        ("Resets Sat, Aug 1", "Sat, Aug 1", None),
        ("Resets sometime soon", "sometime soon", None),
    ],
)
def test_reset_line_becomes_resets_in_and_resets_at(
    line: str, resets_in: str, resets_at: str | None
) -> None:
    doc = read(page("Current session", line, "12% used"))
    session = doc["currentSession"]
    assert session["resetsIn"] == resets_in
    assert session["percentageUsed"] == 12
    assert session.get("resetsAt") == resets_at


def test_unused_session_keeps_the_status_line_with_zero_percent() -> None:
    doc = read(page("Current session", "Starts when a message is sent", "0% used"))
    assert doc["currentSession"] == {
        "resetsIn": "Starts when a message is sent",
        "percentageUsed": 0,
    }


@pytest.mark.parametrize("status", ["You haven’t used Sonnet yet", "You haven't used Sonnet yet"])
def test_unused_model_row_keeps_the_page_wording_verbatim(status: str) -> None:
    text = page("Weekly limits", "Sonnet only", status, "0% used")
    assert read(text)["weeklyLimits"]["sonnetOnly"] == {"resetsIn": status, "percentageUsed": 0}


def test_status_line_without_percent_line_means_zero() -> None:
    text = page("Weekly limits", "Sonnet only", "You haven’t used Sonnet yet")
    assert read(text)["weeklyLimits"]["sonnetOnly"]["percentageUsed"] == 0


@pytest.mark.parametrize(("label", "key"), [*MODEL_ROWS, ("Mythos", "mythosOnly")])
def test_model_rows_get_the_same_keys_as_the_endpoint(label: str, key: str) -> None:
    text = page("Weekly limits", "All models", "Resets Thu 7:00 AM", "31% used", label)
    text += "\nResets Sat 12:00 PM\n10% used"
    weekly = read(text)["weeklyLimits"]
    assert weekly[key]["percentageUsed"] == 10
    assert weekly["allModels"]["percentageUsed"] == 31


@pytest.mark.parametrize(
    ("label", "key"),
    [("Fable", "fableOnly"), ("Claude Design", "claudeDesignOnly"), ("Opus only", "opusOnly")],
)
def test_known_model_rows_run_together_after_a_percentage_are_found(label: str, key: str) -> None:
    text = f"Current sessionResets in 1 hr5% usedWeekly limits{label}Resets Fri 19:0040% used"
    assert read(text)["weeklyLimits"][key]["resetsIn"] == "Fri 19:00"


def test_unknown_model_row_run_together_after_a_percentage_is_found() -> None:
    text = "Current sessionResets in 1 hr5% usedMythosYou haven’t used Mythos yet0% used"
    assert read(text)["weeklyLimits"]["mythosOnly"]["resetsIn"] == "You haven’t used Mythos yet"


def test_model_row_setting_decides_which_missing_row_is_an_error() -> None:
    text = MAX_PAGE.replace("Sonnet only", "Fable")
    doc = read(text, model_row="Fable")
    assert doc["isPartial"] is False
    assert set(doc["weeklyLimits"]) == {"allModels", "fableOnly"}
    partial = read(text)
    assert partial["isPartial"] is True
    assert "Fable" in partial["extractionErrors"]["sonnetOnly"]


# --- page text: percentages -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("shown", "value"),
    [
        ("47% used", 47),
        ("12.5% used", 12.5),
        ("47.0% used", 47),
        ("0% used", 0),
        ("100% used", 100),
    ],
)
def test_percentages_are_read_as_shown(shown: str, value: float) -> None:
    used = read(page("Current session", "Resets in 1 hr", shown))["currentSession"][
        "percentageUsed"
    ]
    assert used == value
    assert type(used) is type(value)


def test_row_over_100_percent_is_rejected_and_the_others_kept() -> None:
    doc = read(MAX_PAGE.replace("10% used", "140% used"))
    assert "sonnetOnly" not in doc["weeklyLimits"]
    assert doc["weeklyLimits"]["allModels"]["percentageUsed"] == 31
    assert doc["isPartial"] is True
    assert "140" in doc["extractionErrors"]["sonnetOnly"]


def test_meter_that_disagrees_with_unambiguous_text_changes_nothing() -> None:
    assert read(MAX_PAGE, (50, 30, 11)) == MAX_EXPECTED


# --- page text: digits that run together -------------------------------------------------------

COLLIDING = (
    "Current sessionResets in 2 hr 53 min97% usedWeekly limitsAll modelsResets Thu 7:00 AM"
    "31% usedSonnet onlyResets Mar 143% used"
)


@pytest.mark.parametrize(
    ("meters", "resets_in", "used"),
    [
        ((97, 31, 43), "Mar 1", 43),
        ((97, 31, 3), "Mar 14", 3),
        ((97.0, 31.0, 43.0, 0.0), "Mar 1", 43),  # a bar of another section after the rows
        ((None, None, 3.2), "Mar 14", 3),
    ],
)
def test_meters_settle_which_digits_belong_to_the_date(
    meters: tuple[float | None, ...], resets_in: str, used: int
) -> None:
    sonnet = read(COLLIDING, meters)["weeklyLimits"]["sonnetOnly"]
    assert sonnet == {"resetsIn": resets_in, "percentageUsed": used}


@pytest.mark.parametrize(
    "meters",
    [(), (97, 31), (97, 31, None), (97, 31, 70)],
    ids=["no-meters", "fewer-meters-than-rows", "meter-absent", "meter-matches-neither"],
)
def test_unsettled_collision_is_an_error_not_a_guess(meters: tuple[float | None, ...]) -> None:
    doc = read(COLLIDING, meters)
    assert "sonnetOnly" not in doc["weeklyLimits"]
    assert "Mar 14" in doc["extractionErrors"]["sonnetOnly"]
    assert doc["currentSession"]["percentageUsed"] == 97


@pytest.mark.parametrize(
    ("line", "resets_in", "used"),
    [
        ("Resets Apr 315% used", "Apr 3", 15),  # there is no 31 April
        ("Resets Mar 1100% used", "Mar 1", 100),  # "00" is not a percentage
        ("Resets Mar 1140% used", "Mar 11", 40),  # 140% is not a percentage either
        ("Resets Mar 10% used", "Mar 1", 0),
        ("Resets Fri 19:0031% used", "Fri 19:00", 31),
        ("Resets Sat, Apr 312.5% used", "Sat, Apr 3", 12.5),
        ("Starts when a message is sent0% used", "Starts when a message is sent", 0),
    ],
)
def test_collision_with_a_single_valid_reading_needs_no_meter(
    line: str, resets_in: str, used: float
) -> None:
    session = read(f"Current session{line}")["currentSession"]
    assert (session["resetsIn"], session["percentageUsed"]) == (resets_in, used)


# --- page text: partial results and failures ---------------------------------------------------


def test_only_the_session_section_is_partial_with_reasons() -> None:
    doc = read(page("Plan usage limits", "Pro", "Current session", "Resets in 29 min", "3% used"))
    assert doc["isPartial"] is True
    assert "weeklyLimits" not in doc
    assert set(doc["extractionErrors"]) == {"allModels", "sonnetOnly"}


def test_only_weekly_limits_is_partial_for_the_session() -> None:
    text = MAX_PAGE.replace("Current session\nResets in 2 hr 42 min\n47% used\n", "")
    doc = read(text)
    assert "currentSession" not in doc
    assert doc["extractionErrors"] == {"currentSession": "section not found"}


def test_row_without_percentage_is_an_error_for_that_row() -> None:
    doc = read(MAX_PAGE.replace("Resets Sat 12:00 PM\n10% used", "Resets Sat 12:00 PM"))
    assert "percentage" in doc["extractionErrors"]["sonnetOnly"]


def test_row_without_reset_line_is_an_error_not_an_invented_reset() -> None:
    doc = read(MAX_PAGE.replace("Resets Sat 12:00 PM\n", ""))
    assert "sonnetOnly" not in doc["weeklyLimits"]
    assert "reset time" in doc["extractionErrors"]["sonnetOnly"]


@pytest.mark.parametrize(
    "section",
    [
        "Extra usage\nMonthly spend limit\nResets Dec 1\n12% used",
        "Additional features\nDaily included routine runs\nResets in 3 hr\n0% used\n0 / 25",
        "Last updated: just now\nOpus only\nResets Fri 9:00 AM\n50% used",
    ],
)
def test_rows_inside_other_sections_are_not_limits(section: str) -> None:
    text = page("Current session", "Resets in 1 hr", "5% used", section)
    doc = read(text)
    assert "weeklyLimits" not in doc


def test_limit_sections_after_an_other_section_are_still_read() -> None:
    text = page(
        "Current session",
        "Resets in 1 hr",
        "5% used",
        "Extra usage",
        "Monthly spend",
        "20% used",
        "Weekly limits",
        "All models",
        "Resets Thu 7:00 AM",
        "31% used",
    )
    doc = read(text)
    assert doc["weeklyLimits"] == {
        "allModels": {
            "resetsIn": "Thu 7:00 AM",
            "percentageUsed": 31,
            "resetsAt": "2026-11-26T06:00:00.000Z",
        }
    }


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Chats\nAll models\n0% used",  # the sidebar alone
        "Plan usage limits\nMax (20x)\nLoading…",
        "Log in\nContinue with Google\nEnter your email",
        "Plan usage limits\nPro\nCurrent session\nResets in 1 hr\n140% used",
    ],
    ids=["empty", "sidebar-only", "still-loading", "login-page", "only-invalid-row"],
)
def test_no_limit_at_all_raises_no_usage(text: str) -> None:
    with pytest.raises(NoUsage):
        snapshot_from_page(text, now=NOW, tz=BERLIN)


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        snapshot_from_page(MAX_PAGE, now=datetime(2026, 11, 26, 5, 30), tz=BERLIN)


# --- the JSON endpoint ---------------------------------------------------------------------------

LIMITS_ANSWER: dict[str, Any] = {
    "limits": [
        {"kind": "session", "percent": 47, "resets_at": "2026-11-26T08:12:00+00:00"},
        {"kind": "weekly_all", "percent": "31", "resets_at": "2026-11-28T06:00:00.000000+00:00"},
        {
            "kind": "weekly_scoped",
            "percent": 10.0,
            "resets_at": "2026-11-28T11:00:00Z",
            "scope": {"model": {"display_name": "Sonnet", "id": "x"}},
        },
        {
            "kind": "weekly_scoped",
            "percent": 0,
            "resets_at": None,
            "scope": {"model": {"display_name": "Fable"}},
        },
        {"kind": "monthly_credits", "percent": 3},
    ],
    "plan": "max_20x",
}


def test_limits_list_is_read_into_a_full_snapshot() -> None:
    doc = to_json(read_api(LIMITS_ANSWER))
    assert doc == {
        "currentSession": SESSION_47,
        "weeklyLimits": {
            "allModels": {
                "resetsIn": "Sat 7:00 AM",
                "percentageUsed": 31,
                "resetsAt": "2026-11-28T06:00:00.000Z",
            },
            "sonnetOnly": SONNET_10,
            "fableOnly": {"resetsIn": "You haven’t used Fable yet", "percentageUsed": 0},
        },
        "lastUpdated": "2026-11-26T05:30:00.000Z",
        "isPartial": False,
        "source": "api",
    }


OLD_ANSWER: dict[str, Any] = {
    "five_hour": {"utilization": 47, "resets_at": "2026-11-26T08:12:00+00:00"},
    "seven_day": {"utilization": 31.0, "resets_at": "2026-11-28T06:00:00+00:00"},
    "seven_day_sonnet": {"utilization": "10", "resets_at": "2026-11-28T11:00:00+00:00"},
    "seven_day_opus": None,
    "seven_day_oauth_apps": None,
    "extra_usage": {"is_enabled": False},
}


def test_older_fields_are_read_when_there_is_no_limits_list() -> None:
    doc = to_json(read_api(OLD_ANSWER))
    assert doc["currentSession"]["percentageUsed"] == 47
    assert doc["weeklyLimits"]["allModels"]["resetsIn"] == "Sat 7:00 AM"
    assert doc["weeklyLimits"]["sonnetOnly"]["percentageUsed"] == 10
    assert "opusOnly" not in doc["weeklyLimits"]
    assert doc["isPartial"] is False


def test_limits_list_wins_over_older_fields_in_the_same_answer() -> None:
    both = {**OLD_ANSWER, **LIMITS_ANSWER}
    assert "fableOnly" in read_api(both).weekly


def test_empty_limits_list_falls_back_to_older_fields() -> None:
    assert read_api({**OLD_ANSWER, "limits": []}).session is not None


@pytest.mark.parametrize(
    ("utilization", "value"),
    [
        (47, 47),
        (47.0, 47),
        ("47", 47),
        ("47.5", 47.5),
        (12.5, 12.5),
        ("0", 0),
        (100, 100),
        (" 8 ", 8),
    ],
)
def test_utilization_as_int_float_or_string(utilization: object, value: float) -> None:
    usage = {"five_hour": {"utilization": utilization, "resets_at": "2026-11-26T06:00:00Z"}}
    session = read_api(usage).session
    assert session is not None
    assert session.percentage_used == value
    assert type(session.percentage_used) is type(value)


@pytest.mark.parametrize(
    "utilization", [None, -1, "abc", True, float("nan"), "inf", [47]], ids=repr
)
def test_bad_utilization_rejects_that_limit_with_a_reason(utilization: object) -> None:
    usage = {**OLD_ANSWER, "seven_day_sonnet": {"utilization": utilization, "resets_at": None}}
    snap = read_api(usage)
    assert "sonnetOnly" not in snap.weekly
    assert snap.extraction_errors["sonnetOnly"]
    assert snap.is_partial


@pytest.mark.parametrize(
    ("field", "key", "wording"),
    [
        ("five_hour", "currentSession", "Starts when a message is sent"),
        ("seven_day", "allModels", "You haven’t used Claude yet"),
        ("seven_day_sonnet", "sonnetOnly", "You haven’t used Sonnet yet"),
        ("seven_day_opus", "opusOnly", "You haven’t used Opus yet"),
    ],
)
@pytest.mark.parametrize("utilization", [0, 0.0, "0"])
def test_null_resets_at_gets_the_page_wording_and_zero(
    field: str, key: str, wording: str, utilization: object
) -> None:
    doc = to_json(read_api({field: {"utilization": utilization, "resets_at": None}}))
    limit = doc["currentSession"] if key == "currentSession" else doc["weeklyLimits"][key]
    assert limit == {"resetsIn": wording, "percentageUsed": 0}


def test_null_resets_at_with_usage_is_an_error_not_an_invented_reset() -> None:
    snap = read_api({**OLD_ANSWER, "five_hour": {"utilization": 12, "resets_at": None}})
    assert snap.session is None
    assert "no reset time" in snap.extraction_errors["currentSession"]


def test_bad_resets_at_rejects_that_limit() -> None:
    snap = read_api({**OLD_ANSWER, "seven_day": {"utilization": 3, "resets_at": "next week"}})
    assert "allModels" not in snap.weekly
    assert snap.extraction_errors["allModels"]


def test_scoped_limit_without_model_name_is_skipped_with_an_error() -> None:
    usage = {
        "limits": [
            *LIMITS_ANSWER["limits"][:2],
            {"kind": "weekly_scoped", "percent": 5, "resets_at": "2026-11-28T11:00:00Z"},
            {"kind": "weekly_scoped", "percent": 5, "scope": {"model": {}}},
        ]
    }
    snap = read_api(usage)
    assert set(snap.weekly) == {"allModels"}
    assert "display_name" in snap.extraction_errors["limits[2]"]
    assert "limits[3]" in snap.extraction_errors
    assert snap.session is not None


@pytest.mark.parametrize(
    "usage",
    [
        None,
        [],
        "<html>Just a moment...</html>",
        {},
        {"type": "error", "error": {"type": "permission_error", "message": "nope"}},
        {"limits": []},
        {"limits": [{"kind": "monthly_credits", "percent": 3}]},
        {"limits": "soon"},
        {"five_hour": None, "seven_day": None},
        {"five_hour": {"utilization": 400, "resets_at": None}},
    ],
    ids=repr,
)
def test_answer_without_a_readable_limit_raises_no_usage(usage: object) -> None:
    with pytest.raises(NoUsage):
        read_api(usage)


def _same_data_on_the_page() -> str:
    return page(
        "Plan usage limits",
        "Max (20x)",
        "Current session",
        "Resets in 2 hr 42 min",
        "47% used",
        "Weekly limits",
        "All models",
        "Resets Sat 7:00 AM",
        "31% used",
        "Sonnet only",
        "Resets Sat 12:00 PM",
        "10% used",
        "Fable",
        "You haven’t used Fable yet",
        "0% used",
    )


def test_page_and_endpoint_give_the_same_snapshot_for_the_same_data() -> None:
    from_api = to_json(read_api(LIMITS_ANSWER))
    from_page = read(_same_data_on_the_page())
    del from_api["source"], from_page["source"]
    assert from_api == from_page


def test_old_endpoint_fields_and_page_share_keys() -> None:
    text = page("Weekly limits", "Opus only", "Resets Sat 7:00 AM", "20% used")
    old = {"seven_day_opus": {"utilization": 20, "resets_at": "2026-11-28T06:00:00Z"}}
    assert set(read_api(old).weekly) == set(read(text)["weeklyLimits"]) == {"opusOnly"}


# --- organizations -----------------------------------------------------------------------------

ORGS = [
    {"uuid": "api-org", "name": "Console", "capabilities": ["api"]},
    {"uuid": "chat-1", "name": "Personal", "capabilities": ["chat", "claude_max"]},
    {"uuid": "chat-2", "name": "Team", "capabilities": ["chat"]},
]


@pytest.mark.parametrize(
    ("orgs", "last_active", "expected"),
    [
        (ORGS, None, "chat-1"),
        (ORGS, "chat-2", "chat-2"),
        (ORGS, "api-org", "chat-1"),
        (ORGS, "gone", "chat-1"),
        (ORGS, "", "chat-1"),
        (ORGS[:1], None, None),
        ([], "chat-1", None),
        ({"error": "unauthorized"}, None, None),
        (None, None, None),
        (["x", {"name": "no uuid", "capabilities": ["chat"]}, *ORGS[1:]], None, "chat-1"),
        ([{"uuid": "c", "capabilities": "chat"}], None, None),
    ],
)
def test_pick_organization(orgs: object, last_active: str | None, expected: str | None) -> None:
    assert pick_organization(orgs, last_active) == expected


# --- what page is this -------------------------------------------------------------------------

USAGE_URL = "https://claude.ai/settings/usage"
CHALLENGE_TEXT = "claude.ai\nVerifying you are human. This may take a few seconds."


@pytest.mark.parametrize(
    ("url", "title", "text", "kind"),
    [
        (USAGE_URL, "Settings - Claude", MAX_PAGE, PageKind.USAGE),
        (
            "https://claude.ai/new#settings/usage",
            "Claude",
            "Your usage limits\nTeam",
            PageKind.USAGE,
        ),
        (USAGE_URL, "Claude", "Current session\nResets in 1 hr\n5% used", PageKind.USAGE),
        (USAGE_URL, "Claude", "Weekly limits\nAll models\n31% used\nLog in", PageKind.USAGE),
        ("https://claude.ai/login", "Claude", "", PageKind.LOGIN),
        ("https://claude.ai/login?returnTo=%2Fsettings%2Fusage", "Claude", "", PageKind.LOGIN),
        ("https://claude.ai/logout", "Claude", "", PageKind.LOGIN),
        (USAGE_URL, "Claude", "Continue with Google\nor\nEnter your email", PageKind.LOGIN),
        (USAGE_URL, "Login | Claude", "Log in to Claude", PageKind.LOGIN),
        ("https://claude.ai/", "Claude", "Sign in with SSO", PageKind.LOGIN),
        (USAGE_URL, "Just a moment...", "", PageKind.BOT_CHECK),
        (USAGE_URL, "Just a moment...", "Log in\nVerifying you are human", PageKind.BOT_CHECK),
        ("https://claude.ai/login", "Claude", CHALLENGE_TEXT, PageKind.BOT_CHECK),
        (USAGE_URL, "claude.ai", "Checking your browser before accessing", PageKind.BOT_CHECK),
        (
            "https://claude.ai/settings/usage?__cf_chl_rt_tk=abc",
            "claude.ai",
            "",
            PageKind.BOT_CHECK,
        ),
        (USAGE_URL, "Claude", "", PageKind.UNKNOWN),
        (
            "https://claude.ai/new",
            "Claude",
            "How can I help you today?\nAll models",
            PageKind.UNKNOWN,
        ),
        (USAGE_URL, "Claude", "Plan usage\nLoading…", PageKind.UNKNOWN),
        ("https://claude.ai/login-help", "Claude", "Help", PageKind.UNKNOWN),
        # A logged-in page whose sidebar lists chats: words inside titles are not a login form.
        (USAGE_URL, "Settings - Claude", "New chat\nRecents\nBlog intro draft", PageKind.UNKNOWN),
        (USAGE_URL, "Claude", "Design inspiration\nCatalog\nIn the weeds", PageKind.UNKNOWN),
    ],
)
def test_classify_page(url: str, title: str, text: str, kind: PageKind) -> None:
    assert classify_page(url, title, text) is kind


def test_page_kind_values_are_stable_strings() -> None:
    assert [k.value for k in PageKind] == ["usage", "login", "bot_check", "outage", "unknown"]


# --- reset times -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2 hr 42 min", utc(2026, 11, 26, 8, 12)),
        ("Resets in 2 hr 42 min", utc(2026, 11, 26, 8, 12)),
        ("29 min", utc(2026, 11, 26, 5, 59)),
        ("1 hr", utc(2026, 11, 26, 6, 30)),
        ("Thu 7:00 AM", utc(2026, 11, 26, 6, 0)),
        ("Resets Thu 7:00 AM", utc(2026, 11, 26, 6, 0)),
        ("Thu 6:00 AM", utc(2026, 12, 3, 5, 0)),  # already past today: next week
        ("Fri 19:00", utc(2026, 11, 27, 18, 0)),
        ("Sat 12:00 PM", utc(2026, 11, 28, 11, 0)),
        ("Wed 12:00 AM", utc(2026, 12, 1, 23, 0)),
        ("Thursday 7:00 am", utc(2026, 11, 26, 6, 0)),
        ("7:00 PM", utc(2026, 11, 26, 18, 0)),
        ("6:00 AM", utc(2026, 11, 27, 5, 0)),  # time only, already past: tomorrow
        ("Tomorrow at 9:00 AM", utc(2026, 11, 27, 8, 0)),
        ("Mar 1 at 9:00 AM", utc(2027, 3, 1, 8, 0)),
        ("Dec 3 at 7:00 AM", utc(2026, 12, 3, 6, 0)),
        ("Sat, Aug 1 at 9:00 AM", utc(2027, 8, 1, 7, 0)),
    ],
)
def test_resolve_reset_in_berlin(text: str, expected: datetime) -> None:
    assert resolve_reset(text, now=NOW, tz=BERLIN) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Sat, Aug 1",
        "Mar 1",
        "Starts when a message is sent",
        "You haven’t used Sonnet yet",
        "You haven't used Sonnet yet",
        "",
        "sometime soon",
        "Thu 25:00",
        "Thu 13:00 PM",
        "Thu 7:60 AM",
        "Feb 30 at 9:00 AM",
    ],
)
def test_resolve_reset_without_a_time_of_day_is_none(text: str) -> None:
    assert resolve_reset(text, now=NOW, tz=BERLIN) is None


@pytest.mark.parametrize(
    ("local_now", "expected"),
    [
        (datetime(2026, 11, 26, 6, 59), utc(2026, 11, 26, 6, 0)),
        (datetime(2026, 11, 26, 7, 0), utc(2026, 11, 26, 6, 0)),
        (datetime(2026, 11, 26, 7, 1), utc(2026, 12, 3, 6, 0)),
        (datetime(2026, 11, 25, 23, 0), utc(2026, 11, 26, 6, 0)),
    ],
    ids=["thursday-before-7", "thursday-at-7", "thursday-after-7", "wednesday-night"],
)
def test_thursday_reset_is_today_until_it_has_passed(
    local_now: datetime, expected: datetime
) -> None:
    now = local_now.replace(tzinfo=BERLIN)
    assert resolve_reset("Thu 7:00 AM", now=now, tz=BERLIN) == expected


@pytest.mark.parametrize(
    ("tz", "local_now", "text", "expected"),
    [
        # Berlin springs forward on Sun 29 Mar 2026: Monday 07:00 is CEST (UTC+2).
        (BERLIN, datetime(2026, 3, 28, 12, 0), "Mon 7:00 AM", utc(2026, 3, 30, 5, 0)),
        (BERLIN, datetime(2026, 3, 28, 12, 0), "Sat 13:00", utc(2026, 3, 28, 12, 0)),
        # New York falls back on Sun 1 Nov 2026: Sunday 07:00 is EST (UTC-5).
        (NEW_YORK, datetime(2026, 10, 31, 12, 0), "Sun 7:00 AM", utc(2026, 11, 1, 12, 0)),
        (NEW_YORK, datetime(2026, 10, 31, 12, 0), "Sat 7:00 PM", utc(2026, 10, 31, 23, 0)),
        # A countdown is elapsed time, whatever the clocks do.
        (BERLIN, datetime(2026, 3, 29, 1, 30), "2 hr", utc(2026, 3, 29, 2, 30)),
    ],
)
def test_resolve_reset_across_daylight_saving_changes(
    tz: ZoneInfo, local_now: datetime, text: str, expected: datetime
) -> None:
    assert resolve_reset(text, now=local_now.replace(tzinfo=tz), tz=tz) == expected


@pytest.mark.parametrize(
    ("ahead", "expected"),
    [
        (timedelta(hours=2, minutes=42), "2 hr 42 min"),
        (timedelta(hours=2, minutes=42, seconds=59), "2 hr 42 min"),
        (timedelta(minutes=29), "29 min"),
        (timedelta(hours=1), "1 hr"),
        (timedelta(hours=1, seconds=59), "1 hr"),
        (timedelta(seconds=20), "1 min"),
        (timedelta(0), "0 min"),
        (timedelta(minutes=-5), "0 min"),
        (timedelta(hours=23, minutes=59, seconds=59), "23 hr 59 min"),
    ],
)
def test_reset_text_under_a_day_is_a_countdown(ahead: timedelta, expected: str) -> None:
    assert reset_text(NOW + ahead, now=NOW, tz=BERLIN) == expected


WEDNESDAY_NOON = datetime(2026, 11, 25, 12, 0, tzinfo=BERLIN)
THURSDAY_0730 = datetime(2026, 11, 26, 7, 30, tzinfo=BERLIN)


@pytest.mark.parametrize(
    ("now", "tz", "resets_at", "expected"),
    [
        (WEDNESDAY_NOON, BERLIN, utc(2026, 11, 27, 6, 0), "Fri 7:00 AM"),
        (WEDNESDAY_NOON, BERLIN, utc(2026, 11, 28, 11, 0), "Sat 12:00 PM"),
        (WEDNESDAY_NOON, BERLIN, utc(2026, 11, 28, 23, 5), "Sun 12:05 AM"),
        (WEDNESDAY_NOON, BERLIN, utc(2026, 11, 29, 18, 0), "Sun 7:00 PM"),
        (WEDNESDAY_NOON, BERLIN, utc(2026, 11, 27, 5, 59, 59, 900000), "Fri 6:59 AM"),
        (WEDNESDAY_NOON, BERLIN, utc(2026, 12, 2, 6, 0), "Wed 7:00 AM"),
        (WEDNESDAY_NOON, BERLIN, utc(2026, 12, 2, 12, 0), "Dec 2 at 1:00 PM"),
        (WEDNESDAY_NOON, NEW_YORK, utc(2026, 11, 27, 12, 0), "Fri 7:00 AM"),
        (THURSDAY_0730, BERLIN, utc(2026, 12, 3, 6, 0), "Thu 7:00 AM"),
        (THURSDAY_0730, BERLIN, utc(2026, 12, 3, 6, 31), "Dec 3 at 7:31 AM"),
    ],
    ids=[
        "fri",
        "noon",
        "past-midnight",
        "evening",
        "truncated",
        "next-wed",
        "wed-8-days",
        "ny",
        "next-thu",
        "thu-would-read-as-today",
    ],
)
def test_reset_text_beyond_a_day_is_a_local_weekday_and_time(
    now: datetime, tz: ZoneInfo, resets_at: datetime, expected: str
) -> None:
    assert reset_text(resets_at, now=now, tz=tz) == expected


def test_reset_text_across_berlin_spring_forward() -> None:
    saturday = datetime(2026, 3, 28, 12, 0, tzinfo=BERLIN)
    assert reset_text(utc(2026, 3, 30, 5, 0), now=saturday, tz=BERLIN) == "Mon 7:00 AM"
    night = datetime(2026, 3, 29, 1, 30, tzinfo=BERLIN)
    assert reset_text(utc(2026, 3, 29, 2, 30), now=night, tz=BERLIN) == "2 hr"


def test_reset_text_across_new_york_fall_back() -> None:
    now = datetime(2026, 10, 30, 9, 0, tzinfo=NEW_YORK)
    assert reset_text(utc(2026, 11, 1, 12, 0), now=now, tz=NEW_YORK) == "Sun 7:00 AM"


@pytest.mark.parametrize(
    "ahead",
    [timedelta(minutes=m) for m in (1, 59, 61, 300, 1439, 1440, 2000, 5000, 10079, 10081)],
    ids=str,
)
def test_reset_text_resolves_back_to_the_same_minute(ahead: timedelta) -> None:
    resets_at = NOW + ahead
    text = reset_text(resets_at, now=NOW, tz=NEW_YORK)
    assert resolve_reset(text, now=NOW, tz=NEW_YORK) == resets_at


# --- 2026 shapes: headings, spend caps, hostile resets ------------------------------------------


@pytest.mark.parametrize(
    "heading",
    [
        "Plan usage limits Pro",
        "Plan usage limitsMax (5x)",
        "Your Usage limits",
        "YOUR USAGE LIMITS",
    ],
)
def test_heading_variants_scope_the_rows(heading: str) -> None:
    text = page(
        "All models", "0% used", heading, "Current session", "Resets in 1 hr", "5% used",
        "Weekly limits", "All models", "Resets Thu 7:00 AM", "31% used",
        "Sonnet only", "Resets in 18 hr 9 min", "10% used",
    )  # fmt: skip
    doc = read(text)
    assert doc["weeklyLimits"]["allModels"]["percentageUsed"] == 31
    assert doc["weeklyLimits"]["sonnetOnly"]["resetsIn"] == "18 hr 9 min"
    assert doc["isPartial"] is False


def test_heading_run_together_with_a_capital_u() -> None:
    doc = read(
        "Your Usage limitsTeamCurrent sessionResets in 29 min0% usedWeekly limits"
        "All modelsResets Sat 7:29 PM1% usedSonnet onlyResets Sat 7:29 PM4% used"
    )
    assert doc["currentSession"] == {
        "resetsIn": "29 min",
        "percentageUsed": 0,
        "resetsAt": "2026-11-26T05:59:00.000Z",
    }
    assert doc["weeklyLimits"]["sonnetOnly"]["percentageUsed"] == 4


ENTERPRISE = page(
    "Your usage limits", "Enterprise", "$19.80 of $125.00 spent", "Resets Sat, Aug 1", "16% used",
    "Last updated: just now",
)  # fmt: skip


def test_spend_cap_page_is_no_plan_limits_not_a_model_row() -> None:
    with pytest.raises(SpendCapOnly) as caught:
        snapshot_from_page(ENTERPRISE, now=NOW, tz=BERLIN)
    assert caught.value.spend == Spend(19.8, 125.0, "USD")
    reading = read_page(ENTERPRISE, now=NOW, tz=BERLIN)
    assert reading.limits == {} and reading.errors == {}


def test_spend_line_next_to_limits_is_not_a_row() -> None:
    text = page(MAX_PAGE, "Extra usage", "$0.00 of $50.00 spent", "Resets Jan 1", "0% used")
    assert set(read(text)["weeklyLimits"]) == {"allModels", "sonnetOnly"}


@pytest.mark.parametrize(
    "reset", ["Resets in 999999999 days", "Resets in 401 days", "Resets in 99999999999 hr"]
)
def test_impossible_countdown_is_an_error_for_that_row_only(reset: str) -> None:
    text = MAX_PAGE.replace("Resets in 2 hr 42 min", reset)
    doc = read(text)
    assert "currentSession" not in doc
    assert "plausible" in doc["extractionErrors"]["currentSession"]
    assert doc["weeklyLimits"]["allModels"]["percentageUsed"] == 31


def api_item(kind: str, percent: object, **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "percent": percent, "resets_at": "2026-11-28T06:00:00Z", **extra}


def test_omelette_is_claude_design_and_cowork_and_codenames_are_not_limits() -> None:
    usage = {
        **OLD_ANSWER,
        "seven_day_omelette": {"utilization": 26, "resets_at": "2026-11-28T06:00:00Z"},
        "seven_day_cowork": {"utilization": 11, "resets_at": "2026-11-26T20:00:00Z"},
        "tangelo": {"utilization": 50, "resets_at": "2026-11-27T00:00:00Z"},
        "nimbus_quill": {"utilization": 0, "resets_at": None},
        "iguana_necktie": None,
        "seven_day_breakdown": {"rows": [{"surface": "cowork", "percent": 1}]},
        "five_hour": {**OLD_ANSWER["five_hour"], "used_dollars": None, "limit_dollars": None},
    }
    snap = read_api(usage)
    assert set(snap.weekly) == {"allModels", "sonnetOnly", "claudeDesignOnly"}
    assert snap.weekly["claudeDesignOnly"].percentage_used == 26
    assert snap.extraction_errors == {}


def test_surface_rows_are_notes_not_model_rows_or_errors() -> None:
    usage = {
        "limits": [
            api_item("session", 80, scope={"surface": "Claude Code"}),
            api_item("session", 21, scope={"model": None, "surface": None}),
            api_item("weekly_all", 40, scope=None),
            api_item("weekly_scoped", 17, scope={"model": {"display_name": "Sonnet"}}),
            api_item("weekly_scoped", 66, scope={"surface": {"display_name": "Cowork"}}),
        ]
    }
    reading = read_api_reading(usage)
    assert set(reading.limits) == {"currentSession", "allModels", "sonnetOnly"}
    assert reading.limits["currentSession"].percentage_used == 21
    assert reading.errors == {}
    assert any("Claude Code" in n for n in reading.notes)
    assert any("Cowork" in n for n in reading.notes)


def read_api_reading(usage: object) -> Reading:
    return read_api_raw(usage, now=NOW, tz=BERLIN)


@pytest.mark.parametrize(("raw", "clamped"), [(104.5, 100), ("250", 100), (100.0, 100)])
def test_utilization_over_100_is_clamped_and_the_raw_value_kept(raw: object, clamped: int) -> None:
    snap = read_api(
        {**OLD_ANSWER, "five_hour": {"utilization": raw, "resets_at": "2026-11-26T06:00:00Z"}}
    )
    assert snap.session is not None and snap.session.percentage_used == clamped
    doc = to_json(snap)["currentSession"]
    if raw == 100.0:
        assert "rawPercentageUsed" not in doc
    else:
        assert doc["rawPercentageUsed"] == float(raw)  # type: ignore[arg-type]
    assert validate_payload(to_payload(snap).body) == []


def test_percent_null_is_an_error_never_zero() -> None:
    usage = {
        "limits": [
            *LIMITS_ANSWER["limits"][:2],
            api_item("weekly_scoped", None, scope={"model": {"display_name": "Sonnet"}}),
        ]
    }
    snap = read_api(usage)
    assert "sonnetOnly" not in snap.weekly
    assert "null" in snap.extraction_errors["sonnetOnly"]


@pytest.mark.parametrize(
    "resets_at", ["9999-12-31T23:59:59+00:00", "0001-01-01T00:00+05:00", "2031-01-01T00:00:00Z"]
)
def test_impossible_reset_time_from_the_endpoint_is_a_row_error(resets_at: str) -> None:
    snap = read_api({**OLD_ANSWER, "seven_day": {"utilization": 3, "resets_at": resets_at}})
    assert "allModels" not in snap.weekly and snap.extraction_errors["allModels"]
    assert snap.session is not None


SPEND_OBJECT = {
    "used": {"amount_minor": 211926, "currency": "USD", "exponent": 2},
    "limit": {"amount_minor": 500000, "currency": "USD", "exponent": 2},
    "percent": 42,
}


@pytest.mark.parametrize(
    ("usage", "spend"),
    [
        (
            {"five_hour": None, "seven_day": None, "limits": [], "spend": SPEND_OBJECT},
            Spend(2119.26, 5000.0, "USD"),
        ),
        (
            {
                "five_hour": None,
                "seven_day": None,
                "limits": None,
                "extra_usage": {"monthly_limit": 100000, "used_credits": 4132},
            },
            Spend(41.32, 1000.0, None),
        ),
        (
            {
                "extra_usage": {
                    "is_enabled": True,
                    "monthly_limit": 150000,
                    "used_credits": 109563,
                    "currency": "EUR",
                }
            },
            Spend(1095.63, 1500.0, "EUR"),
        ),
    ],
)
def test_spend_only_answer_is_no_plan_limits(usage: dict[str, Any], spend: Spend) -> None:
    with pytest.raises(SpendCapOnly) as caught:
        read_api(usage)
    assert caught.value.spend == spend


def test_spend_next_to_limits_does_not_hide_them() -> None:
    snap = read_api({**LIMITS_ANSWER, "spend": SPEND_OBJECT})
    assert snap.session is not None and not snap.is_partial


# --- the per-limit merge -------------------------------------------------------------------------


def test_old_fields_fill_what_limits_lacks_and_limits_wins_within_a_limit() -> None:
    usage = {
        "five_hour": {"utilization": 9, "resets_at": "2026-11-26T08:00:00Z"},
        "seven_day": {"utilization": 20, "resets_at": "2026-11-28T06:00:00Z"},
        "seven_day_sonnet": {"utilization": 99, "resets_at": "2026-11-28T06:00:00Z"},
        "limits": [
            api_item("weekly_scoped", 12, scope={"model": {"id": None, "display_name": "Sonnet"}}),
            api_item("weekly_scoped", 29, scope={"model": {"display_name": "Fable"}}),
        ],
    }
    snap = read_api(usage)
    assert {k: v.percentage_used for k, v in snap.weekly.items()} == {
        "allModels": 20,
        "sonnetOnly": 12,
        "fableOnly": 29,
    }
    assert next(iter(snap.weekly)) == "allModels"
    assert snap.session is not None and snap.source == "api" and not snap.is_partial
    assert snap.origins == {
        "currentSession": "five_hour",
        "allModels": "seven_day",
        "sonnetOnly": "limits[]",
        "fableOnly": "limits[]",
    }


def test_page_completes_a_partial_endpoint_answer_and_the_source_says_mixed() -> None:
    api = read_api_raw({"limits": LIMITS_ANSWER["limits"][:2]}, now=NOW, tz=BERLIN)
    text = MAX_PAGE.replace("47% used", "12% used")  # the endpoint's session wins
    page_reading = read_page(text, now=NOW, tz=BERLIN)
    snap = merge([api, page_reading], now=NOW)
    assert snap.source == "mixed" and not snap.is_partial
    assert snap.session is not None and snap.session.percentage_used == 47
    assert snap.weekly["sonnetOnly"].percentage_used == 10
    assert snap.origins["sonnetOnly"] == "page" and snap.origins["currentSession"] == "limits[]"
    assert merge([page_reading], now=NOW).source == "page"


def test_an_error_in_one_source_is_dropped_when_the_other_has_the_limit() -> None:
    usage = {
        "limits": [
            *LIMITS_ANSWER["limits"][:2],
            api_item("weekly_scoped", None, scope={"model": {"display_name": "Sonnet"}}),
        ]
    }
    snap = merge(
        [read_api_raw(usage, now=NOW, tz=BERLIN), read_page(MAX_PAGE, now=NOW, tz=BERLIN)], now=NOW
    )
    assert snap.extraction_errors == {} and snap.weekly["sonnetOnly"].percentage_used == 10


def test_merge_of_nothing_is_no_usage() -> None:
    with pytest.raises(NoUsage):
        merge([Reading(), Reading(errors={"allModels": "bad"})], now=NOW)


@pytest.mark.parametrize(
    ("orgs", "last_active", "expected"),
    [
        ([{"uuid": " "}, {"uuid": "plain"}], None, "plain"),
        ([{"uuid": "api", "capabilities": ["api"]}, {"uuid": "plain"}], None, "plain"),
        ([{"uuid": "api", "capabilities": ["api"]}, {"uuid": "plain"}], "api", "plain"),
        (
            [{"uuid": "ent", "capabilities": ["raven_enterprise", "raven", "chat"]}, ORGS[1]],
            "chat-1",
            "chat-1",
        ),
        ([{"uuid": "free", "capabilities": ["chat"]}], "", "free"),
    ],
)
def test_pick_organization_2026(orgs: object, last_active: str | None, expected: str) -> None:
    assert pick_organization(orgs, last_active) == expected


def test_escape_sequences_in_the_page_text_never_reach_the_snapshot() -> None:
    hostile = MAX_PAGE.replace("Resets Thu 7:00 AM", "Resets Thu 7:00 AM\x1b]0;pwned\x07\x1b[2J")
    hostile = hostile.replace("Sonnet only", "Sonnet\x1b[31m only")
    doc = read(hostile)
    assert doc["weeklyLimits"]["allModels"]["resetsIn"] == "Thu 7:00 AM"
    assert "sonnetOnly" in doc["weeklyLimits"]
    assert "\x1b" not in json.dumps(doc, ensure_ascii=False)


def test_control_characters_in_an_endpoint_model_name_are_dropped() -> None:
    usage = {
        "limits": [
            api_item(
                "weekly_scoped",
                0,
                resets_at=None,
                scope={"model": {"display_name": "Fa\x1b[2Jble\x07"}},
            )
        ]
    }
    snap = read_api({**OLD_ANSWER, **usage})
    assert snap.weekly["fableOnly"].resets_in == "You haven’t used Fable yet"


def test_limits_that_cannot_be_read_are_not_taken_for_a_spend_only_plan() -> None:
    usage = {
        "limits": [api_item("session", None), api_item("weekly_all", None)],
        "extra_usage": {"is_enabled": True, "monthly_limit": 5000, "used_credits": 100},
    }
    reading = read_api_raw(usage, now=NOW, tz=BERLIN)
    assert reading.spend is None and reading.errors
    with pytest.raises(NoUsage) as caught:
        read_api(usage)
    assert not isinstance(caught.value, SpendCapOnly)


# --- versioned model rows, reset wordings we do not know --------------------------------------

VERSIONED_PAGE = page(
    "Plan usage limits",
    "Max",
    "Current session",
    "Resets in 2 hr 42 min",
    "47% used",
    "Weekly limits",
    "All models",
    "Resets: (Saturday) 3:00 PM",
    "31% used",
    "Claude Opus 4.6",
    "Resets Thu 7:00 AM",
    "12% used",
)


@pytest.mark.parametrize("joined", [False, True], ids=["lines", "run-together"])
def test_an_unknown_reset_wording_is_a_reset_not_a_row_label(joined: bool) -> None:
    text = VERSIONED_PAGE.replace("\n", "") if joined else VERSIONED_PAGE
    doc = read(text, model_row="Opus")
    weekly = doc["weeklyLimits"]
    assert set(weekly) == {"allModels", "opusOnly"}
    assert weekly["allModels"] == {"resetsIn": "(Saturday) 3:00 PM", "percentageUsed": 31}
    assert "extractionErrors" not in doc
    assert doc["isPartial"] is False


def test_an_unknown_reset_wording_is_noted_for_verbose() -> None:
    reading = read_page(VERSIONED_PAGE, now=NOW, tz=BERLIN)
    assert any("not understood" in note for note in reading.notes)


def test_a_versioned_page_row_is_the_family_row_with_its_full_label() -> None:
    opus = read(VERSIONED_PAGE, model_row="Opus")["weeklyLimits"]["opusOnly"]
    assert opus["label"] == "Claude Opus 4.6"
    assert opus["percentageUsed"] == 12


def test_a_versioned_endpoint_model_is_the_same_row_as_the_page_family() -> None:
    usage = {
        "limits": [
            {"kind": "session", "percent": 5, "resets_at": "2026-11-26T07:00:00Z"},
            {"kind": "weekly_all", "percent": 9, "resets_at": "2026-11-30T06:00:00Z"},
            {
                "kind": "weekly_scoped",
                "percent": 3,
                "resets_at": "2026-11-30T06:00:00Z",
                "scope": {"model": {"display_name": "Claude Sonnet 4.5"}},
            },
            {
                "kind": "weekly_scoped",
                "percent": 1,
                "resets_at": "2026-11-30T06:00:00Z",
                "scope": {"model": {"display_name": "Haiku 4"}},
            },
        ]
    }
    snap = read_api(usage)
    assert set(snap.weekly) == {"allModels", "sonnetOnly", "haikuOnly"}
    assert snap.weekly["sonnetOnly"].label == "Claude Sonnet 4.5"
    assert not snap.is_partial


# --- which organization ----------------------------------------------------------------------

FREE = {
    "uuid": "org-free",
    "name": "you@example.com's Organization",
    "capabilities": ["chat"],
    "rate_limit_tier": "default_claude_ai",
    "billing_type": None,
}
MAX = {
    "uuid": "org-max",
    "name": "Home",
    "capabilities": ["chat", "claude_max"],
    "rate_limit_tier": "default_claude_max_5x",
    "billing_type": "stripe_subscription",
}
TEAM = {
    "uuid": "org-team",
    "name": "Acme Corp",
    "capabilities": ["chat", "raven"],
    "raven_type": "team",
}
CONSOLE = {"uuid": "org-api", "name": "Console", "capabilities": ["api", "api_individual"]}


@pytest.mark.parametrize(
    ("org", "plan"),
    [
        (FREE, None),
        (MAX, "Max"),
        (TEAM, "Team"),
        ({"capabilities": ["chat", "claude_pro"], "rate_limit_tier": "default_claude_ai"}, "Pro"),
        ({"capabilities": ["chat", "raven", "raven_enterprise"]}, "Enterprise"),
        ({"capabilities": ["chat", "raven"], "raven_type": "enterprise"}, "Enterprise"),
        ({"capabilities": ["chat"], "rate_limit_tier": "default_claude_max_20x"}, "Max"),
        ({"capabilities": ["chat"], "rate_limit_tier": "default_raven"}, "Team"),
        ({"capabilities": ["chat"], "billing_type": "google_play_subscription"}, "paid plan"),
        # Feature flags share the claude_ prefix with plans: not a plan.
        ({"capabilities": ["chat", "claude_1p"]}, None),
        ({"capabilities": ["chat"], "billing_type": "none"}, None),
    ],
)
def test_the_plan_an_organization_shows(org: dict[str, Any], plan: str | None) -> None:
    from consolescrape.extract.organization import plan_of

    assert plan_of(org) == plan


@pytest.mark.parametrize(
    ("orgs", "cookie", "uuid", "reason"),
    [
        ([FREE, MAX], None, "org-max", "paid plan"),
        ([FREE, MAX], "gone", "org-max", "paid plan"),
        ([FREE, MAX], "org-api", "org-max", "paid plan"),
        ([FREE, MAX], "org-free", "org-free", "lastActiveOrg"),
        ([CONSOLE, FREE], None, "org-free", "first chat organization"),
        ([FREE, TEAM, MAX], None, "org-team", "paid plan"),
        ([{"uuid": "bare"}, {"uuid": "other"}], None, "bare", "first organization"),
    ],
)
def test_choose_organization(
    orgs: list[dict[str, Any]], cookie: str | None, uuid: str, reason: str
) -> None:
    choice = choose_organization(orgs, cookie)
    assert choice is not None
    assert (choice.uuid, choice.reason) == (uuid, reason)


def test_several_paid_organizations_name_the_others() -> None:
    choice = choose_organization([FREE, TEAM, MAX])
    assert choice is not None
    assert choice.describe() == "Acme Corp (Team)"
    assert choice.other_paid == ("Home (Max)",)
    assert choice.to_json() == {
        "uuid": "org-team",
        "name": "Acme Corp",
        "plan": "Team",
        "chosenBy": "paid plan",
        "otherPaid": ["Home (Max)"],
    }


@pytest.mark.parametrize("pin", ["org-max", "ORG-MAX", "home", " Home "])
def test_a_pin_by_uuid_or_name_wins_over_everything(pin: str) -> None:
    choice = choose_organization([FREE, TEAM, MAX], "org-team", pin)
    assert choice is not None
    assert (choice.uuid, choice.reason) == ("org-max", "CONSOLESCRAPE_ORG")
    # The cookie's organization is the one the page shows: its numbers are not the pin's.
    assert choice.page_shows == "Acme Corp"


def test_a_pin_that_is_the_cookie_organization_leaves_the_page_usable() -> None:
    choice = choose_organization([FREE, MAX], "org-max", "Home")
    assert choice is not None and choice.page_shows is None


@pytest.mark.parametrize(
    ("orgs", "pin", "words"),
    [
        ([FREE, MAX], "Globex", "names no organization"),
        ([FREE, CONSOLE], "Console", "names no organization"),  # API-only: /usage answers 403
        ([MAX, {**MAX, "uuid": "org-max-2"}], "Home", "names 2 organizations; use the uuid"),
    ],
)
def test_a_pin_that_names_no_usable_organization_is_refused(
    orgs: list[dict[str, Any]], pin: str, words: str
) -> None:
    with pytest.raises(UnknownOrganization, match=words) as raised:
        choose_organization(orgs, None, pin)
    assert "Home" in str(raised.value) or "Console" in str(raised.value)


def test_an_organization_name_is_stored_without_control_characters() -> None:
    choice = choose_organization([{**MAX, "name": "Ho\x1b[31mme\n"}])
    assert choice is not None and choice.name == "Home"


# --- the site's passing trouble ----------------------------------------------------------------

AGAIN = "; the next run tries again"


@pytest.mark.parametrize(
    ("status", "retry_after", "expected"),
    [
        (
            429,
            "120",
            "claude.ai answered 429 (rate limited, it asks to wait 2 min)" + AGAIN,
        ),
        (
            429,
            "30",
            "claude.ai answered 429 (rate limited, it asks to wait 30 s); the next run tries again",
        ),
        (
            429,
            "Thu, 26 Nov 2026 06:30:00 GMT",
            "claude.ai answered 429 (rate limited, it asks to wait 60 min)" + AGAIN,
        ),
        (429, "soon", "claude.ai answered 429 (rate limited); the next run tries again"),
        (503, None, "claude.ai answered 503 (service unavailable); the next run tries again"),
        (529, None, "claude.ai answered 529 (overloaded); the next run tries again"),
        (599, None, "claude.ai answered 599; the next run tries again"),
    ],
)
def test_endpoint_trouble_in_words(status: int, retry_after: str | None, expected: str) -> None:
    assert endpoint_trouble(status, retry_after, host="claude.ai", now=NOW) == expected


@pytest.mark.parametrize("status", [400, 401, 403, 404, 200])
def test_other_statuses_are_not_passing_trouble(status: int) -> None:
    assert endpoint_trouble(status, "5", host="claude.ai", now=NOW) is None


OUTAGE_TEXT = page(
    "Claude will return soon",
    "Claude is currently experiencing a temporary service disruption. We’re working on it, "
    "please check back soon.",
    "Try again",
    "Still not working? You can reach out to support with this error code: 7QX2PLM",
)


def test_the_outage_page_in_words() -> None:
    assert page_trouble(500, "Claude", OUTAGE_TEXT, host="claude.ai") == (
        'claude.ai shows an outage page ("Claude will return soon", HTTP 500 (internal server '
        "error)); the next run tries again"
    )


@pytest.mark.parametrize(
    ("status", "title", "text", "kind"),
    [
        (500, "Claude", OUTAGE_TEXT, PageKind.OUTAGE),
        (0, "Claude", OUTAGE_TEXT, PageKind.OUTAGE),  # the browser did not say the status
        (502, "claude.ai | 502: Bad gateway", "Bad gateway Error code 502", PageKind.OUTAGE),
        (429, "claude.ai", "Rate exceeded.", PageKind.OUTAGE),
        (503, "", "", PageKind.OUTAGE),
        # A chat title in the sidebar is not an outage; a page with limits never is one.
        (
            200,
            "Claude",
            "Chats\nFix the bad gateway error\nInternal server error logs",
            PageKind.UNKNOWN,
        ),
        (500, "Settings", MAX_PAGE, PageKind.USAGE),
        (404, "Not found", "This page could not be found", PageKind.UNKNOWN),
    ],
)
def test_classify_an_outage_page(status: int, title: str, text: str, kind: PageKind) -> None:
    assert classify_page(USAGE_URL, title, text, status=status) is kind


CHALLENGE_2026 = page(
    "claude.ai",
    "Performing security verification",
    "This website uses a security service to protect against malicious bots. This page is "
    "displayed while the website verifies you are not a bot.",
)


@pytest.mark.parametrize("title", ["Claude", "claude.ai", "", "Just a moment..."])
def test_the_2026_challenge_is_a_bot_check_under_any_title(title: str) -> None:
    assert classify_page(USAGE_URL, title, CHALLENGE_2026, status=403) is PageKind.BOT_CHECK


def test_challenge_markup_alone_is_a_bot_check() -> None:
    assert classify_page(USAGE_URL, "claude.ai", "", challenge=True) is PageKind.BOT_CHECK


def test_challenge_markup_on_a_page_that_shows_usage_is_the_usage_page() -> None:
    # Some sites load the platform's scripts on every page; the numbers say what the page is.
    assert classify_page(USAGE_URL, "Settings", MAX_PAGE, challenge=True) is PageKind.USAGE


def test_a_bot_check_is_not_an_outage_even_with_an_error_status() -> None:
    assert classify_page(USAGE_URL, "Claude", CHALLENGE_2026, status=503) is PageKind.BOT_CHECK


def test_maintenance_words_in_the_sidebar_are_no_outage_without_an_error_status() -> None:
    text = page("New chat", "Chats", "Site under maintenance banner", "Bad gateway retries")
    assert classify_page(USAGE_URL, "Claude", text, status=200) is PageKind.UNKNOWN
    assert classify_page(USAGE_URL, "Claude", text, status=503) is PageKind.OUTAGE
