from enum import StrEnum


class PreflightProblemCode(StrEnum):
    BRIDGE_NOT_PERMITTED = "bridge_not_permitted"
    BRIDGE_UNKNOWN = "bridge_unknown"
    OS_TEMPLATE_MISSING = "os_template_missing"
    PRIVILEGE_MISSING = "privilege_missing"
    ROOT_ONLY_FEATURE = "root_only_feature"
    STORAGE_NO_ROOTDIR = "storage_no_rootdir"
    STORAGE_UNKNOWN = "storage_unknown"
    VMID_TAKEN = "vmid_taken"

    def __str__(self) -> str:
        return str(self.value)
