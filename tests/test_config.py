"""Settings precedence (flag > env > .env > default) and secrets that never show (SPEC §3)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SECRET_KEY

from consolescrape import config
from consolescrape.errors import ConfigError, UsageError


def test_defaults_when_nothing_is_set(home: Path) -> None:
    settings = config.load()
    assert settings.home == home
    assert settings.sync_url == config.DEFAULT_SYNC_URL
    assert settings.usage_url == "https://claude.ai/settings/usage"
    assert settings.api_key is None
    assert settings.timeout == 90 and settings.sync_deadline == 60
    assert settings.model_row == "Sonnet"
    assert settings.profile == home / "profile"


def test_flag_beats_env_beats_dotenv_beats_default(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text(
        "CONSOLESCRAPE_TIMEOUT=30\nCLAUDE_SYNC_DEADLINE=20\nCONSOLESCRAPE_MODEL_ROW=Fable\n"
    )
    monkeypatch.setenv("CONSOLESCRAPE_TIMEOUT", "40")
    monkeypatch.setenv("CLAUDE_SYNC_DEADLINE", "25")
    settings = config.load({"timeout": 50.0})
    assert settings.timeout == 50
    assert settings.sync_deadline == 25
    assert settings.model_row == "Fable"
    assert settings.origins["timeout"] == "flag"
    assert settings.origins["sync_deadline"] == "env"
    assert settings.origins["model_row"] == ".env"
    assert settings.origins["sync_url"] == "default"


def test_home_dotenv_is_used_when_there_is_no_local_one(home: Path) -> None:
    home.mkdir()
    (home / ".env").write_text(f"CLAUDE_SYNC_API_KEY={SECRET_KEY}\n")
    settings = config.load()
    assert settings.api_key is not None and settings.api_key.reveal() == SECRET_KEY
    assert settings.env_file == home / ".env"


def test_explicit_env_file_wins_and_must_exist(home: Path, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("CONSOLESCRAPE_MODEL_ROW=Opus\n")
    other = tmp_path / "other.env"
    other.write_text("CONSOLESCRAPE_MODEL_ROW=Fable\n")
    assert config.load(env_file=other).model_row == "Fable"
    with pytest.raises(UsageError, match=r"no such file"):
        config.load(env_file=tmp_path / "missing.env")


def test_dotenv_does_not_leak_into_the_process_environment(home: Path, tmp_path: Path) -> None:
    import os

    (tmp_path / ".env").write_text(f"CLAUDE_SYNC_API_KEY={SECRET_KEY}\n")
    config.load()
    assert "CLAUDE_SYNC_API_KEY" not in os.environ


def test_api_key_never_shows_in_repr_or_str(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAUDE_SYNC_API_KEY", SECRET_KEY)
    settings = config.load()
    assert SECRET_KEY not in repr(settings)
    assert SECRET_KEY not in str(settings.api_key)
    assert SECRET_KEY not in f"{settings.api_key!r}"


@pytest.mark.parametrize("value", ["abc", "0", "-5"])
def test_non_positive_timeouts_are_config_errors(
    home: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("CONSOLESCRAPE_TIMEOUT", value)
    with pytest.raises(ConfigError, match="CONSOLESCRAPE_TIMEOUT"):
        config.load()


def test_an_empty_environment_variable_hides_the_dotenv_value(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text(f"CLAUDE_SYNC_API_KEY={SECRET_KEY}\nCONSOLESCRAPE_TIMEOUT=30\n")
    monkeypatch.setenv("CLAUDE_SYNC_API_KEY", "")
    monkeypatch.setenv("CONSOLESCRAPE_TIMEOUT", "")
    settings = config.load()
    assert settings.api_key is None
    assert settings.timeout == 90


@pytest.mark.parametrize(
    ("url", "insecure", "ok"),
    [
        ("https://usage.example.com/api", False, True),
        ("http://localhost:4000/api", False, True),
        ("http://127.0.0.1:4000/api", False, True),
        ("http://[::1]:4000/api", False, True),
        ("http://usage.example.com/api", False, False),
        ("http://usage.example.com/api", True, True),
        ("ftp://usage.example.com/api", True, False),
        ("not a url", False, False),
    ],
)
def test_sync_target_rules(home: Path, url: str, insecure: bool, ok: bool) -> None:
    settings = config.load({"sync_url": url, "allow_insecure": insecure})
    if ok:
        config.check_sync_target(settings)
    else:
        with pytest.raises(ConfigError):
            config.check_sync_target(settings)


def test_missing_key_error_names_the_variable_and_where_to_put_it(home: Path) -> None:
    with pytest.raises(ConfigError) as info:
        config.require_key(config.load())
    assert "CLAUDE_SYNC_API_KEY" in info.value.message
    assert str(home / ".env") in (info.value.advice or "")
