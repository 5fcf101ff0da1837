"""Is this Python environment the one the course needs? Read from the package's own requirements."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from importlib import metadata

from packaging.requirements import Requirement

DISTRIBUTION = "prefect-automations-workshop"
MINIMUM_PYTHON = (3, 11)
FIX = "run `pip install -r requirements.txt` in the course's environment, then restart the kernel"


@dataclass(frozen=True)
class PackageCheck:
    name: str
    wanted: str
    found: str
    ok: bool
    fix: str


def check_environment() -> list[PackageCheck]:
    """One row per requirement: Python itself, then every package pyproject.toml names."""
    python = ".".join(map(str, sys.version_info[:3]))
    python_ok = sys.version_info[:2] >= MINIMUM_PYTHON
    rows = [PackageCheck("python", f">={'.'.join(map(str, MINIMUM_PYTHON))}", python, python_ok,
                         "" if python_ok else "install Python 3.11 or newer and create the course's environment with it")]
    try:
        declared = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        return rows + [PackageCheck(DISTRIBUTION, "installed", "missing", False, FIX)]
    for line in declared:
        requirement = Requirement(line)
        if requirement.marker and not requirement.marker.evaluate():
            continue
        try:
            found = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            rows.append(PackageCheck(requirement.name, str(requirement.specifier) or "any", "missing", False, FIX))
            continue
        ok = requirement.specifier.contains(found, prereleases=True)
        rows.append(PackageCheck(requirement.name, str(requirement.specifier) or "any", found, ok, "" if ok else FIX))
    return rows
