"""The README shows the example frontend as it is shipped (examples/frontend/index.html)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_shows_the_shipped_example_page() -> None:
    readme = ROOT.joinpath("README.md").read_text()
    section = readme.split("### Writing a frontend", 1)[1]
    shown = section.split("```html\n", 1)[1].split("```", 1)[0]
    page = ROOT.joinpath("examples", "frontend", "index.html").read_text()
    assert shown == page
    assert len(page.splitlines()) <= 40  # a short example, not an app
