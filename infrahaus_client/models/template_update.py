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


T = TypeVar("T", bound="TemplateUpdate")


@_attrs_define
class TemplateUpdate:
    name: str | Unset = UNSET
    """ Unique name; printable characters. """
    description: str | Unset = UNSET
    os_template: str | Unset = UNSET
    """ A vztmpl volume id, or the start of one's file name (`debian-12-standard`), which the build resolves on the
    node. """
    cores: int | Unset = UNSET
    memory: int | Unset = UNSET
    """ MB """
    swap: int | Unset = UNSET
    """ MB """
    disk: int | Unset = UNSET
    """ GB """
    storage: str | Unset = UNSET
    bridge: str | Unset = UNSET
    unprivileged: bool | Unset = UNSET
    nesting: bool | Unset = UNSET
    keyctl: bool | Unset = UNSET
    fuse: bool | Unset = UNSET
    tags: list[str] | Unset = UNSET
    scripts: list[ScriptInput] | Unset = UNSET
    files: list[FileInput] | Unset = UNSET
    packages: list[AptPackage | NpmPackage | PipPackage] | Unset = UNSET
    bucket_ids: list[UUID] | Unset = UNSET
    """ Copy these buckets' packages (de-duplicated). """

    def to_dict(self) -> dict[str, Any]:
        from ..models.apt_package import AptPackage  # noqa: PLC0415
        from ..models.pip_package import PipPackage  # noqa: PLC0415

        name: str | Unset
        if isinstance(self.name, Unset):
            name = UNSET
        else:
            name = self.name

        description: str | Unset
        if isinstance(self.description, Unset):
            description = UNSET
        else:
            description = self.description

        os_template: str | Unset
        if isinstance(self.os_template, Unset):
            os_template = UNSET
        else:
            os_template = self.os_template

        cores: int | Unset
        if isinstance(self.cores, Unset):
            cores = UNSET
        else:
            cores = self.cores

        memory: int | Unset
        if isinstance(self.memory, Unset):
            memory = UNSET
        else:
            memory = self.memory

        swap: int | Unset
        if isinstance(self.swap, Unset):
            swap = UNSET
        else:
            swap = self.swap

        disk: int | Unset
        if isinstance(self.disk, Unset):
            disk = UNSET
        else:
            disk = self.disk

        storage: str | Unset
        if isinstance(self.storage, Unset):
            storage = UNSET
        else:
            storage = self.storage

        bridge: str | Unset
        if isinstance(self.bridge, Unset):
            bridge = UNSET
        else:
            bridge = self.bridge

        unprivileged: bool | Unset
        if isinstance(self.unprivileged, Unset):
            unprivileged = UNSET
        else:
            unprivileged = self.unprivileged

        nesting: bool | Unset
        if isinstance(self.nesting, Unset):
            nesting = UNSET
        else:
            nesting = self.nesting

        keyctl: bool | Unset
        if isinstance(self.keyctl, Unset):
            keyctl = UNSET
        else:
            keyctl = self.keyctl

        fuse: bool | Unset
        if isinstance(self.fuse, Unset):
            fuse = UNSET
        else:
            fuse = self.fuse

        tags: list[str] | Unset
        if isinstance(self.tags, Unset):
            tags = UNSET
        else:
            tags = self.tags

        scripts: list[dict[str, Any]] | Unset
        if isinstance(self.scripts, Unset):
            scripts = UNSET
        else:
            scripts = []
            for scripts_type_0_item_data in self.scripts:
                scripts_type_0_item = scripts_type_0_item_data.to_dict()
                scripts.append(scripts_type_0_item)

        files: list[dict[str, Any]] | Unset
        if isinstance(self.files, Unset):
            files = UNSET
        else:
            files = []
            for files_type_0_item_data in self.files:
                files_type_0_item = files_type_0_item_data.to_dict()
                files.append(files_type_0_item)

        packages: list[dict[str, Any]] | Unset
        if isinstance(self.packages, Unset):
            packages = UNSET
        else:
            packages = []
            for packages_type_0_item_data in self.packages:
                packages_type_0_item: dict[str, Any]
                if isinstance(packages_type_0_item_data, AptPackage):
                    packages_type_0_item = packages_type_0_item_data.to_dict()
                elif isinstance(packages_type_0_item_data, PipPackage):
                    packages_type_0_item = packages_type_0_item_data.to_dict()
                else:
                    packages_type_0_item = packages_type_0_item_data.to_dict()

                packages.append(packages_type_0_item)

        bucket_ids: list[str] | Unset
        if isinstance(self.bucket_ids, Unset):
            bucket_ids = UNSET
        else:
            bucket_ids = []
            for bucket_ids_type_0_item_data in self.bucket_ids:
                bucket_ids_type_0_item = str(bucket_ids_type_0_item_data)
                bucket_ids.append(bucket_ids_type_0_item)

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if name is not UNSET:
            field_dict["name"] = name
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

        def _parse_name(data: object) -> str | Unset:
            if isinstance(data, Unset):
                return data
            return cast(str | Unset, data)

        name = _parse_name(d.pop("name", UNSET))

        def _parse_description(data: object) -> str | Unset:
            if isinstance(data, Unset):
                return data
            return cast(str | Unset, data)

        description = _parse_description(d.pop("description", UNSET))

        def _parse_os_template(data: object) -> str | Unset:
            if isinstance(data, Unset):
                return data
            return cast(str | Unset, data)

        os_template = _parse_os_template(d.pop("osTemplate", UNSET))

        def _parse_cores(data: object) -> int | Unset:
            if isinstance(data, Unset):
                return data
            return cast(int | Unset, data)

        cores = _parse_cores(d.pop("cores", UNSET))

        def _parse_memory(data: object) -> int | Unset:
            if isinstance(data, Unset):
                return data
            return cast(int | Unset, data)

        memory = _parse_memory(d.pop("memory", UNSET))

        def _parse_swap(data: object) -> int | Unset:
            if isinstance(data, Unset):
                return data
            return cast(int | Unset, data)

        swap = _parse_swap(d.pop("swap", UNSET))

        def _parse_disk(data: object) -> int | Unset:
            if isinstance(data, Unset):
                return data
            return cast(int | Unset, data)

        disk = _parse_disk(d.pop("disk", UNSET))

        def _parse_storage(data: object) -> str | Unset:
            if isinstance(data, Unset):
                return data
            return cast(str | Unset, data)

        storage = _parse_storage(d.pop("storage", UNSET))

        def _parse_bridge(data: object) -> str | Unset:
            if isinstance(data, Unset):
                return data
            return cast(str | Unset, data)

        bridge = _parse_bridge(d.pop("bridge", UNSET))

        def _parse_unprivileged(data: object) -> bool | Unset:
            if isinstance(data, Unset):
                return data
            return cast(bool | Unset, data)

        unprivileged = _parse_unprivileged(d.pop("unprivileged", UNSET))

        def _parse_nesting(data: object) -> bool | Unset:
            if isinstance(data, Unset):
                return data
            return cast(bool | Unset, data)

        nesting = _parse_nesting(d.pop("nesting", UNSET))

        def _parse_keyctl(data: object) -> bool | Unset:
            if isinstance(data, Unset):
                return data
            return cast(bool | Unset, data)

        keyctl = _parse_keyctl(d.pop("keyctl", UNSET))

        def _parse_fuse(data: object) -> bool | Unset:
            if isinstance(data, Unset):
                return data
            return cast(bool | Unset, data)

        fuse = _parse_fuse(d.pop("fuse", UNSET))

        def _parse_tags(data: object) -> list[str] | Unset:
            if isinstance(data, Unset):
                return data
            if not isinstance(data, list):
                raise TypeError()
            tags_type_0 = cast(list[str], data)

            return tags_type_0

        tags = _parse_tags(d.pop("tags", UNSET))

        def _parse_scripts(data: object) -> list[ScriptInput] | Unset:
            if isinstance(data, Unset):
                return data
            if not isinstance(data, list):
                raise TypeError()
            scripts_type_0 = []
            _scripts_type_0 = data
            for scripts_type_0_item_data in _scripts_type_0:
                scripts_type_0_item = ScriptInput.from_dict(scripts_type_0_item_data)

                scripts_type_0.append(scripts_type_0_item)

            return scripts_type_0

        scripts = _parse_scripts(d.pop("scripts", UNSET))

        def _parse_files(data: object) -> list[FileInput] | Unset:
            if isinstance(data, Unset):
                return data
            if not isinstance(data, list):
                raise TypeError()
            files_type_0 = []
            _files_type_0 = data
            for files_type_0_item_data in _files_type_0:
                files_type_0_item = FileInput.from_dict(files_type_0_item_data)

                files_type_0.append(files_type_0_item)

            return files_type_0

        files = _parse_files(d.pop("files", UNSET))

        def _parse_packages(data: object) -> list[AptPackage | NpmPackage | PipPackage] | Unset:
            if isinstance(data, Unset):
                return data
            if not isinstance(data, list):
                raise TypeError()
            packages_type_0 = []
            _packages_type_0 = data
            for packages_type_0_item_data in _packages_type_0:

                def _parse_packages_type_0_item(
                    data: object,
                ) -> AptPackage | NpmPackage | PipPackage:
                    try:
                        if not isinstance(data, dict):
                            raise TypeError()
                        packages_type_0_item_type_0 = AptPackage.from_dict(data)

                        return packages_type_0_item_type_0
                    except (TypeError, ValueError, AttributeError, KeyError):
                        pass
                    try:
                        if not isinstance(data, dict):
                            raise TypeError()
                        packages_type_0_item_type_1 = PipPackage.from_dict(data)

                        return packages_type_0_item_type_1
                    except (TypeError, ValueError, AttributeError, KeyError):
                        pass
                    if not isinstance(data, dict):
                        raise TypeError()
                    packages_type_0_item_type_2 = NpmPackage.from_dict(data)

                    return packages_type_0_item_type_2

                packages_type_0_item = _parse_packages_type_0_item(packages_type_0_item_data)

                packages_type_0.append(packages_type_0_item)

            return packages_type_0

        packages = _parse_packages(d.pop("packages", UNSET))

        def _parse_bucket_ids(data: object) -> list[UUID] | Unset:
            if isinstance(data, Unset):
                return data
            if not isinstance(data, list):
                raise TypeError()
            bucket_ids_type_0 = []
            _bucket_ids_type_0 = data
            for bucket_ids_type_0_item_data in _bucket_ids_type_0:
                bucket_ids_type_0_item = UUID(bucket_ids_type_0_item_data)

                bucket_ids_type_0.append(bucket_ids_type_0_item)

            return bucket_ids_type_0

        bucket_ids = _parse_bucket_ids(d.pop("bucketIds", UNSET))

        template_update = cls(
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

        return template_update
