"""Creating a container: the request, retry and cancel; the worker runs the build."""

from __future__ import annotations

from shared.containers.base import ContainerServiceBase


class CreationMixin(ContainerServiceBase):
    pass
