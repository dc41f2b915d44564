from enum import StrEnum


class Lifecycle(StrEnum):
    CREATING = "creating"
    DELETING = "deleting"
    ERROR = "error"
    MISSING = "missing"
    READY = "ready"

    def __str__(self) -> str:
        return str(self.value)
