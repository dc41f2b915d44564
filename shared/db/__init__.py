"""Database access: the engine factory, the ORM models and the migration runner."""

from shared.db.engine import create_engine, create_session_factory
from shared.db.models import Base, Node, User

__all__ = ["Base", "Node", "User", "create_engine", "create_session_factory"]
