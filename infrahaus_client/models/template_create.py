from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.apt_package import AptPackage
    from ..models.file_input import FileInput
    from ..models.npm_package import NpmPackage
    from ..models.pip_package import PipPackage
    from ..models.script_input import ScriptInput


T = TypeVar("T", bound="TemplateCreate")


@_attrs_define
class TemplateCreate:
    name: str
    """ Unique name; printable characters. """
    description: str | Unset = ""
    os_template: str | Unset = "debian-12-standard"
    """ A vztmpl volume id, or the start of one's file name (`debian-12-standard`), which the build resolves on the
    node. """
    cores: int | Unset = 1
    memory: int | Unset = 512
    """ MB """
    swap: int | Unset = 512
    """ MB """
    disk: int | Unset = 8
    """ GB """
    storage: str | Unset = "local-lvm"
    bridge: str | Unset = "vmbr0"
    unprivileged: bool | Unset = True
    nesting: bool | Unset = False
    keyctl: bool | Unset = False
    fuse: bool | Unset = False
    tags: list[str] | Unset = UNSET
    scripts: list[ScriptInput] | Unset = UNSET
    files: list[FileInput] | Unset = UNSET
    packages: list[AptPackage | NpmPackage | PipPackage] | Unset = UNSET
    bucket_ids: list[UUID] | Unset = UNSET
    """ Copy these buckets' packages (de-duplicated). """

    def to_dict(self) -> dict[str, Any]:
        from ..models.apt_package import AptPackage  # noqa: PLC0415
        from ..models.pip_package import PipPackage  # noqa: PLC0415

        name = self.name

        description = self.description

        os_template = self.os_template

        cores = self.cores

        memory = self.memory

        swap = self.swap

        disk = self.disk

        storage = self.storage

        bridge = self.bridge

        unprivileged = self.unprivileged

        nesting = self.nesting

        keyctl = self.keyctl

        fuse = self.fuse

        tags: list[str] | Unset = UNSET
        if not isinstance(self.tags, Unset):
            tags = self.tags

        scripts: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.scripts, Unset):
            scripts = []
            for scripts_item_data in self.scripts:
                scripts_item = scripts_item_data.to_dict()
                scripts.append(scripts_item)

        files: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.files, Unset):
            files = []
            for files_item_data in self.files:
                files_item = files_item_data.to_dict()
                files.append(files_item)

        packages: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.packages, Unset):
            packages = []
            for packages_item_data in self.packages:
                packages_item: dict[str, Any]
                if isinstance(packages_item_data, AptPackage):
                    packages_item = packages_item_data.to_dict()
                elif isinstance(packages_item_data, PipPackage):
                    packages_item = packages_item_data.to_dict()
                else:
                    packages_item = packages_item_data.to_dict()

                packages.append(packages_item)

        bucket_ids: list[str] | Unset = UNSET
        if not isinstance(self.bucket_ids, Unset):
            bucket_ids = []
            for bucket_ids_item_data in self.bucket_ids:
                bucket_ids_item = str(bucket_ids_item_data)
                bucket_ids.append(bucket_ids_item)

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "name": name,
            }
        )
        if description is not UNSET:
            field_dict["description"] = description
        if os_template is not UNSET:
            field_dict["osTemplate"] = os_template
        if cores is not UNSET:
            field_dict["cores"] = cores
        if memory is not UNSET:
            field_dict["memory"] = memory
        if swap is not UNSET:
            field_dict["swap"] = swap
        if disk is not UNSET:
            field_dict["disk"] = disk
        if storage is not UNSET:
            field_dict["storage"] = storage
        if bridge is not UNSET:
            field_dict["bridge"] = bridge
        if unprivileged is not UNSET:
            field_dict["unprivileged"] = unprivileged
        if nesting is not UNSET:
            field_dict["nesting"] = nesting
        if keyctl is not UNSET:
            field_dict["keyctl"] = keyctl
        if fuse is not UNSET:
            field_dict["fuse"] = fuse
        if tags is not UNSET:
            field_dict["tags"] = tags
        if scripts is not UNSET:
            field_dict["scripts"] = scripts
        if files is not UNSET:
            field_dict["files"] = files
        if packages is not UNSET:
            field_dict["packages"] = packages
        if bucket_ids is not UNSET:
            field_dict["bucketIds"] = bucket_ids

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.apt_package import AptPackage  # noqa: PLC0415
        from ..models.file_input import FileInput  # noqa: PLC0415
        from ..models.npm_package import NpmPackage  # noqa: PLC0415
        from ..models.pip_package import PipPackage  # noqa: PLC0415
        from ..models.script_input import ScriptInput  # noqa: PLC0415

        d = dict(src_dict)
        name = d.pop("name")

        description = d.pop("description", UNSET)

        os_template = d.pop("osTemplate", UNSET)

        cores = d.pop("cores", UNSET)

        memory = d.pop("memory", UNSET)

        swap = d.pop("swap", UNSET)

        disk = d.pop("disk", UNSET)

        storage = d.pop("storage", UNSET)

        bridge = d.pop("bridge", UNSET)

        unprivileged = d.pop("unprivileged", UNSET)

        nesting = d.pop("nesting", UNSET)

        keyctl = d.pop("keyctl", UNSET)

        fuse = d.pop("fuse", UNSET)

        tags = cast(list[str], d.pop("tags", UNSET))

        _scripts = d.pop("scripts", UNSET)
        scripts: list[ScriptInput] | Unset = UNSET
        if _scripts is not UNSET:
            scripts = []
            for scripts_item_data in _scripts:
                scripts_item = ScriptInput.from_dict(scripts_item_data)

                scripts.append(scripts_item)

        _files = d.pop("files", UNSET)
        files: list[FileInput] | Unset = UNSET
        if _files is not UNSET:
            files = []
            for files_item_data in _files:
                files_item = FileInput.from_dict(files_item_data)

                files.append(files_item)

        _packages = d.pop("packages", UNSET)
        packages: list[AptPackage | NpmPackage | PipPackage] | Unset = UNSET
        if _packages is not UNSET:
            packages = []
            for packages_item_data in _packages:

                def _parse_packages_item(data: object) -> AptPackage | NpmPackage | PipPackage:
                    try:
                        if not isinstance(data, dict):
                            raise TypeError()
                        packages_item_type_0 = AptPackage.from_dict(data)

                        return packages_item_type_0
                    except (TypeError, ValueError, AttributeError, KeyError):
                        pass
                    try:
                        if not isinstance(data, dict):
                            raise TypeError()
                        packages_item_type_1 = PipPackage.from_dict(data)

                        return packages_item_type_1
                    except (TypeError, ValueError, AttributeError, KeyError):
                        pass
                    if not isinstance(data, dict):
                        raise TypeError()
                    packages_item_type_2 = NpmPackage.from_dict(data)

                    return packages_item_type_2

                packages_item = _parse_packages_item(packages_item_data)

                packages.append(packages_item)

        _bucket_ids = d.pop("bucketIds", UNSET)
        bucket_ids: list[UUID] | Unset = UNSET
        if _bucket_ids is not UNSET:
            bucket_ids = []
            for bucket_ids_item_data in _bucket_ids:
                bucket_ids_item = UUID(bucket_ids_item_data)

                bucket_ids.append(bucket_ids_item)

        template_create = cls(
            name=name,
            description=description,
            os_template=os_template,
            cores=cores,
            memory=memory,
            swap=swap,
            disk=disk,
            storage=storage,
            bridge=bridge,
            unprivileged=unprivileged,
            nesting=nesting,
            keyctl=keyctl,
            fuse=fuse,
            tags=tags,
            scripts=scripts,
            files=files,
            packages=packages,
            bucket_ids=bucket_ids,
        )

        return template_create
