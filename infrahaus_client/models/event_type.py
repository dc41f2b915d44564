from enum import StrEnum


class EventType(StrEnum):
    COMPLETE = "complete"
    ERROR = "error"
    LOG = "log"
    STEP = "step"

    def __str__(self) -> str:
        return str(self.value)
