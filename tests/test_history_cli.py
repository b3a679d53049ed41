"""`history`, the forecast in `status`, several accounts, and `doctor` on history.db: the real
CLI over real SQLite files."""

from __future__ import annotations

import csv
import io
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import history_rows
import pytest
from conftest import CLI, SAMPLE, write_snapshot

from consolescrape import history, model, store
from consolescrape.views.history import BARS, WIDTH

# Views, parsing and JSON run in this process; run, sync and login in their own (inprocess.py).
pytestmark = pytest.mark.inprocess

NOW = datetime.now(UTC)


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A history.db holding a year of 5-minute rows for three limits (~105 000 each)."""
    path = tmp_path_factory.mktemp("year") / "history.db"
    assert history_rows.fill(path, end=NOW) > 105_000
    return path


def install(home: Path, db: Path) -> None:
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    (home / "history.db").write_bytes(db.read_bytes())


def test_history_json_is_the_span_oldest_first_in_camel_case(
    cli: CLI, home: Path, year: Path
) -> None:
    install(home, year)
    result = cli("history", "--since", "30d", "--json")
    assert result.code == 0, result.stderr
    doc = result.json
    assert (doc["ok"], doc["exitCode"], doc["command"]) == (True, 0, "history")
    rows = doc["data"]["rows"]
    assert 3 * 30 * 288 <= len(rows) <= 3 * (30 * 288 + 1)
    assert set(rows[0]) == {
        "scrapedAt",
        "limit",
        "percentageUsed",
        "resetsAt",
        "resetsIn",
        "source",
    }
    stamps = [model.parse_time(r["scrapedAt"]) for r in rows]
    assert stamps == sorted(stamps) and stamps[0] >= NOW - timedelta(days=30, minutes=1)
    session = next(s for s in doc["data"]["limits"] if s["limit"] == "currentSession")
    # The synthetic session fills in 4 hours, holds 100 % for one, then resets: 144 in 30 days.
    assert 143 <= len(session["resets"]) <= 145
    assert session["peak"] == 100 and session["secondsAt100"] > 100 * 3600


def test_history_csv_has_a_header_and_one_line_per_row(cli: CLI, home: Path, year: Path) -> None:
    install(home, year)
    result = cli("history", "--since", "24h", "--csv")
    assert result.code == 0, result.stderr
    table = list(csv.DictReader(io.StringIO(result.stdout)))
    assert 3 * 288 <= len(table) <= 3 * 289
    assert {r["limit"] for r in table} == {"currentSession", "allModels", "sonnetOnly"}
    assert table[0]["scrapedAt"].endswith("Z") and table[0]["percentageUsed"].isdigit()


def test_history_text_is_plain_outside_a_terminal(cli: CLI, home: Path, year: Path) -> None:
    install(home, year)
    result = cli("history")
    assert result.code == 0, result.stderr
    assert "\x1b[" not in result.stdout, "no colour codes in a log"
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Current session") and "peak 100%" in lines[0]
    assert "at 100%" in result.stdout and "█" in lines[0]
    assert any(line.startswith("All models") for line in lines)
    assert any("resets" in line and "(peak 100%)" in line for line in lines)
    assert result.stderr == "", "the view is on stdout, nothing else on stderr"


def test_history_answers_while_a_run_holds_the_lock_and_writes(cli: CLI, home: Path) -> None:
    path = home / "history.db"
    with history.open_for_writing(path) as db, db.transaction():
        db.record(model.from_json({**SAMPLE, "lastUpdated": model.format_time(NOW)}))
    with store.hold_lock(home / "run.lock"), history.open_for_writing(path) as writer:
        writer.db.execute("BEGIN IMMEDIATE")
        writer.db.execute("DELETE FROM points")  # uncommitted: readers still see the row
        result = cli("history", "--json", timeout=20)
        writer.db.execute("ROLLBACK")
    assert result.code == 0, result.stderr
    assert [r["percentageUsed"] for r in result.json["data"]["rows"]] == [47, 31, 10]


def test_no_history_yet_says_how_it_starts(cli: CLI, home: Path) -> None:
    result = cli("history")
    assert result.code == 0
    assert "no history" in result.stdout and "consolescrape run" in result.stdout
    assert cli("history", "--json").json["data"]["rows"] == []
    assert not (home / "history.db").exists(), "reading never creates the database"


def test_bad_arguments_and_a_damaged_database_say_what_to_do(cli: CLI, home: Path) -> None:
    assert cli("history", "--since", "forever").code == 2
    assert cli("history", "--json", "--csv").code == 2
    home.mkdir(parents=True, mode=0o700)
    (home / "history.db").write_bytes(b"garbage " * 1000)
    result = cli("history")
    assert result.code == 7
    assert "damaged" in result.stderr and "history.db.broken" in result.stderr


def window_of(home: Path, percents: list[int], every: timedelta) -> datetime:
    """What runs every `every` minutes would have recorded, the latest now, and the data file."""
    now = datetime.now(UTC)
    resets = now + timedelta(hours=3)
    doc = {"resetsIn": "3 hr", "resetsAt": model.format_time(resets)}
    with history.open_for_writing(home / "history.db") as db:
        for i, percent in enumerate(percents):
            at = now - every * (len(percents) - 1 - i)
            snapshot = model.from_json(
                {
                    "currentSession": {**doc, "percentageUsed": percent},
                    "lastUpdated": model.format_time(at),
                }
            )
            with db.transaction():
                db.record(snapshot)
    store.save_snapshot(home / "usage-data.json", snapshot)
    return now


def test_status_shows_the_forecast_from_the_current_window(cli: CLI, home: Path) -> None:
    now = window_of(home, [40, 50, 60], timedelta(minutes=10))  # 60 %/hr: 100 % in ~40 min
    result = cli("status")
    assert result.code == 0, result.stderr
    # A few seconds pass between writing the history and reading it.
    assert re.search(
        r"^Current session: at this pace 100% in ~(39|40) min$", result.stdout, re.MULTILINE
    ), result.stdout
    # One countdown per limit on the screen: the limit's row, not the forecast again.
    assert len(re.findall(r"resets in 2 hr 5[89] min", result.stdout)) == 1, result.stdout
    found = cli("status", "--json").json["data"]["forecasts"]["currentSession"]
    assert found["pacePercentPerHour"] == 60 and found["reachesLimitBeforeReset"] is True
    # From the last reading (stored to the millisecond): 40 %, at 60 % an hour.
    reaches = model.parse_time(found["reachesLimitAt"]) - now
    assert abs(reaches - timedelta(minutes=40)) < timedelta(milliseconds=2)


def test_no_forecast_from_two_points(cli: CLI, home: Path) -> None:
    window_of(home, [40, 50], timedelta(minutes=10))
    assert "at this pace" not in cli("status").stdout
    assert cli("status", "--json").json["data"]["forecasts"] == {}


def test_status_of_several_accounts_at_a_glance(cli: CLI, tmp_path: Path) -> None:
    work, personal = tmp_path / "work", tmp_path / "personal"
    write_snapshot(work / "usage-data.json", lastUpdated=model.format_time(NOW))
    work.chmod(0o700)
    personal.mkdir(mode=0o700)  # logged in, never run yet (a missing home is a typo: exit 7)
    result = cli("status", "--home", str(work), "--home", str(personal), "--check")
    assert result.code == 9
    assert f"── {work} ──" in result.stdout and f"── {personal} ──" in result.stdout
    assert "no usage data yet" in result.stdout and "47%" in result.stdout
    doc = cli("status", "--home", str(work), "--home", str(personal), "--json").json
    assert doc["exitCode"] == 0
    [first, second] = doc["data"]["accounts"]
    assert first["home"] == str(work) and first["status"]["snapshot"]["currentSession"]
    assert second["home"] == str(personal) and second["status"]["snapshot"] is None


def test_doctor_names_a_damaged_history_and_its_fix(cli: CLI, home: Path) -> None:
    home.mkdir(parents=True, mode=0o700)
    path = home / "history.db"
    path.write_bytes(b"garbage " * 1000)
    result = cli("doctor")
    assert "✗ history:" in result.stdout and "damaged" in result.stdout
    assert f"fix: mv {path} {path}.broken" in result.stdout
    path.unlink()
    with history.open_for_writing(path):
        pass
    assert "✓ history:" in cli("doctor").stdout
    with sqlite3.connect(path) as raw:
        raw.execute(f"PRAGMA user_version = {history.SCHEMA_VERSION + 5}")
    assert "newer than this consolescrape" in cli("doctor").stdout


def test_streamed_json_is_the_document_built_whole_byte_for_byte(year: Path, home: Path) -> None:
    from consolescrape import sanitize
    from consolescrape.views import history as history_view

    end = NOW - timedelta(hours=1)
    start = end - timedelta(days=40)
    with history.open_for_reading(year) as reader:  # type: ignore[union-attr]
        points = reader.points(start, until=end)
    whole = sanitize.dumps(
        {
            "since": model.format_time(start),
            "rows": history.rows_json(points),
            "limits": [s.to_json() for s in history_view.summarize(points)],
        }
    )
    streamed = io.StringIO()
    history_view.HistoryJson(history.open_for_reading(year), start, end).write_json(
        streamed.write, []
    )
    assert streamed.getvalue() == whole


def test_streamed_json_scrubs_stored_text_and_redacts_the_key(cli: CLI, home: Path) -> None:
    from conftest import SECRET_KEY

    path = home / "history.db"
    home.mkdir(parents=True, mode=0o700)
    with history.open_for_writing(path) as db, db.transaction():
        for minutes, text in ((10, "\x1b]0;owned\x07in 2 hr"), (5, f"echo {SECRET_KEY}")):
            at = NOW - timedelta(minutes=minutes)
            db.record(
                model.Snapshot(last_updated=at, session=model.Limit(text, 40, None), source="api")
            )
    result = cli("history", "--json", env={"CLAUDE_SYNC_API_KEY": SECRET_KEY})
    assert result.code == 0, result.stderr
    texts = [row["resetsIn"] for row in result.json["data"]["rows"]]
    assert texts == ["in 2 hr", "echo [redacted]"]
    assert "\x1b" not in result.stdout


@pytest.mark.parametrize("columns", [80, 120])
def test_history_fits_the_terminal_width_without_breaking_a_word(
    cli: CLI, home: Path, year: Path, columns: int
) -> None:
    install(home, year)
    result = cli("history", "--since", "7d", env={"COLUMNS": str(columns)})
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines and all(len(line) <= columns for line in lines), lines
    assert not any(line.endswith(" ") for line in lines), "no trailing blanks"
    # Each phrase whole on one line: a break only falls between phrases.
    for phrase in ("peak 100% (", "at 100%", "(peak 100%)"):
        assert phrase in result.stdout
    assert not any(line.rstrip().endswith(("peak", "at", "(")) for line in lines), lines
    spark = lines[0].split()[2]
    assert set(spark) <= set(BARS), lines[0]
    if columns == 80:
        assert len(spark) < WIDTH, "the sparkline shrinks on a narrow terminal"
    else:
        assert len(lines[0]) > 80, "a wide terminal gets one line per limit"
