"""Settings from config.yaml and the environment; the injectable clock."""

from datetime import UTC, datetime, timedelta

import pytest

from engine.clock import FrozenClock, parse_instant
from engine.errors import ConfigError
from engine.settings import PROJECT_ROOT, load_settings


def test_defaults_come_from_config_yaml():
    settings = load_settings(environ={})
    assert settings["database_url"] == f"sqlite:///{PROJECT_ROOT / 'instance' / 'tawasul.db'}"
    assert settings["sandbox"]["time_limit_ms"] == 1000


def test_environment_overrides_nested_keys():
    settings = load_settings(
        environ={
            "TAWASUL_DATABASE_URL": "postgresql://tawasul@127.0.0.1:5432/tawasul",
            "TAWASUL_SANDBOX__TIME_LIMIT_MS": "250",
        }
    )
    # plain postgresql:// is pointed at psycopg 3, the driver installed
    assert settings["database_url"] == "postgresql+psycopg://tawasul@127.0.0.1:5432/tawasul"
    assert settings["sandbox"]["time_limit_ms"] == 250


def test_missing_or_broken_config_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_settings(environ={"TAWASUL_CONFIG": str(tmp_path / "none.yaml")})
    broken = tmp_path / "broken.yaml"
    broken.write_text("database_url: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(environ={"TAWASUL_CONFIG": str(broken)})


def test_relative_sqlite_path_is_relative_to_the_config_file(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("database_url: sqlite:///data/x.db\n")
    settings = load_settings(environ={"TAWASUL_CONFIG": str(config)})
    assert settings["database_url"] == f"sqlite:///{tmp_path / 'data' / 'x.db'}"


def test_frozen_clock_moves_only_when_told():
    clock = FrozenClock(datetime(2026, 12, 1, 8, tzinfo=UTC))
    assert clock.now() == datetime(2026, 12, 1, 8, tzinfo=UTC)
    assert clock.advance(days=14) == datetime(2026, 12, 15, 8, tzinfo=UTC)
    clock.set(datetime(2027, 1, 1))  # naive means UTC
    assert clock.now().tzinfo is UTC
    assert clock.now() - datetime(2026, 12, 31, tzinfo=UTC) == timedelta(days=1)


def test_parse_instant_accepts_z_and_offsets_and_names_bad_text():
    assert parse_instant("2026-12-01T08:00:00Z") == datetime(2026, 12, 1, 8, tzinfo=UTC)
    assert parse_instant("2026-12-01T11:00:00+03:00") == datetime(2026, 12, 1, 8, tzinfo=UTC)
    with pytest.raises(ValueError, match="'tomorrow'"):
        parse_instant("tomorrow")
