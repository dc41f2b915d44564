"""template.conf parsing, the directory readers and the validation rules, without a database."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from services.api.schemas.templates import FileInput, PackageInput, ScriptInput
from shared.domain.templates import rules
from shared.domain.templates.discovery import (
    TemplateError,
    parse_conf,
    parse_package_line,
    read_files,
    read_scripts,
    scan,
    spec_from_conf,
)
from shared.domain.templates.specs import (
    SETTINGS,
    PackageSpec,
    ScriptSpec,
    TemplateSpec,
    merge_packages,
)


def test_conf_values_quotes_comments_and_default_expansions() -> None:
    conf = parse_conf(
        "# comment\n"
        "\n"
        'TEMPLATE_APP="My App"\n'
        "TEMPLATE_TAGS='a;b'\n"
        'TEMPLATE_CPU="${TEMPLATE_CPU:-4}"\n'
        "TEMPLATE_RAM=${TEMPLATE_RAM-2048}\n"
        "TEMPLATE_DISK=20  # GB\n"
        'export TEMPLATE_OS="debian" # trailing comment\n'
        "TEMPLATE_VERSION=\n"
    )
    assert conf == {
        "TEMPLATE_APP": "My App",
        "TEMPLATE_TAGS": "a;b",
        "TEMPLATE_CPU": "4",
        "TEMPLATE_RAM": "2048",
        "TEMPLATE_DISK": "20",
        "TEMPLATE_OS": "debian",
        "TEMPLATE_VERSION": "",
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not an assignment\n", "line 1: not a KEY=value"),
        ('TEMPLATE_APP="x\n', "unterminated"),
        ('TEMPLATE_APP="x" y\n', "after the closing quote"),
        ("TEMPLATE_APP=two words\n", "quote values"),
        ('TEMPLATE_CPU="$(nproc)"\n', "expansions are supported"),
        ("TEMPLATE_CPU=${OTHER}\n", "expansions are supported"),
        ("TEMPLATE_CPU=`nproc`\n", "expansions are supported"),
    ],
)
def test_malformed_conf_lines_are_refused(text: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message.replace("(", r"\(")):
        parse_conf(text)


def test_conf_to_spec_with_defaults() -> None:
    spec = spec_from_conf("dir-name", {})
    settings = spec.settings
    assert spec.name == "dir-name"
    assert [settings[k] for k in ("cores", "memory", "swap", "disk")] == [1, 512, 512, 8]
    assert settings["os_template"] == "debian-12-standard"
    assert [settings[k] for k in ("unprivileged", "nesting", "keyctl", "fuse")] == [
        True,
        False,
        False,
        False,
    ]
    full = spec_from_conf(
        "d",
        {
            "TEMPLATE_APP": "app",
            "TEMPLATE_TAGS": "web; db ;;",
            "TEMPLATE_RAM": "4096",
            "TEMPLATE_OS": "ubuntu",
            "TEMPLATE_VERSION": "24.04",
            "TEMPLATE_FUSE": "true",
        },
    )
    assert full.name == "app" and full.settings["tags"] == ("web", "db")
    assert full.settings["memory"] == full.settings["swap"] == 4096
    assert full.settings["os_template"] == "ubuntu-24.04-standard" and full.settings["fuse"]


@pytest.mark.parametrize(
    ("conf", "message"),
    [
        ({"TEMPLATE_CPU": "0"}, "TEMPLATE_CPU"),
        ({"TEMPLATE_CPU": "65"}, "TEMPLATE_CPU"),
        ({"TEMPLATE_RAM": "127"}, "TEMPLATE_RAM"),
        ({"TEMPLATE_RAM": "lots"}, "TEMPLATE_RAM"),
        ({"TEMPLATE_DISK": "10001"}, "TEMPLATE_DISK"),
        ({"TEMPLATE_NESTING": "maybe"}, "TEMPLATE_NESTING"),
        ({"TEMPLATE_TAGS": "ok;not ok"}, "TEMPLATE_TAGS"),
        ({"TEMPLATE_APP": "x" * 101}, "TEMPLATE_APP"),
        ({"TEMPLATE_DESCRIPTION": "d" * 501}, "TEMPLATE_DESCRIPTION"),
        ({"TEMPLATE_OS": "../etc"}, "TEMPLATE_OS"),
    ],
)
def test_conf_values_obey_the_api_limits(conf: dict[str, str], message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        spec_from_conf("d", conf)


@pytest.mark.parametrize(
    ("manager", "line", "expected"),
    [
        ("apt", "nginx", PackageSpec("nginx", "apt")),
        ("apt", "libc6=2.36-9", PackageSpec("libc6", "apt", "2.36-9")),
        ("pip", "Flask==3.0.3", PackageSpec("Flask", "pip", "3.0.3")),
        ("pip", "zope.interface", PackageSpec("zope.interface", "pip")),
        ("npm", "pm2", PackageSpec("pm2", "npm")),
        ("npm", "@scope/pkg", PackageSpec("@scope/pkg", "npm")),
        ("npm", "@scope/pkg@2.0.0", PackageSpec("@scope/pkg", "npm", "2.0.0")),
    ],
)
def test_package_lines(manager: str, line: str, expected: PackageSpec) -> None:
    assert parse_package_line(manager, line) == expected


@pytest.mark.parametrize(
    ("manager", "line"),
    [
        ("apt", "Nginx"),
        ("apt", "x"),
        ("apt", "nginx curl"),
        ("apt", "nginx=1 2"),
        ("pip", "-r requirements.txt"),
        ("pip", "flask>=3"),
        ("npm", "UPPER"),
        ("npm", "pkg@$(id)"),
    ],
)
def test_bad_package_lines(manager: str, line: str) -> None:
    with pytest.raises(TemplateError):
        parse_package_line(manager, line)


@pytest.mark.parametrize(
    ("path", "ok"),
    [
        ("/etc/nginx/nginx.conf", True),
        ("/opt/.hidden/..data", True),
        ("/", False),
        ("etc/x", False),
        ("/etc/../x", False),
        ("/etc/./x", False),
        ("/etc//x", False),
        ("/etc/x/", False),
        ("/a/..", False),
        ("/new\nline", False),
    ],
)
def test_target_paths_are_absolute_and_normalized(path: str, ok: bool) -> None:
    assert rules.matches(rules.TARGET_PATH, path) is ok


def test_patterns_reach_the_api_schemas() -> None:
    """The API rejects exactly what the rules reject (the spec publishes the same patterns)."""
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"name": "f", "targetPath": "/etc/../x"}, FileInput)
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"name": "..", "order": 1}, ScriptInput)
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"manager": "apt", "name": "UPPER"}, PackageInput)
    package = msgspec.convert({"manager": "pip", "name": "UPPER"}, PackageInput)
    assert package.name == "UPPER"


def test_specs_normalize_to_a_canonical_form() -> None:
    spec = TemplateSpec(
        name="t",
        settings={"tags": ["a", "b", "a"]},
        scripts=(ScriptSpec("b.sh", 1, ""), ScriptSpec("a.sh", 1, ""), ScriptSpec("c.sh", 0, "")),
        packages=(PackageSpec("x", "pip"), PackageSpec("x", "apt"), PackageSpec("x", "pip", "1")),
    ).normalized()
    assert spec.settings == {"tags": ("a", "b")}
    assert [s.name for s in spec.scripts] == ["c.sh", "a.sh", "b.sh"]
    assert spec.packages == (PackageSpec("x", "apt"), PackageSpec("x", "pip"))
    assert merge_packages([PackageSpec("x", "apt", "1")], [PackageSpec("x", "apt", "2")]) == [
        PackageSpec("x", "apt", "1")
    ]


def test_script_and_file_readers(tmp_path: Path) -> None:
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "10-b.sh").write_text("b")
    (tmp_path / "scripts" / "2-a.sh").write_text("a")
    (tmp_path / "scripts" / "notes.txt").write_text("ignored")
    assert [(s.name, s.order) for s in read_scripts(tmp_path)] == [("10-b.sh", 10), ("2-a.sh", 2)]
    (tmp_path / "scripts" / "install.sh").write_text("no number")
    with pytest.raises(TemplateError, match=r"install\.sh"):
        read_scripts(tmp_path)

    files = tmp_path / "files"
    files.mkdir()
    (files / "a.conf").write_text("x")
    (files / "a.conf.path").write_text("/etc/a\n")
    (files / "a.conf.mode").write_text("600")
    (files / "a.conf.owner").write_text("app:app")
    (read,) = read_files(tmp_path)
    assert (read.target_path, read.mode, read.owner, read.policy) == (
        "/etc/a/a.conf",
        "600",
        "app:app",
        "replace",
    )
    (files / "a.conf.policy").write_text("merge")
    with pytest.raises(TemplateError, match="merge"):
        read_files(tmp_path)
    (files / "a.conf.policy").write_text("backup")
    (files / "a.conf.path").write_text("../relative")
    with pytest.raises(TemplateError, match="not an absolute"):
        read_files(tmp_path)
    (files / "a.conf.path").write_text("/etc/a")
    (files / "ghost.path").write_text("/etc")
    with pytest.raises(TemplateError, match="no file 'ghost'"):
        read_files(tmp_path)


def test_non_utf8_and_nul_content_is_refused(tmp_path: Path) -> None:
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "10-x.sh").write_bytes(b"\xff\xfe")
    with pytest.raises(TemplateError, match="not UTF-8"):
        read_scripts(tmp_path)
    (tmp_path / "scripts" / "10-x.sh").write_bytes(b"a\x00b")
    with pytest.raises(TemplateError, match="NUL"):
        read_scripts(tmp_path)


def test_the_shipped_example_is_valid() -> None:
    found = scan(Path(__file__).resolve().parents[2] / "templates")
    assert found.errors == []
    web = next(t for t in found.templates if t.spec.name == "web-basic")
    assert [s.name for s in web.spec.scripts] == ["10-status-password.sh", "20-enable-nginx.sh"]
    assert "save_credential" in web.spec.scripts[0].content
    assert "systemctl enable nginx" in web.spec.scripts[1].content
    assert {f.policy for f in web.spec.files} >= {"default"}
    assert PackageSpec("nginx", "apt") in web.spec.packages


def test_spec_settings_are_the_model_columns() -> None:
    """A template's settings are read off the model: identity and bookkeeping are not among
    them, and a value that is no column is refused rather than dropped."""
    assert "cores" in SETTINGS and "tags" in SETTINGS
    assert not {"id", "name", "revision", "source", "created_at"} & set(SETTINGS)
    spec = TemplateSpec(name="t", settings={"cores": 1})
    changed = spec.with_values({"name": "u", "cores": 2, "scripts": (ScriptSpec("a.sh", 1, ""),)})
    assert (changed.name, changed.settings, len(changed.scripts)) == ("u", {"cores": 2}, 1)
    assert changed.values()["cores"] == 2 and changed.values()["name"] == "u"
    with pytest.raises(ValueError, match="not a template setting: colour"):
        spec.with_values({"colour": "red"})


def test_the_create_schema_and_the_model_name_the_same_settings() -> None:
    """The field list lives in the model and `TemplateCreate`: a field added to one alone
    would be a 500 at every create (no column) or silently absent from answers (no field)."""
    from services.api.schemas.templates import TemplateCreate

    structure = {"name", "scripts", "files", "packages", "bucket_ids"}
    assert set(TemplateCreate.__struct_fields__) - structure == set(SETTINGS)
