"""Maintenance scripts for the simulator (not imported at runtime)."""
