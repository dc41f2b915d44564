from enum import StrEnum


class Phase(StrEnum):
    CREATING = "creating"
    DEPLOYING = "deploying"
    FINALIZING = "finalizing"
    STARTING = "starting"
    SYNCING = "syncing"

    def __str__(self) -> str:
        return str(self.value)
