from enum import StrEnum


class TemplateSummarySource(StrEnum):
    API = "api"
    FILESYSTEM = "filesystem"

    def __str__(self) -> str:
        return str(self.value)
