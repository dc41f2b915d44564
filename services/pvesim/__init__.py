"""A Proxmox VE simulator: HTTPS API, SSH node side with ``pct``, and fault injection.

Start it in-process with :func:`start_simulator` or from the shell with
``python -m services.pvesim``; see ``docs/pvesim.md``.
"""

from services.pvesim.simulator import SimulatorConfig, SimulatorHandle, start_simulator

__all__ = ["SimulatorConfig", "SimulatorHandle", "start_simulator"]
