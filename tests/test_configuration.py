"""The README's configuration table and the knobs (gokart/config/) hold each other: every knob
read from the environment has a row, every row names knobs that exist, and every knob says what
it means."""

import re
from pathlib import Path

from django.conf import settings

from gokart.config import KNOBS

README = Path(__file__).resolve().parent.parent / "README.md"


def documented_names() -> set[str]:
    """The variables named in the first column of the README's configuration table."""
    section = README.read_text().split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    names = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            names.update(re.findall(r"`([A-Z][A-Z0-9_]+)`", first_cell))
    return names


def test_every_knob_has_a_row_in_the_readme_and_every_row_a_knob():
    assert settings.configured  # the settings module has read every concern's knobs
    knobs = set(KNOBS)

    assert sorted(knobs - documented_names()) == [], "knobs missing from the README's table"
    assert sorted(documented_names() - knobs) == [], "README rows naming no knob"


def test_every_knob_says_what_it_means():
    assert [name for name, knob in KNOBS.items() if len(knob.meaning) < 10] == []


def test_the_readme_has_each_section_once():
    """A section pasted twice leaves two tables that drift apart: the configuration table above
    is read from the first one only."""
    headings = [line for line in README.read_text().splitlines() if line.startswith("## ")]
    assert sorted({h for h in headings if headings.count(h) > 1}) == []
