"""Settings precedence (flag > env > --env-file > <home>/.env > default; never ./.env) and
secrets that never show."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from conftest import CLI, SECRET_KEY, write_snapshot

from consolescrape import config
from consolescrape.errors import ConfigError, UsageError

# Views, parsing and JSON run in this process; run, sync and login in their own (inprocess.py).
pytestmark = pytest.mark.inprocess


def test_defaults_when_nothing_is_set(home: Path) -> None:
    settings = config.load()
    assert settings.home == home
    assert settings.sync_url == config.DEFAULT_SYNC_URL
    assert settings.usage_url == "https://claude.ai/settings/usage"
    assert settings.api_key is None
    assert settings.timeout == 90 and settings.sync_deadline == 60
    assert settings.model_row == "Sonnet"
    assert settings.profile == home / "profile"


def home_dotenv(home: Path, text: str) -> Path:
    home.mkdir(exist_ok=True)
    path = home / ".env"
    path.write_text(text)
    return path


def test_flag_beats_env_beats_dotenv_beats_default(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home_dotenv(
        home, "CONSOLESCRAPE_TIMEOUT=30\nCLAUDE_SYNC_DEADLINE=20\nCONSOLESCRAPE_MODEL_ROW=Fable\n"
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
    home_dotenv(home, "CONSOLESCRAPE_MODEL_ROW=Opus\n")
    other = tmp_path / "other.env"
    other.write_text("CONSOLESCRAPE_MODEL_ROW=Fable\n")
    assert config.load(env_file=other).model_row == "Fable"
    with pytest.raises(UsageError, match=r"no such file"):
        config.load(env_file=tmp_path / "missing.env")


def test_dotenv_does_not_leak_into_the_process_environment(home: Path, tmp_path: Path) -> None:
    import os

    home_dotenv(home, f"CLAUDE_SYNC_API_KEY={SECRET_KEY}\n")
    assert config.load().api_key is not None
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
    home_dotenv(home, f"CLAUDE_SYNC_API_KEY={SECRET_KEY}\nCONSOLESCRAPE_TIMEOUT=30\n")
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
    flags = {"sync_url": url, "allow_insecure": insecure}
    if ok:
        config.check_sync_target(config.load(flags))
    else:
        # Not an http(s) URL: refused when loaded; plain http to a remote host: when sending.
        with pytest.raises(ConfigError):
            config.check_sync_target(config.load(flags))


def test_missing_key_error_names_the_variable_and_where_to_put_it(home: Path) -> None:
    with pytest.raises(ConfigError) as info:
        config.require_key(config.load())
    assert "CLAUDE_SYNC_API_KEY" in info.value.message
    assert str(home / ".env") in (info.value.advice or "")


# --- settings from outside are bounded and checked before anything runs ---------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CONSOLESCRAPE_TIMEOUT", "inf"),
        ("CONSOLESCRAPE_TIMEOUT", "1e12"),
        ("CONSOLESCRAPE_TIMEOUT", "nan"),
        ("CONSOLESCRAPE_TIMEOUT", "-5"),
        ("CLAUDE_SYNC_DEADLINE", "1e12"),
        ("CLAUDE_SYNC_DEADLINE", "nan"),
        ("CONSOLESCRAPE_OUTBOX_CAP", "-1"),
    ],
)
def test_numbers_out_of_range_are_exit_7_naming_the_setting_and_the_range(
    cli: CLI, home: Path, tmp_path: Path, name: str, value: str
) -> None:
    data = write_snapshot(tmp_path / "usage-data.json")
    env = {
        "CLAUDE_SYNC_URL": "http://127.0.0.1:9/x",
        "CLAUDE_SYNC_API_KEY": SECRET_KEY,
        name: value,
    }
    result = cli("sync", "--file", str(data), "--json", env=env)
    assert result.code == 7, result.stderr
    assert name in result.stderr and "–" in result.stderr, "name the setting and its range"
    assert result.json["error"]["advice"].startswith(f"set {name} to 1–")


def test_a_flag_beyond_the_bound_is_refused_like_the_variable(cli: CLI, home: Path) -> None:
    result = cli("run", "--timeout", "1e12")
    assert result.code in (2, 7), result.stderr
    assert "3600" in result.stderr
    assert not (home / "profile").exists()


def test_a_key_with_a_line_break_is_a_config_error_not_a_retried_failure(
    cli: CLI, home: Path, tmp_path: Path
) -> None:
    data = write_snapshot(tmp_path / "usage-data.json")
    env = {"CLAUDE_SYNC_URL": "http://127.0.0.1:9/x", "CLAUDE_SYNC_DEADLINE": "30"}
    home_dotenv(home, f'CLAUDE_SYNC_API_KEY="{SECRET_KEY}\\nX-Evil: 1"\n')
    started = time.monotonic()
    result = cli("sync", "--file", str(data), env=env)
    assert result.code == 7, result.stderr
    assert time.monotonic() - started < 10, "nothing to retry: the key itself is wrong"
    assert "CLAUDE_SYNC_API_KEY" in result.stderr and "control character" in result.stderr


def test_a_sync_url_with_a_password_is_refused_and_the_password_never_shown(
    cli: CLI, home: Path, tmp_path: Path
) -> None:
    (home / "profile").mkdir(parents=True, mode=0o700)
    data = write_snapshot(tmp_path / "usage-data.json")
    env = {
        "CLAUDE_SYNC_URL": "https://alice:hunter2secret@usage.example.com/api",
        "CLAUDE_SYNC_API_KEY": SECRET_KEY,
    }
    result = cli("sync", "--file", str(data), "--json", env=env)
    assert result.code == 7
    assert "user name or password" in result.stderr
    doctor = cli("doctor", "--verbose", "--json", env=env)
    assert doctor.code == 9
    assert "✗ sync URL" in doctor.stderr
    for output in (result.stdout, result.stderr, doctor.stdout, doctor.stderr):
        assert "hunter2secret" not in output


@pytest.mark.parametrize("url", ["file:///etc/passwd", "data:text/html,<p>0% used</p>", "about:x"])
def test_a_usage_url_that_is_not_http_is_refused_before_any_browser(
    cli: CLI, home: Path, url: str
) -> None:
    (home / "profile").mkdir(parents=True, mode=0o700)
    flag = cli("run", "--url", url)
    assert flag.code == 7, flag.stderr
    assert "--url" in flag.stderr and "http(s)" in flag.stderr
    env = cli("run", env={"CONSOLESCRAPE_USAGE_URL": url})
    assert env.code == 7 and "CONSOLESCRAPE_USAGE_URL" in env.stderr
    assert not (home / "usage-data.json").exists()


def test_a_dotenv_that_is_not_utf8_is_a_config_error_naming_the_file(
    cli: CLI, home: Path, tmp_path: Path
) -> None:
    home.mkdir()
    (home / ".env").write_bytes(b"CONSOLESCRAPE_MODEL_ROW=Caf\xe9\n")
    result = cli("status")
    assert result.code == 7, result.stderr
    assert str(home / ".env") in result.stderr and "UTF-8" in result.stderr


def test_a_home_flag_with_a_literal_tilde_finds_its_dotenv(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """cron's sh leaves `--home=~/x` as typed: the home and its .env are both found."""
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "acct").mkdir()
    (tmp_path / "acct" / ".env").write_text("CONSOLESCRAPE_MODEL_ROW=Fable\n")
    settings = config.load({"home": Path("~/acct")})
    assert settings.home == tmp_path / "acct" and settings.model_row == "Fable"


def test_login_timeout_is_bounded(cli: CLI) -> None:
    for bad in ("inf", "0", "1e12"):
        result = cli("login", "--timeout", bad)
        assert result.code == 2 and "--timeout" in result.stderr


def test_the_working_directorys_dotenv_is_never_read(home: Path, tmp_path: Path) -> None:
    """cron starts in $HOME: another project's ~/.env must not replace <home>/.env."""
    (tmp_path / ".env").write_text("CLAUDE_SYNC_API_KEY=wrong\nCONSOLESCRAPE_MODEL_ROW=Opus\n")
    assert Path.cwd() == tmp_path
    settings = config.load()
    assert settings.api_key is None and settings.model_row == "Sonnet"
    assert settings.env_file is None
    home_dotenv(home, f"CLAUDE_SYNC_API_KEY={SECRET_KEY}\n")
    settings = config.load({"home": home})
    assert settings.api_key is not None and settings.api_key.reveal() == SECRET_KEY
    assert settings.env_file == home / ".env" and settings.model_row == "Sonnet"


def test_the_missing_key_advice_names_the_env_file_actually_read(
    home: Path, tmp_path: Path
) -> None:
    other = tmp_path / "account.env"
    other.write_text("CONSOLESCRAPE_MODEL_ROW=Fable\n")
    with pytest.raises(ConfigError) as info:
        config.require_key(config.load(env_file=other))
    assert str(other) in (info.value.advice or "")
    assert str(home / ".env") not in (info.value.advice or "") and "./.env" not in str(
        info.value.advice
    )


@pytest.mark.parametrize(
    ("name", "value", "advice"),
    [
        ("CONSOLESCRAPE_PARTIAL", "maybe", "set CONSOLESCRAPE_PARTIAL to send or hold"),
        ("CONSOLESCRAPE_ORG", "Acme\x07Corp", "set CONSOLESCRAPE_ORG to the uuid or the name"),
    ],
)
def test_partial_policy_and_organization_pin_are_checked_when_loaded(
    cli: CLI, home: Path, tmp_path: Path, name: str, value: str, advice: str
) -> None:
    data = write_snapshot(tmp_path / "usage-data.json")
    env = {"CLAUDE_SYNC_URL": "http://127.0.0.1:9/x", "CLAUDE_SYNC_API_KEY": SECRET_KEY}
    result = cli("sync", "--file", str(data), "--json", env={**env, name: value})
    assert result.code == 7, result.stderr
    assert name in result.stderr
    assert result.json["error"]["advice"].startswith(advice)


def test_partial_policy_and_organization_pin_defaults(home: Path) -> None:
    settings = config.load({}, environ={"CONSOLESCRAPE_HOME": str(home)})
    assert (settings.partial, settings.org) == ("send", None)
    pinned = config.load(
        {}, environ={"CONSOLESCRAPE_PARTIAL": " HOLD ", "CONSOLESCRAPE_ORG": "  Acme   Corp "}
    )
    assert (pinned.partial, pinned.org) == ("hold", "Acme Corp")


@pytest.mark.parametrize(
    ("word", "value"),
    [(w, True) for w in ("true", "1", "yes", "on", "TRUE", " On ")]
    + [(w, False) for w in ("false", "0", "no", "off", "No")],
)
def test_a_boolean_takes_the_usual_words(home: Path, word: str, value: bool) -> None:
    settings = config.load(environ={"CLAUDE_SYNC_ALLOW_INSECURE": word})
    assert settings.allow_insecure is value


def test_a_boolean_that_is_not_one_is_exit_7_naming_what_is_allowed(cli: CLI, home: Path) -> None:
    result = cli("run", env={"CLAUDE_SYNC_ALLOW_INSECURE": "maybe"})
    assert result.code == 7
    assert "CLAUDE_SYNC_ALLOW_INSECURE='maybe'" in result.stderr
    assert "true, false, 1, 0, yes, no, on, off" in result.stderr
    assert not (home / "usage-data.json").exists(), "refused before anything ran"


@pytest.mark.parametrize("name", ["CONSOLESCRAPE_HEALTHCHECK_URL", "CLAUDE_SYNC_URL"])
@pytest.mark.parametrize("url", ["notaurl", "ftp://host/x", "https://", "mailto:me@example.com"])
def test_a_url_setting_must_be_http_with_a_host(cli: CLI, home: Path, name: str, url: str) -> None:
    result = cli("status", env={name: url})
    assert result.code == 7, result.stderr
    assert f"{name}={url!r} is not an http(s) URL with a host" in result.stderr
    assert "fix: set " + name in result.stderr
    assert result.stdout == ""


def test_a_bad_url_never_shows_its_password(cli: CLI, home: Path) -> None:
    result = cli("status", "--json", env={"CONSOLESCRAPE_HEALTHCHECK_URL": "ftp://u:s3cr3t@h/x"})
    assert result.code == 7
    assert "s3cr3t" not in result.stdout + result.stderr
    assert "CONSOLESCRAPE_HEALTHCHECK_URL" in result.json["error"]["message"]


def test_the_key_value_is_never_in_a_settings_error(cli: CLI, home: Path) -> None:
    result = cli("status", "--json", env={"CLAUDE_SYNC_API_KEY": SECRET_KEY + "\n2"})
    assert result.code == 7 and "CLAUDE_SYNC_API_KEY" in result.json["error"]["message"]


def test_a_profile_dir_that_is_a_file_says_so(cli: CLI, home: Path, tmp_path: Path) -> None:
    afile = tmp_path / "passwd"
    afile.write_text("root:x:0:0\n")
    result = cli("run", env={"CONSOLESCRAPE_PROFILE_DIR": str(afile)})
    assert result.code == 7
    assert "is a file, not a directory" in result.stderr and "does not exist" not in result.stderr


def test_a_flag_out_of_range_is_named_as_typed(cli: CLI, home: Path) -> None:
    result = cli("run", "--timeout", "5000")
    assert result.code == 7
    assert "--timeout 5000 is out of range" in result.stderr
    assert "CONSOLESCRAPE_TIMEOUT" not in result.stderr and "5000.0" not in result.stderr
    env = cli("run", env={"CONSOLESCRAPE_TIMEOUT": "5000"})
    assert env.code == 7 and "CONSOLESCRAPE_TIMEOUT='5000' is out of range" in env.stderr


def test_a_misspelt_variable_is_warned_about_with_the_name_it_meant(cli: CLI, home: Path) -> None:
    home.mkdir(parents=True, mode=0o700)
    (home / ".env").write_text("CONSOLESCRAPE_TIMOUT=30\n")
    (home / ".env").chmod(0o600)
    result = cli("run", "--no-sync", env={"CLAUDE_SYNC_APIKEY": SECRET_KEY})
    assert result.code == 3  # no profile yet: the run itself goes on as before
    assert (
        "warning: CLAUDE_SYNC_APIKEY (in the environment) is not a consolescrape setting and is "
        "ignored: did you mean CLAUDE_SYNC_API_KEY?" in result.stderr
    )
    assert f"CONSOLESCRAPE_TIMOUT (in {home / '.env'})" in result.stderr
    assert "did you mean CONSOLESCRAPE_TIMEOUT?" in result.stderr
    doctor = cli("doctor", env={"CLAUDE_SYNC_APIKEY": SECRET_KEY})
    assert "! setting names: CLAUDE_SYNC_APIKEY" in doctor.stdout
    assert "fix: rename CLAUDE_SYNC_APIKEY to CLAUDE_SYNC_API_KEY in the environment" in (
        doctor.stdout
    )
    (home / ".env").unlink()
    assert "✓ setting names" in cli("doctor").stdout
