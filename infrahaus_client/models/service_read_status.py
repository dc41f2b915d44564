from enum import StrEnum


class ServiceReadStatus(StrEnum):
    RUNNING = "running"
    STOPPED = "stopped"

    def __str__(self) -> str:
        return str(self.value)
