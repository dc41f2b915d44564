from enum import StrEnum


class ListTemplatesSort(StrEnum):
    CREATEDAT = "createdAt"
    NAME = "name"
    UPDATEDAT = "updatedAt"
    VALUE_1 = "-name"
    VALUE_3 = "-createdAt"
    VALUE_5 = "-updatedAt"

    def __str__(self) -> str:
        return str(self.value)
