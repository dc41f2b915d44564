from enum import StrEnum


class VmidCheckStatus(StrEnum):
    AVAILABLE = "available"
    TAKEN = "taken"
    UNKNOWN = "unknown"

    def __str__(self) -> str:
        return str(self.value)
