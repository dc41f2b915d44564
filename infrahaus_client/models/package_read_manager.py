from enum import StrEnum


class PackageReadManager(StrEnum):
    APT = "apt"
    NPM = "npm"
    PIP = "pip"

    def __str__(self) -> str:
        return str(self.value)
