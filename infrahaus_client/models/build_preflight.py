from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.apt_package import AptPackage
    from ..models.npm_package import NpmPackage
    from ..models.pip_package import PipPackage


T = TypeVar("T", bound="BuildPreflight")


@_attrs_define
class BuildPreflight:
    hostname: None | str | Unset = UNSET
    node_id: None | Unset | UUID = UNSET
    template_id: None | Unset | UUID = UNSET
    os_template: None | str | Unset = UNSET
    """ A volume id (`local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst`) or the start of a template file name on
    the node (`debian-12-standard`). """
    vmid: int | None | Unset = UNSET
    cores: int | None | Unset = UNSET
    memory: int | None | Unset = UNSET
    """ MB """
    swap: int | None | Unset = UNSET
    """ MB """
    disk_size: int | None | Unset = UNSET
    """ GB """
    storage: None | str | Unset = UNSET
    bridge: None | str | Unset = UNSET
    ip: str | Unset = "dhcp"
    """ `dhcp`, or a static IPv4 address with its prefix (`192.0.2.10/24`). """
    gateway: None | str | Unset = UNSET
    nameserver: None | str | Unset = UNSET
    ssh_public_keys: list[str] | Unset = UNSET
    tags: list[str] | Unset = UNSET
    bucket_ids: list[UUID] | Unset = UNSET
    packages: list[AptPackage | NpmPackage | PipPackage] | Unset = UNSET
    scripts: list[str] | None | Unset = UNSET
    """ Names of the template's scripts to run; all enabled ones if left out. """
    cleanup_on_failure: bool | Unset = False
    """ Destroy the Proxmox container when the build fails. """

    def to_dict(self) -> dict[str, Any]:
        from ..models.apt_package import AptPackage  # noqa: PLC0415
        from ..models.pip_package import PipPackage  # noqa: PLC0415

        hostname: None | str | Unset
        if isinstance(self.hostname, Unset):
            hostname = UNSET
        else:
            hostname = self.hostname

        node_id: None | str | Unset
        if isinstance(self.node_id, Unset):
            node_id = UNSET
        elif isinstance(self.node_id, UUID):
            node_id = str(self.node_id)
        else:
            node_id = self.node_id

        template_id: None | str | Unset
        if isinstance(self.template_id, Unset):
            template_id = UNSET
        elif isinstance(self.template_id, UUID):
            template_id = str(self.template_id)
        else:
            template_id = self.template_id

        os_template: None | str | Unset
        if isinstance(self.os_template, Unset):
            os_template = UNSET
        else:
            os_template = self.os_template

        vmid: int | None | Unset
        if isinstance(self.vmid, Unset):
            vmid = UNSET
        else:
            vmid = self.vmid

        cores: int | None | Unset
        if isinstance(self.cores, Unset):
            cores = UNSET
        else:
            cores = self.cores

        memory: int | None | Unset
        if isinstance(self.memory, Unset):
            memory = UNSET
        else:
            memory = self.memory

        swap: int | None | Unset
        if isinstance(self.swap, Unset):
            swap = UNSET
        else:
            swap = self.swap

        disk_size: int | None | Unset
        if isinstance(self.disk_size, Unset):
            disk_size = UNSET
        else:
            disk_size = self.disk_size

        storage: None | str | Unset
        if isinstance(self.storage, Unset):
            storage = UNSET
        else:
            storage = self.storage

        bridge: None | str | Unset
        if isinstance(self.bridge, Unset):
            bridge = UNSET
        else:
            bridge = self.bridge

        ip = self.ip

        gateway: None | str | Unset
        if isinstance(self.gateway, Unset):
            gateway = UNSET
        else:
            gateway = self.gateway

        nameserver: None | str | Unset
        if isinstance(self.nameserver, Unset):
            nameserver = UNSET
        else:
            nameserver = self.nameserver

        ssh_public_keys: list[str] | Unset = UNSET
        if not isinstance(self.ssh_public_keys, Unset):
            ssh_public_keys = self.ssh_public_keys

        tags: list[str] | Unset = UNSET
        if not isinstance(self.tags, Unset):
            tags = self.tags

        bucket_ids: list[str] | Unset = UNSET
        if not isinstance(self.bucket_ids, Unset):
            bucket_ids = []
            for bucket_ids_item_data in self.bucket_ids:
                bucket_ids_item = str(bucket_ids_item_data)
                bucket_ids.append(bucket_ids_item)

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

        scripts: list[str] | None | Unset
        if isinstance(self.scripts, Unset):
            scripts = UNSET
        elif isinstance(self.scripts, list):
            scripts = self.scripts

        else:
            scripts = self.scripts

        cleanup_on_failure = self.cleanup_on_failure

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if hostname is not UNSET:
            field_dict["hostname"] = hostname
        if node_id is not UNSET:
            field_dict["nodeId"] = node_id
        if template_id is not UNSET:
            field_dict["templateId"] = template_id
        if os_template is not UNSET:
            field_dict["osTemplate"] = os_template
        if vmid is not UNSET:
            field_dict["vmid"] = vmid
        if cores is not UNSET:
            field_dict["cores"] = cores
        if memory is not UNSET:
            field_dict["memory"] = memory
        if swap is not UNSET:
            field_dict["swap"] = swap
        if disk_size is not UNSET:
            field_dict["diskSize"] = disk_size
        if storage is not UNSET:
            field_dict["storage"] = storage
        if bridge is not UNSET:
            field_dict["bridge"] = bridge
        if ip is not UNSET:
            field_dict["ip"] = ip
        if gateway is not UNSET:
            field_dict["gateway"] = gateway
        if nameserver is not UNSET:
            field_dict["nameserver"] = nameserver
        if ssh_public_keys is not UNSET:
            field_dict["sshPublicKeys"] = ssh_public_keys
        if tags is not UNSET:
            field_dict["tags"] = tags
        if bucket_ids is not UNSET:
            field_dict["bucketIds"] = bucket_ids
        if packages is not UNSET:
            field_dict["packages"] = packages
        if scripts is not UNSET:
            field_dict["scripts"] = scripts
        if cleanup_on_failure is not UNSET:
            field_dict["cleanupOnFailure"] = cleanup_on_failure

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.apt_package import AptPackage  # noqa: PLC0415
        from ..models.npm_package import NpmPackage  # noqa: PLC0415
        from ..models.pip_package import PipPackage  # noqa: PLC0415

        d = dict(src_dict)

        def _parse_hostname(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        hostname = _parse_hostname(d.pop("hostname", UNSET))

        def _parse_node_id(data: object) -> None | Unset | UUID:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                node_id_type_0 = UUID(data)

                return node_id_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Unset | UUID, data)

        node_id = _parse_node_id(d.pop("nodeId", UNSET))

        def _parse_template_id(data: object) -> None | Unset | UUID:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                template_id_type_0 = UUID(data)

                return template_id_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Unset | UUID, data)

        template_id = _parse_template_id(d.pop("templateId", UNSET))

        def _parse_os_template(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        os_template = _parse_os_template(d.pop("osTemplate", UNSET))

        def _parse_vmid(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        vmid = _parse_vmid(d.pop("vmid", UNSET))

        def _parse_cores(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        cores = _parse_cores(d.pop("cores", UNSET))

        def _parse_memory(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        memory = _parse_memory(d.pop("memory", UNSET))

        def _parse_swap(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        swap = _parse_swap(d.pop("swap", UNSET))

        def _parse_disk_size(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        disk_size = _parse_disk_size(d.pop("diskSize", UNSET))

        def _parse_storage(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        storage = _parse_storage(d.pop("storage", UNSET))

        def _parse_bridge(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        bridge = _parse_bridge(d.pop("bridge", UNSET))

        ip = d.pop("ip", UNSET)

        def _parse_gateway(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        gateway = _parse_gateway(d.pop("gateway", UNSET))

        def _parse_nameserver(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        nameserver = _parse_nameserver(d.pop("nameserver", UNSET))

        ssh_public_keys = cast(list[str], d.pop("sshPublicKeys", UNSET))

        tags = cast(list[str], d.pop("tags", UNSET))

        _bucket_ids = d.pop("bucketIds", UNSET)
        bucket_ids: list[UUID] | Unset = UNSET
        if _bucket_ids is not UNSET:
            bucket_ids = []
            for bucket_ids_item_data in _bucket_ids:
                bucket_ids_item = UUID(bucket_ids_item_data)

                bucket_ids.append(bucket_ids_item)

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

        def _parse_scripts(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                scripts_type_0 = cast(list[str], data)

                return scripts_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        scripts = _parse_scripts(d.pop("scripts", UNSET))

        cleanup_on_failure = d.pop("cleanupOnFailure", UNSET)

        build_preflight = cls(
            hostname=hostname,
            node_id=node_id,
            template_id=template_id,
            os_template=os_template,
            vmid=vmid,
            cores=cores,
            memory=memory,
            swap=swap,
            disk_size=disk_size,
            storage=storage,
            bridge=bridge,
            ip=ip,
            gateway=gateway,
            nameserver=nameserver,
            ssh_public_keys=ssh_public_keys,
            tags=tags,
            bucket_ids=bucket_ids,
            packages=packages,
            scripts=scripts,
            cleanup_on_failure=cleanup_on_failure,
        )

        return build_preflight
