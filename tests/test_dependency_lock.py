"""The lock (requirements-lock.txt, written by ``make lock``) is what every install uses, with
``pip install --require-hashes``: it must pin each dependency that pyproject.toml names, runtime
and ``[dev]``, at a version pyproject allows, with hashes; and pyproject's floors must keep out
the releases with published advisories, so that no new lock can bring them back.
"""

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

BASE_DIR = Path(__file__).resolve().parent.parent
LOCK = BASE_DIR / "requirements-lock.txt"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")

# Releases with published advisories, and the first release above them that we accept.
ADVISORY_FLOORS = {"django": ("5.2.7", "5.2.8"), "urllib3": ("2.5.0", "2.6.0")}


def pyproject_requirements() -> list[Requirement]:
    project = tomllib.loads((BASE_DIR / "pyproject.toml").read_text())["project"]
    names = project["dependencies"] + project["optional-dependencies"]["dev"]
    return [Requirement(name) for name in names]


def locked() -> dict[str, tuple[Version, int]]:
    """Each pinned package's version and number of hashes."""
    assert LOCK.exists(), "no requirements-lock.txt: run `make lock`"
    pins: dict[str, tuple[Version, int]] = {}
    name = ""
    for line in LOCK.read_text().splitlines():
        if match := PIN.match(line):
            name = canonicalize_name(match[1])
            assert name not in pins, f"{name} is pinned twice in the lock"
            pins[name] = (Version(match[2]), 0)
        elif line.strip().startswith("--hash=sha256:") and name:
            version, hashes = pins[name]
            pins[name] = (version, hashes + 1)
    return pins


def test_every_dependency_is_pinned_with_hashes_at_a_version_pyproject_allows():
    pins = locked()
    for requirement in pyproject_requirements():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is in pyproject.toml but not in the lock: run `make lock`"
        version, _ = pins[name]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"the lock pins {name}=={version}, outside pyproject's {requirement}: run `make lock`"
        )
    unhashed = [name for name, (_, hashes) in pins.items() if hashes == 0]
    assert not unhashed, f"pinned without a hash (pip --require-hashes refuses them): {unhashed}"


@pytest.mark.parametrize("package", sorted(ADVISORY_FLOORS))
def test_floors_keep_out_releases_with_advisories(package):
    vulnerable, fixed = ADVISORY_FLOORS[package]
    (requirement,) = [r for r in pyproject_requirements() if canonicalize_name(r.name) == package]
    assert not requirement.specifier.contains(vulnerable)
    assert requirement.specifier.contains(fixed)
    assert locked()[package][0] >= Version(fixed)
