"""Containers: VMIDs, the inventory, lifecycle actions, deletion and creation.

Every owner-facing method is scoped to the owner; someone else's container or node is "not
found". One service class, one module per concern.
"""

from shared.domain.containers.actions import Action, ActionOutcome, ActionsMixin
from shared.domain.containers.adopt import AdoptionMixin, UnmanagedGuest
from shared.domain.containers.creation import CreationMixin
from shared.domain.containers.deletion import DeletionMixin
from shared.domain.containers.inventory import (
    ContainerView,
    GuestStatus,
    Inventory,
    InventoryItem,
    InventoryMixin,
    UnreachableNode,
)
from shared.domain.containers.preflight import Finding, PreflightMixin
from shared.domain.containers.reality import Drift, RealityMixin, ReconcileReport
from shared.domain.containers.services import DiscoveryReport, ServicesMixin


class ContainerService(
    InventoryMixin, ActionsMixin, DeletionMixin, CreationMixin, ServicesMixin, RealityMixin,
    AdoptionMixin, PreflightMixin,
):  # fmt: skip
    """What the API routes and the worker's jobs call."""


__all__ = [
    "Action",
    "ActionOutcome",
    "ContainerService",
    "ContainerView",
    "DiscoveryReport",
    "Drift",
    "Finding",
    "GuestStatus",
    "Inventory",
    "InventoryItem",
    "ReconcileReport",
    "UnmanagedGuest",
    "UnreachableNode",
]
