from enum import StrEnum


class FilePolicy(StrEnum):
    BACKUP = "backup"
    DEFAULT = "default"
    REPLACE = "replace"

    def __str__(self) -> str:
        return str(self.value)
