"""No Docker engine runs here, so the compose file is checked as data: the service graph,
healthchecks, and that every environment variable it sets is a real setting."""

from __future__ import annotations

from pathlib import Path

import msgspec
import yaml

from shared.core.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
SETTING_NAMES = {field.name.upper() for field in msgspec.structs.fields(Settings)}


def _compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_backing_services_have_healthchecks() -> None:
    services = _compose()["services"]
    for name in ("postgres", "redis", "api"):
        assert services[name]["healthcheck"]["test"], name


def test_migrate_gates_api_and_worker() -> None:
    services = _compose()["services"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["migrate"]["command"][-1] == "shared.db.migrate"
    for name in ("api", "worker"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["redis"]["condition"] == "service_healthy", name


def test_commands_name_modules_that_exist() -> None:
    checked = set()
    for name, service in _compose()["services"].items():
        command = service.get("command", [])
        if command[:2] == ["python", "-m"]:
            module = ROOT.joinpath(*command[2].split("."))
            assert (module.with_suffix(".py")).exists() or (module / "__main__.py").exists(), name
            checked.add(name)
    # Not vacuous: every service of ours runs a module, and each was looked at.
    assert checked == {"migrate", "api", "worker", "pvesim"}


def test_environment_names_are_settings_and_values_are_valid() -> None:
    for name, service in _compose()["services"].items():
        if name in ("postgres", "redis", "pvesim"):
            continue
        environment = {
            k: str(v)
            for k, v in service["environment"].items()
            if not str(v).startswith("${")  # supplied by the operator at `docker compose up`
        }
        assert set(environment) <= SETTING_NAMES, (
            f"{name}: unknown {set(environment) - SETTING_NAMES}"
        )
        settings = load_settings(environment)  # raises on any invalid value
        assert settings.database_url and settings.redis_url


def test_the_simulator_is_only_in_the_demo_profile() -> None:
    services = _compose()["services"]
    assert services["pvesim"]["profiles"] == ["demo"]
    assert services["pvesim"]["command"][2] == "services.pvesim"
    assert all("profiles" not in services[name] for name in ("api", "worker", "migrate"))


def test_long_running_services_restart_and_the_one_shot_does_not() -> None:
    services = _compose()["services"]
    for name in ("postgres", "redis", "api", "worker"):
        assert services[name].get("restart") == "unless-stopped", name
    assert services["migrate"]["restart"] == "no"
