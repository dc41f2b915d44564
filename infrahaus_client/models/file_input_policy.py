from enum import StrEnum


class FileInputPolicy(StrEnum):
    BACKUP = "backup"
    DEFAULT = "default"
    REPLACE = "replace"

    def __str__(self) -> str:
        return str(self.value)
