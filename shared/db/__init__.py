"""Database access: the engine factory, the ORM models and the migration runner."""

from shared.db.engine import create_engine, create_session_factory, one_off_session
from shared.db.models import AuditEntry, Base, Container, ContainerEvent, Node, PveHost, User

__all__ = [
    "AuditEntry",
    "Base",
    "Container",
    "ContainerEvent",
    "Node",
    "PveHost",
    "User",
    "create_engine",
    "create_session_factory",
    "one_off_session",
]
