"""Bodies of the template and bucket routes. Every limit comes from `shared.domain.templates.rules`,
so the spec publishes exactly what the services and the discovery enforce."""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import Annotated, Any, Literal, get_type_hints

import msgspec

from services.api.schemas import CamelStruct
from shared.domain.templates import rules
from shared.domain.templates.specs import FileSpec, PackageSpec, ScriptSpec

TemplateName = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=rules.NAME_MAX,
        pattern=rules.TEMPLATE_NAME,
        description="Unique name; printable characters.",
        examples=["web-basic"],
    ),
]
BucketName = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=rules.NAME_MAX,
        pattern=rules.TEMPLATE_NAME,
        description="Unique name; printable characters.",
        examples=["web-basic/base"],
    ),
]
Description = Annotated[str, msgspec.Meta(max_length=rules.DESCRIPTION_MAX, pattern=rules.TEXT)]
OsTemplate = Annotated[
    str,
    msgspec.Meta(
        pattern=rules.OS_TEMPLATE,
        description="A vztmpl volume id, or the start of one's file name "
        "(`debian-12-standard`), which the build resolves on the node.",
        examples=["debian-12-standard"],
    ),
]
Cores = Annotated[int, msgspec.Meta(ge=rules.CORES[0], le=rules.CORES[1])]
MemoryMb = Annotated[
    int, msgspec.Meta(ge=rules.MEMORY_MB[0], le=rules.MEMORY_MB[1], description="MB")
]
SwapMb = Annotated[int, msgspec.Meta(ge=rules.SWAP_MB[0], le=rules.SWAP_MB[1], description="MB")]
DiskGb = Annotated[int, msgspec.Meta(ge=rules.DISK_GB[0], le=rules.DISK_GB[1], description="GB")]
StorageId = Annotated[str, msgspec.Meta(pattern=rules.STORAGE, examples=["local-lvm"])]
BridgeName = Annotated[str, msgspec.Meta(pattern=rules.BRIDGE, examples=["vmbr0"])]
Tag = Annotated[str, msgspec.Meta(pattern=rules.TAG, examples=["web"])]
Tags = Annotated[list[Tag], msgspec.Meta(max_length=rules.TAGS_MAX)]
SafeFileName = Annotated[
    str,
    msgspec.Meta(
        pattern=rules.SAFE_FILE_NAME,
        description="Safe as a file name: letters, digits, `.`, `_`, `-`; not starting with `.`.",
        examples=["10-install.sh"],
    ),
]
Content = Annotated[str, msgspec.Meta(max_length=rules.CONTENT_MAX, pattern=rules.TEXT)]
ScriptOrder = Annotated[int, msgspec.Meta(ge=rules.SCRIPT_ORDER[0], le=rules.SCRIPT_ORDER[1])]
TargetPath = Annotated[
    str,
    msgspec.Meta(
        max_length=rules.TARGET_PATH_MAX,
        pattern=rules.TARGET_PATH,
        description="Absolute and normalized: no empty, `.` or `..` segments, no trailing `/`.",
        examples=["/etc/nginx/sites-available/default"],
    ),
]
FileMode = Annotated[
    str, msgspec.Meta(pattern=rules.FILE_MODE, description="Octal permissions.", examples=["0644"])
]
Owner = Annotated[
    str, msgspec.Meta(pattern=rules.OWNER, description="`user[:group]`", examples=["root:root"])
]


class FilePolicy(StrEnum):
    """What happens to a file already at the target path; `replace` when a file leaves it out.
    (One named schema, so clients get one type for the file they send and the file they read.)"""

    REPLACE = "replace"
    DEFAULT = "default"
    BACKUP = "backup"


class TemplateSource(StrEnum):
    """Where a template was made: through the API, or by discovery from `TEMPLATES_DIR`."""

    API = "api"
    FILESYSTEM = "filesystem"


Version = Annotated[
    str,
    msgspec.Meta(
        pattern=rules.PACKAGE_VERSION,
        description="An exact version; absent means the newest.",
        examples=["1.22.1-9"],
    ),
]


AptName = Annotated[
    str,
    msgspec.Meta(
        max_length=rules.PACKAGE_NAME_MAX, pattern=rules.PACKAGE_NAME["apt"], examples=["nginx"]
    ),
]
PipName = Annotated[
    str,
    msgspec.Meta(
        max_length=rules.PACKAGE_NAME_MAX, pattern=rules.PACKAGE_NAME["pip"], examples=["Flask"]
    ),
]
NpmName = Annotated[
    str,
    msgspec.Meta(
        max_length=rules.PACKAGE_NAME_MAX,
        pattern=rules.PACKAGE_NAME["npm"],
        examples=["@scope/pkg"],
    ),
]


# -- packages ---------------------------------------------------------------------------------


class AptPackage(CamelStruct, tag_field="manager", tag="apt"):
    name: AptName
    version: Version | None = None


class PipPackage(CamelStruct, tag_field="manager", tag="pip"):
    name: PipName
    version: Version | None = None


class NpmPackage(CamelStruct, tag_field="manager", tag="npm"):
    name: NpmName
    version: Version | None = None


PackageInput = AptPackage | PipPackage | NpmPackage
PackageList = Annotated[list[PackageInput], msgspec.Meta(max_length=rules.PACKAGES_MAX)]


_MANAGERS: dict[type, str] = {AptPackage: "apt", PipPackage: "pip", NpmPackage: "npm"}


def package_specs(packages: list[PackageInput]) -> tuple[PackageSpec, ...]:
    return tuple(
        PackageSpec(name=p.name, manager=_MANAGERS[type(p)], version=p.version) for p in packages
    )


class PackageRead(CamelStruct):
    id: uuid.UUID
    name: str
    manager: Literal["apt", "pip", "npm"]
    version: str | None


# -- templates ----------------------------------------------------------------------------------


class ScriptInput(CamelStruct):
    name: SafeFileName
    order: ScriptOrder
    content: Content = ""
    enabled: bool = True

    def spec(self) -> ScriptSpec:
        return ScriptSpec(**msgspec.structs.asdict(self))


class FileInput(CamelStruct):
    name: SafeFileName
    target_path: TargetPath
    content: Content = ""
    mode: FileMode = rules.DEFAULT_MODE
    owner: Owner = rules.DEFAULT_OWNER
    policy: FilePolicy = FilePolicy.REPLACE

    def spec(self) -> FileSpec:
        return FileSpec(**msgspec.structs.asdict(self))


Scripts = Annotated[list[ScriptInput], msgspec.Meta(max_length=rules.ITEMS_MAX)]
Files = Annotated[list[FileInput], msgspec.Meta(max_length=rules.ITEMS_MAX)]
BucketIds = Annotated[
    list[uuid.UUID],
    msgspec.Meta(max_length=100, description="Copy these buckets' packages (de-duplicated)."),
]


class TemplateCreate(CamelStruct):
    """The one list of a template's fields, with their limits and defaults: the PATCH body and
    the answers below are made from it (and the stored settings are the model's columns), so a
    new field is declared here, on `shared.db.models.Template` and in a migration."""

    name: TemplateName
    description: Description = ""
    os_template: OsTemplate = "debian-12-standard"
    cores: Cores = 1
    memory: MemoryMb = 512
    swap: SwapMb = 512
    disk: DiskGb = 8
    storage: StorageId = "local-lvm"
    bridge: BridgeName = "vmbr0"
    unprivileged: bool = True
    nesting: bool = False
    keyctl: bool = False
    fuse: bool = False
    tags: Tags = msgspec.field(default_factory=list)
    scripts: Scripts = msgspec.field(default_factory=list)
    files: Files = msgspec.field(default_factory=list)
    packages: PackageList = msgspec.field(default_factory=list)
    bucket_ids: BucketIds = msgspec.field(default_factory=list)


def _optional(struct: type[msgspec.Struct]) -> list[tuple[str, Any, Any]]:
    """`struct`'s fields, each optional: a PATCH body's."""
    return [
        (f.name, f.type | msgspec.UnsetType, msgspec.UNSET) for f in msgspec.structs.fields(struct)
    ]


# Made from TemplateCreate (see there); mypy sees Any, hence the `type: ignore[misc]` below.
_TemplateUpdateFields: Any = msgspec.defstruct(
    "_TemplateUpdateFields", _optional(TemplateCreate), bases=(CamelStruct,), module=__name__
)


class TemplateUpdate(_TemplateUpdateFields):  # type: ignore[misc]  # base made at run time
    """PATCH: only the fields sent change; a sub-list sent replaces the stored one.
    `bucketIds` adds those buckets' packages to the resulting package list."""


class ScriptRead(CamelStruct):
    id: uuid.UUID
    name: str
    order: int
    content: str
    enabled: bool


class FileRead(CamelStruct):
    id: uuid.UUID
    name: str
    target_path: str
    mode: str
    owner: str
    policy: FilePolicy
    content: str


# The values of a template as answers carry them: TemplateCreate's fields, without the
# sub-lists and `bucketIds`, typed without their input limits (`get_type_hints` drops them).
_NOT_VALUES = frozenset({"scripts", "files", "packages", "bucket_ids"})
_PLAIN_TYPES = get_type_hints(TemplateCreate)
_TemplateFieldsBase: Any = msgspec.defstruct(
    "_TemplateFieldsBase",
    [
        ("id", uuid.UUID),
        *(
            (name, _PLAIN_TYPES[name])
            for name in TemplateCreate.__struct_fields__
            if name not in _NOT_VALUES
        ),
        ("revision", int),
        ("source", TemplateSource),
        ("created_at", dt.datetime),
        ("updated_at", dt.datetime),
    ],
    bases=(CamelStruct,),
    module=__name__,
)


class TemplateFields(_TemplateFieldsBase):  # type: ignore[misc]  # base made at run time
    """What every template answer carries; `from_row` fills it from the row by attribute name."""


class TemplateRead(TemplateFields):
    """A template with its scripts (in run order), files and packages."""

    scripts: list[ScriptRead]
    files: list[FileRead]
    packages: list[PackageRead]


class TemplateSummary(TemplateFields):
    script_count: int
    file_count: int
    package_count: int


class TemplatePage(CamelStruct):
    items: list[TemplateSummary]
    total: int
    limit: int
    offset: int


class DiscoveryErrorRead(CamelStruct):
    template: str
    error: str


class DiscoveryResult(CamelStruct):
    discovered: int
    created: list[str]
    updated: list[str]
    unchanged: list[str]
    errors: list[DiscoveryErrorRead]


# -- buckets ----------------------------------------------------------------------------------


class BucketCreate(CamelStruct):
    name: BucketName
    description: Description = ""
    packages: PackageList = msgspec.field(default_factory=list)


class BucketUpdate(CamelStruct):
    """PATCH: only the fields sent change; `packages` sent replaces the bucket's list."""

    name: BucketName | msgspec.UnsetType = msgspec.UNSET
    description: Description | msgspec.UnsetType = msgspec.UNSET
    packages: PackageList | msgspec.UnsetType = msgspec.UNSET


class BucketPackagesAdd(CamelStruct):
    packages: PackageList


class BucketPackagesRemove(CamelStruct):
    package_ids: Annotated[list[uuid.UUID], msgspec.Meta(max_length=rules.PACKAGES_MAX)]


class _BucketFields(CamelStruct):
    id: uuid.UUID
    name: str
    description: str
    created_at: dt.datetime
    updated_at: dt.datetime


class BucketRead(_BucketFields):
    packages: list[PackageRead]


class BucketSummary(_BucketFields):
    package_count: int


class BucketPage(CamelStruct):
    items: list[BucketSummary]
    total: int
    limit: int
    offset: int
