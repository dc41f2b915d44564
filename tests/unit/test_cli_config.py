"""The CLI's stored login: private file, URL precedence, the token kept to its own API."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from services.cli import config
from services.cli.api import Api, CliError


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("INFRAHAUS_CONFIG_DIR", str(tmp_path / "infrahaus"))
    monkeypatch.delenv("INFRAHAUS_URL", raising=False)
    return tmp_path / "infrahaus"


def test_the_file_is_private_even_when_it_was_not(config_dir: Path) -> None:
    config_dir.mkdir()
    path = config_dir / "config.json"
    path.write_text("{}")
    os.chmod(path, 0o644)
    config.save({"apiUrl": "http://api.example:8000", "token": "t0ken"})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert config.load()["token"] == "t0ken"
    assert not [p for p in config_dir.iterdir() if p.name != "config.json"]  # no scratch left


def test_a_new_directory_is_private(config_dir: Path) -> None:
    config.save({"token": "x"})
    assert stat.S_IMODE(config_dir.stat().st_mode) == 0o700


def test_url_precedence(config_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert config.api_url(None) == config.DEFAULT_API_URL
    config.save({"apiUrl": "http://stored:1/"})
    assert config.api_url(None) == "http://stored:1"
    monkeypatch.setenv("INFRAHAUS_URL", "http://env:2")
    assert config.api_url(None) == "http://env:2"
    assert config.api_url("http://flag:3/") == "http://flag:3"


def test_a_token_goes_only_to_the_api_that_issued_it(config_dir: Path) -> None:
    config.save({"apiUrl": "http://issuer:8000", "token": "secret-token"})
    same = Api.from_config(None)
    assert same.http.headers["Authorization"] == "Bearer secret-token"
    same.close()
    with pytest.raises(CliError, match="Not logged in"):
        Api.from_config("http://elsewhere:8000")


def test_logout_forgets_the_token_and_keeps_the_url(config_dir: Path) -> None:
    config.save({"apiUrl": "http://issuer:8000", "token": "t", "user": {"id": "u"}})
    assert config.forget_token() is True
    assert config.load() == {"apiUrl": "http://issuer:8000"}
    assert config.forget_token() is False
