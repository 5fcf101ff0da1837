"""The install files agree with each other, so conda and pip learners get the same course."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_requirements_install_the_package_editable_with_its_test_tools():
    lines = [line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert lines == ["-e .[test]"]


def test_environment_yml_installs_requirements_txt_on_the_same_python():
    text = (ROOT / "environment.yml").read_text()
    assert re.search(r"^\s+- -r requirements\.txt\s*$", text, re.M), "environment.yml must install requirements.txt"
    python = re.search(r"^\s+- python=(\d+\.\d+)\s*$", text, re.M).group(1)
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == f">={python}"


def test_prefect_is_pinned_to_the_release_the_course_was_tested_on():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert "prefect==3.9.1" in deps
    from importlib import metadata

    assert metadata.version("prefect") == "3.9.1"


def test_what_the_package_imports_is_declared():
    """Every third-party module the package imports is a declared dependency (tests' tools in the test extra)."""
    import ast

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {d.split(">")[0].split("=")[0].split("<")[0].strip().lower() for d in project["dependencies"]}
    tests_declared = {d.split(">")[0].split("=")[0].strip().lower() for d in project["optional-dependencies"]["test"]}
    distribution = {"yaml": "pyyaml", "ipywidgets": "ipywidgets", "IPython": "ipython", "faker": "faker"}
    imported = set()
    for path in (ROOT / "src" / "workshop").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    import sys

    third_party = {name for name in imported if name not in sys.stdlib_module_names and name != "workshop"}
    missing = {name for name in third_party if distribution.get(name, name).lower().replace("_", "-") not in declared}
    assert not missing, f"imported but not declared in pyproject.toml: {sorted(missing)}"
    assert {"pytest", "pytest-xdist", "playwright", "ruff"} <= tests_declared


def test_the_readme_and_the_settings_list_the_variables_the_settings_read():
    from workshop import settings

    row = re.compile(r"^\| ((?:WORKSHOP|PREFECT)_[A-Z_]+) \|", re.M)
    read = {settings.variable(field) for field in settings.Settings.model_fields}
    assert set(row.findall(settings.__doc__)) == read
    assert set(row.findall((ROOT / "README.md").read_text())) == read
