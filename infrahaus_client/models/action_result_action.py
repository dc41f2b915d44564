from enum import StrEnum


class ActionResultAction(StrEnum):
    REBOOT = "reboot"
    SHUTDOWN = "shutdown"
    START = "start"
    STOP = "stop"

    def __str__(self) -> str:
        return str(self.value)
