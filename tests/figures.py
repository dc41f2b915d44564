"""Figures a test measured, printed as one table at the end of the run (whatever tests ran:
the reliability suite's, and the live schemathesis run's). `tests/conftest.py` prints it."""

from __future__ import annotations

import msgspec
import pytest


class Figure(msgspec.Struct):
    scenario: str
    figure: str
    value: str
    must_be: str


_FIGURES: list[Figure] = []


def record(scenario: str, figure: str, value: object, must_be: object = "") -> None:
    """Add one row to the printed table (the caller has asserted `must_be` already)."""
    _FIGURES.append(Figure(scenario, figure, str(value), str(must_be)))


def print_figures(terminalreporter: pytest.TerminalReporter) -> None:
    if not _FIGURES:
        return
    terminalreporter.section("reliability figures")
    terminalreporter.write_line("| scenario | figure | measured | must be |")
    terminalreporter.write_line("| --- | --- | --- | --- |")
    for row in _FIGURES:
        terminalreporter.write_line(
            f"| {row.scenario} | {row.figure} | {row.value} | {row.must_be} |"
        )
