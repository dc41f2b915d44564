"""The states of a container record and the phases of its build: defined once, here.

The database CHECK constraints, the API's enums and the pipeline's order are all derived from
these two enums, so a new state or phase is added in exactly one place (plus its migration).
"""

from __future__ import annotations

from enum import StrEnum


class Lifecycle(StrEnum):
    CREATING = "creating"
    READY = "ready"
    ERROR = "error"
    DELETING = "deleting"
    # its VMID no longer holds it on its node (deleted, or replaced, outside Infrahaus): found
    # by reconciliation; it is deleted (the record), or comes back when the guest does
    MISSING = "missing"


class Phase(StrEnum):
    """Build phases in the order they run (ARCHITECTURE §7)."""

    CREATING = "creating"
    STARTING = "starting"
    DEPLOYING = "deploying"
    SYNCING = "syncing"
    FINALIZING = "finalizing"

    @property
    def percent_range(self) -> tuple[int, int]:
        """Where this phase's progress starts and ends on the 0-100 scale."""
        return _PERCENT[self]

    @classmethod
    def after(cls, completed: Phase | str | None) -> list[Phase]:
        """The phases still to run when `completed` is the last one checkpointed."""
        order = list(cls)
        if completed is None:
            return order
        return order[order.index(cls(completed)) + 1 :]


_PERCENT = {
    Phase.CREATING: (0, 20),
    Phase.STARTING: (20, 35),
    Phase.DEPLOYING: (35, 60),
    Phase.SYNCING: (60, 90),
    Phase.FINALIZING: (90, 100),
}

# Which lifecycle changes are legal; anything else is a bug or a race, refused by `transition`.
_ALLOWED: dict[Lifecycle, frozenset[Lifecycle]] = {
    Lifecycle.CREATING: frozenset({Lifecycle.READY, Lifecycle.ERROR, Lifecycle.DELETING}),
    Lifecycle.READY: frozenset({Lifecycle.DELETING, Lifecycle.ERROR, Lifecycle.MISSING}),
    Lifecycle.ERROR: frozenset(
        {Lifecycle.CREATING, Lifecycle.DELETING, Lifecycle.READY, Lifecycle.MISSING}
    ),
    Lifecycle.DELETING: frozenset({Lifecycle.ERROR}),
    Lifecycle.MISSING: frozenset({Lifecycle.DELETING, Lifecycle.READY, Lifecycle.ERROR}),
}


class IllegalTransition(Exception):
    def __init__(self, current: str, wanted: str) -> None:
        super().__init__(f"lifecycle cannot go from {current!r} to {wanted!r}")
        self.current = current
        self.wanted = wanted


def can_transition(current: Lifecycle | str, wanted: Lifecycle | str) -> bool:
    return Lifecycle(wanted) in _ALLOWED[Lifecycle(current)]


def transition(current: Lifecycle | str, wanted: Lifecycle | str) -> Lifecycle:
    """`wanted`, if the move from `current` is legal; raise `IllegalTransition` otherwise."""
    if not can_transition(current, wanted):
        raise IllegalTransition(str(current), str(wanted))
    return Lifecycle(wanted)


def sql_in(column: str, values: type[StrEnum]) -> str:
    """`column IN ('a', 'b', ...)` for a CHECK constraint, from the enum itself."""
    listed = ", ".join(f"'{member.value}'" for member in values)
    return f"{column} IN ({listed})"


class EventType(StrEnum):
    """Kinds of progress events (ARCHITECTURE §8); `complete` and `error` end a stream."""

    STEP = "step"
    LOG = "log"
    COMPLETE = "complete"
    ERROR = "error"

    @property
    def terminal(self) -> bool:
        return self in (EventType.COMPLETE, EventType.ERROR)
