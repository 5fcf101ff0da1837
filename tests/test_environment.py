"""The install files agree with each other, so conda and pip learners get the same course."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_requirements_install_the_package_editable():
    lines = [l.strip() for l in (ROOT / "requirements.txt").read_text().splitlines() if l.strip() and not l.startswith("#")]
    assert lines == ["-e ."]


def test_environment_yml_installs_requirements_txt_on_the_same_python():
    text = (ROOT / "environment.yml").read_text()
    assert re.search(r"^\s+- -r requirements\.txt\s*$", text, re.M), "environment.yml must install requirements.txt"
    python = re.search(r"^\s+- python=(\d+\.\d+)\s*$", text, re.M).group(1)
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == f">={python}"


def test_the_pins_that_keep_the_server_starting():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert "prefect==3.8.8" in deps
    assert any(d.startswith("fastapi") and "<0.155" in d for d in deps)
