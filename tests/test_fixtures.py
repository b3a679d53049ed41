"""The corpus of real page layouts and endpoint answers.

Every case in fixtures/cases.toml is read by real headless Chromium from the loopback stand-in
serving that page and endpoint answer, as `run`'s browser phase reads it, on the worker's shared
Chrome (tests/shared_chrome.py): the snapshot, the server payload it makes, or the error and its
exit code are checked. The cases marked `pipeline` (a few of each family) are also one
`consolescrape run --no-sync --json` in a subprocess: the saved snapshot, the queued item's
payload, the exit code, what the run prints and records.
"""

from __future__ import annotations

import json
import logging
import re
import time
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import CLI, SECRET_KEY, SESSION_KEY
from shared_chrome import SharedChrome
from support.site import TroubledSite

from consolescrape import config, model
from consolescrape.browser import endpoint, lean, usage_page
from consolescrape.errors import ConsolescrapeError, SiteTrouble

FIXTURES = Path(__file__).parent / "fixtures"
CASES: list[dict[str, Any]] = tomllib.loads((FIXTURES / "cases.toml").read_text())["case"]
PIPELINE = [case for case in CASES if case.get("pipeline")]
_TIME = re.compile(r"\{\{([+-])(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:@([\d.]+)s)?\}\}")


def with_times(doc: Any, now: datetime) -> Any:
    """The answer with each "{{+2h42m}}" replaced by that moment, as the endpoint writes it;
    "{{+3d@59.9s}}" is that moment's minute at 59.9 seconds (a reset the page truncates)."""
    if isinstance(doc, dict):
        return {k: with_times(v, now) for k, v in doc.items()}
    if isinstance(doc, list):
        return [with_times(v, now) for v in doc]
    if isinstance(doc, str) and (m := _TIME.fullmatch(doc)):
        days, hours, minutes = (int(g or 0) for g in m.groups()[1:4])
        delta = timedelta(days=days, hours=hours, minutes=minutes, seconds=30)
        moment = now + delta if m[1] == "+" else now - delta
        if m[5] is not None:
            moment = moment.replace(second=0, microsecond=0) + timedelta(seconds=float(m[5]))
        return moment.isoformat()
    return doc


def answer(site: TroubledSite, spec: dict[str, Any]) -> None:
    """One path answering a status with a page, an endpoint answer or inline HTML, and headers."""
    body: str = spec.get("html", "")
    if "page" in spec:
        body = (FIXTURES / "pages" / spec["page"]).read_text()
    headers = dict(spec.get("headers", {}))
    if "endpoint" in spec:
        body = (FIXTURES / "endpoint" / spec["endpoint"]).read_text()
        headers.setdefault("Content-Type", "application/json")
    site.answer(spec["path"], spec["status"], body, headers)


def configure(site: TroubledSite, case: dict[str, Any]) -> None:
    site.reset()
    changes: dict[str, Any] = {
        "page": FIXTURES / "pages" / case["page"],
        "pages": {"/upgrade": FIXTURES / "pages" / "upgrade.html"},
        "redirect_to": case.get("redirect_to"),
        "api_status": case.get("endpoint_status", 200),
        "api_hang": case.get("endpoint_hang", False),
    }
    if "endpoint" in case:
        body = json.loads((FIXTURES / "endpoint" / case["endpoint"]).read_text())
        changes["api"] = with_times(body, datetime.now(UTC))
    elif "endpoint_html" in case:
        changes["api"] = case["endpoint_html"]
    for name in ("organizations", "usage_org"):
        if name in case:
            changes[name] = case[name]
    if "last_active_org" in case:
        changes["last_active_org"] = case["last_active_org"] or None
    site.configure(**changes)
    for spec in case.get("answers", []):
        answer(site, spec)


@pytest.fixture(autouse=True)
def fresh_site(site: TroubledSite) -> Iterator[None]:
    """The site as created after each case: the module's login (`profile`) needs its usage page."""
    yield
    site.reset()


def limits_of(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = {"currentSession": doc["currentSession"]} if "currentSession" in doc else {}
    return {**found, **doc.get("weeklyLimits", {})}


def run_env(case: dict[str, Any]) -> dict[str, str]:
    """The settings a case runs with (the sync target is a closed port: nothing is sent)."""
    return {
        "CONSOLESCRAPE_MODEL_ROW": case.get("model_row", "Sonnet"),
        "CONSOLESCRAPE_TIMEOUT": str(case.get("timeout", 30)),
        "CLAUDE_SYNC_URL": "http://127.0.0.1:9/api/claude/console-usage",
        "CLAUDE_SYNC_API_KEY": SECRET_KEY,
        **case.get("env", {}),
    }


def check_saved(saved: dict[str, Any], expect: dict[str, Any]) -> None:
    """The snapshot as usage-data.json holds it, against the case's expectations."""
    assert saved["source"] == expect["source"]
    assert saved["isPartial"] is expect["partial"]
    found = limits_of(saved)
    assert {k: v["percentageUsed"] for k, v in found.items()} == expect["percent"]
    for key, text in expect.get("resets", {}).items():
        assert found[key]["resetsIn"] == text
    for key, value in expect.get("raw", {}).items():
        assert found[key]["rawPercentageUsed"] == value
    errors = saved.get("extractionErrors", {})
    for key, text in expect.get("errors", {}).items():
        assert text in errors[key]
    for key in expect.get("quiet_errors", []):
        assert key not in errors
    for key, label in expect.get("labels", {}).items():
        assert found[key]["label"] == label
    for key in expect.get("resets_clock", []):
        # The clock the page would show: the reset's minute, truncated (the case runs in UTC).
        moment = model.parse_time(found[key]["resetsAt"])
        assert found[key]["resetsIn"].endswith(moment.strftime("%-I:%M %p")), found[key]


def check_payload(item: dict[str, Any], expect: dict[str, Any], model_row: str) -> None:
    """What the server would get for a queued item, as sync sends it."""
    payload = model.to_payload(model.from_json(item), model_row)
    assert model.validate_payload(payload.body) == []
    complete = "currentSession" in payload.body and "weeklyLimits" in payload.body
    assert complete is expect["payload_complete"]
    if "hint" in expect:  # what a run prints when the model row it syncs is missing
        assert expect["hint"] in (payload.hint or "")
    assert all(0 <= v["percentageUsed"] <= 100 for v in limits_of(payload.body).values())


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case_reads_as_expected(
    case: dict[str, Any],
    site: TroubledSite,
    shared_chrome: SharedChrome,
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    configure(site, case)
    expect = case["expect"]
    for name, value in run_env(case).items():
        monkeypatch.setenv(name, value)
    # These cases are about what is read once the endpoint's patience or its request runs out,
    # or a page without limits has settled, not about how long each takes (5 s, 10 s, 3 s):
    # here they run out sooner. SETTLE stays: a case renders its sections 0.8 s apart. The
    # pipeline cases run with the real ones.
    monkeypatch.setattr(usage_page, "API_PATIENCE", 1.0)
    monkeypatch.setattr(usage_page, "SETTLE_EMPTY", 1.0)
    for module in (endpoint, lean):
        monkeypatch.setattr(module, "API_TIMEOUT", 1.5)
    settings = config.load({"usage_url": site.url})
    caplog.set_level(logging.DEBUG, logger="consolescrape")
    failure: ConsolescrapeError | None = None
    began = time.monotonic()
    try:
        snapshot = shared_chrome.read(settings, SESSION_KEY)
    except ConsolescrapeError as exc:
        failure = exc
    elapsed = time.monotonic() - began
    assert elapsed < expect.get("max_seconds", 20), f"took {elapsed:.1f} s"
    if "stderr" in expect and not case.get("pipeline"):
        assert expect["stderr"] in caplog.text  # the run prints these lines with --verbose
    if expect["exit"] != 0:
        assert failure is not None, "expected the read to fail"
        assert failure.exit_code == expect["exit"], failure
        assert expect["error"] in failure.message
        if "advice" in expect:
            assert expect["advice"] in (failure.advice or "")
        # The site's passing trouble: `run` tells it in one line, without debug files.
        assert isinstance(failure, SiteTrouble) is bool(expect.get("passing"))
        if "spend" in expect:
            spend = failure.to_json()["spend"]
            assert {k: spend[k] for k in expect["spend"]} == expect["spend"]
        return
    assert failure is None, failure
    saved = model.to_json(snapshot)
    check_saved(saved, expect)
    if not expect.get("held"):
        check_payload(saved, expect, case.get("model_row", "Sonnet"))


@pytest.mark.parametrize("case", PIPELINE, ids=[c["name"] for c in PIPELINE])
def test_case_through_the_whole_pipeline(
    case: dict[str, Any], site: TroubledSite, profile: Path, cli: CLI, home: Path
) -> None:
    configure(site, case)
    expect = case["expect"]
    model_row = case.get("model_row", "Sonnet")
    env = {"CONSOLESCRAPE_PROFILE_DIR": str(profile), **run_env(case)}
    began = time.monotonic()
    result = cli("run", "--no-sync", "--json", "--verbose", "--url", site.url, env=env)
    elapsed = time.monotonic() - began
    assert result.code == expect["exit"], result.stderr
    assert elapsed < expect.get("max_seconds", 20), f"took {elapsed:.1f} s"
    doc = result.json
    if "stderr" in expect:
        assert expect["stderr"] in result.stderr
    if expect["exit"] != 0:
        assert expect["error"] in doc["error"]["message"]
        assert not (home / "usage-data.json").exists()
        if "advice" in expect:
            assert expect["advice"] in doc["error"]["advice"]
        if expect.get("passing"):
            # A passing condition: one line naming it, nothing for a person to look at.
            lines = result.stderr.splitlines()
            assert [line for line in lines if " error: " in line or " fix: " in line] == [
                next(line for line in lines if " error: " in line)
            ]
            assert not (home / "debug").exists()
            assert json.loads((home / "state.json").read_text())["run"]["siteTrouble"] is True
        if "spend" in expect:
            assert {k: doc["error"]["spend"][k] for k in expect["spend"]} == expect["spend"]
        return
    saved = json.loads((home / "usage-data.json").read_text())
    assert saved == doc["data"]
    check_saved(saved, expect)
    if expect.get("held"):
        assert not list((home / "outbox").glob("*.json")), "a held snapshot was queued"
        return
    # What the server would get: the queued item, as sync sends it.
    (item,) = (home / "outbox").glob("*.json")
    check_payload(json.loads(item.read_text()), expect, model_row)
