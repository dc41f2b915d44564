from enum import StrEnum


class UnmanagedGuestReadType(StrEnum):
    LXC = "lxc"
    QEMU = "qemu"

    def __str__(self) -> str:
        return str(self.value)
