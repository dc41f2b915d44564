"""Settings come from the environment and fail with one line naming the variable."""

from __future__ import annotations

import pytest

from shared.core.settings import SettingsError, load_settings


def test_defaults_need_no_environment() -> None:
    settings = load_settings({})
    assert settings.database_url is None and settings.redis_url is None
    assert (settings.api_host, settings.api_port, settings.data_dir) == ("127.0.0.1", 8000, ".data")


def test_values_are_parsed_from_strings() -> None:
    settings = load_settings(
        {
            "API_PORT": "9000",
            "WORKER_HEARTBEAT_SECONDS": "2.5",
            "LOG_LEVEL": "debug",
            "REDIS_URL": "redis://cache:6379/1",
            "DATABASE_URL": "postgres://u:p@db/infrahaus",
        }
    )
    assert settings.api_port == 9000
    assert settings.worker_heartbeat_seconds == 2.5
    assert settings.worker_heartbeat_ttl == 7.5
    assert settings.sqlalchemy_url == "postgresql+asyncpg://u:p@db/infrahaus"


def test_empty_variables_count_as_unset() -> None:
    assert load_settings({"REDIS_URL": "", "DATABASE_URL": ""}).redis_url is None


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"REDIS_URL": "nonsense"}, "REDIS_URL: not a redis:// URL"),
        ({"DATABASE_URL": "mysql://x/y"}, "DATABASE_URL: not a postgresql:// URL"),
        ({"API_PORT": "70000"}, "API_PORT: not a TCP port (1-65535)"),
        ({"API_PORT": "eighty"}, "API_PORT: not a TCP port (1-65535)"),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL: must be one of debug, info, warning, error"),
        ({"WORKER_HEARTBEAT_SECONDS": "0"}, "WORKER_HEARTBEAT_SECONDS: not a positive number"),
        ({"QUEUE_NAME": "has space"}, "QUEUE_NAME: letters, digits"),
    ],
)
def test_bad_values_name_the_variable(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(environ)
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


def test_overrides_win_over_environment() -> None:
    settings = load_settings({"API_PORT": "9000"}, api_port=9100)
    assert settings.api_port == 9100


def test_trusted_proxies_are_addresses_or_networks() -> None:
    from shared.core.settings import SettingsError, load_settings

    assert load_settings({}).trusted_proxy_list == []
    good = load_settings({"TRUSTED_PROXIES": "10.0.0.1, 192.168.0.0/16,::1"})
    assert good.trusted_proxy_list == ["10.0.0.1", "192.168.0.0/16", "::1"]
    try:
        _ = load_settings({"TRUSTED_PROXIES": "10.0.0.300"}).trusted_proxy_list
    except SettingsError as exc:
        assert str(exc) == "TRUSTED_PROXIES: '10.0.0.300' is not an IP address or network"
    else:
        raise AssertionError("accepted a bad proxy address")


def test_a_required_setting_that_is_not_set_names_itself_and_the_hint() -> None:
    settings = load_settings({"REDIS_URL": "redis://127.0.0.1:6379/0"})
    assert settings.required("REDIS_URL") == "redis://127.0.0.1:6379/0"
    with pytest.raises(SettingsError, match=r"^DATABASE_URL: is not set \(`make run`\)$"):
        settings.required("DATABASE_URL", "`make run`")
    with pytest.raises(SettingsError, match=r"^SECRET_KEYS: is not set$"):
        settings.required("SECRET_KEYS")
