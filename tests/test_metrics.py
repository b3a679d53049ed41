"""The Prometheus textfile: node_exporter's format, escaped labels, atomic and readable."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import file_mode

from consolescrape import metrics, model

AT = datetime(2026, 11, 29, 1, 17, 41, 123000, tzinfo=UTC)
#: One sample line of the exposition format: name, optional {labels}, a number.
SAMPLE = re.compile(r'^[a-z_]+(\{limit="(?:[^"\\\n]|\\["\\n])*"\})? -?[0-9.e+]+$')


def snapshot() -> model.Snapshot:
    return model.Snapshot(
        last_updated=AT,
        session=model.Limit("2 hr 42 min", 47, AT + timedelta(hours=2, minutes=42)),
        weekly={
            "allModels": model.Limit("Thu 7:00 AM", 31.5, None),
            'we"ird\\key\n': model.Limit("x", 10, None),
        },
        source="api",
    )


def test_every_family_has_help_and_type_and_every_sample_parses() -> None:
    text = metrics.render(metrics.RunMetrics(snapshot(), exit_code=5, outbox_items=2))
    lines = text.splitlines()
    assert text.endswith("\n")
    families = [line.split()[2] for line in lines if line.startswith("# TYPE")]
    assert families == [
        "consolescrape_usage_percent",
        "consolescrape_usage_resets_at_seconds",
        "consolescrape_last_success_timestamp_seconds",
        "consolescrape_last_run_exit_code",
        "consolescrape_outbox_items",
    ]
    assert all(f"# TYPE {name} gauge" in lines for name in families)
    assert all(any(line.startswith(f"# HELP {name} ") for line in lines) for name in families)
    for line in lines:
        assert line.startswith("#") or SAMPLE.match(line), line
    assert 'consolescrape_usage_percent{limit="currentSession"} 47' in lines
    assert 'consolescrape_usage_percent{limit="allModels"} 31.5' in lines
    assert 'consolescrape_usage_percent{limit="we\\"ird\\\\key\\n"} 10' in lines
    resets = [line for line in lines if line.startswith("consolescrape_usage_resets_at_seconds")]
    reset_at = AT.timestamp() + 2 * 3600 + 42 * 60
    assert resets == [f'consolescrape_usage_resets_at_seconds{{limit="currentSession"}} {reset_at}']
    assert f"consolescrape_last_success_timestamp_seconds {AT.timestamp()}" in lines
    assert "consolescrape_last_run_exit_code 5" in lines
    assert "consolescrape_outbox_items 2" in lines


def test_a_whole_second_keeps_every_digit() -> None:
    resets = datetime(2026, 11, 29, 4, 0, tzinfo=UTC)
    snap = model.Snapshot(last_updated=resets, session=model.Limit("2 hr", 47.0, resets))
    lines = metrics.render(metrics.RunMetrics(snap, exit_code=0, outbox_items=0)).splitlines()
    stamp = int(resets.timestamp())
    assert f'consolescrape_usage_resets_at_seconds{{limit="currentSession"}} {stamp}' in lines
    assert 'consolescrape_usage_percent{limit="currentSession"} 47' in lines


def test_without_data_yet_the_run_and_outbox_are_still_reported() -> None:
    lines = metrics.render(metrics.RunMetrics(None, exit_code=3, outbox_items=0)).splitlines()
    assert "consolescrape_last_run_exit_code 3" in lines
    assert not any(line.startswith("consolescrape_usage_percent{") for line in lines)
    assert not any(line.startswith("consolescrape_last_success") for line in lines)


def test_the_file_is_replaced_whole_and_readable_by_node_exporter(tmp_path: Path) -> None:
    path = tmp_path / "consolescrape.prom"
    path.write_text("old\n")
    metrics.write(path, "new 1\n")
    assert path.read_text() == "new 1\n"
    assert file_mode(path) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["consolescrape.prom"], "no temp file left"


def test_every_sample_names_its_home_so_accounts_never_collide(tmp_path: Path) -> None:
    home = str(tmp_path / 'work "main"')
    text = metrics.render(metrics.RunMetrics(snapshot(), exit_code=0, outbox_items=1, home=home))
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    label = 'home="' + home.replace('"', '\\"') + '"'
    assert all(line.startswith(line.split("{")[0] + "{" + label) for line in lines), lines
    assert f'consolescrape_usage_percent{{{label},limit="currentSession"}} 47' in lines
    assert f"consolescrape_outbox_items{{{label}}} 1" in lines
    assert metrics.home_of(text) == home


def test_two_homes_writing_one_file_the_second_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "consolescrape.prom"
    work, personal = tmp_path / "work", tmp_path / "personal"
    work.mkdir()
    personal.mkdir()

    def reading(home: Path, code: int) -> str:
        return metrics.render(
            metrics.RunMetrics(snapshot(), exit_code=code, outbox_items=0, home=str(home))
        )

    metrics.write(path, reading(work, 0))
    metrics.write(path, reading(work, 5))  # the same home rewrites its own file every run
    with pytest.raises(metrics.SharedFile) as refused:
        metrics.write(path, reading(personal, 3))
    assert f"the home {work}" in str(refused.value) and "its own file" in str(refused.value)
    assert metrics.home_of(path.read_text()) == str(work), "the first home's numbers are kept"
    assert f'consolescrape_last_run_exit_code{{home="{work}"}} 5' in path.read_text()
    # A home that is gone (moved, renamed) does not hold the file forever.
    work.rmdir()
    metrics.write(path, reading(personal, 3))
    assert metrics.home_of(path.read_text()) == str(personal)
