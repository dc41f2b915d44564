from enum import StrEnum


class TemplateSource(StrEnum):
    API = "api"
    FILESYSTEM = "filesystem"

    def __str__(self) -> str:
        return str(self.value)
