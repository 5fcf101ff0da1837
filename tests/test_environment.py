"""The install files agree with each other, so conda and pip learners get the same course."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_requirements_install_the_package_editable_for_a_learner_and_the_readme_adds_the_test_tools():
    lines = [line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert lines == ["-e ."]
    readme = (ROOT / "README.md").read_text()
    assert '.venv/bin/pip install -e ".[test]" && .venv/bin/python -m pytest' in readme
    ci = (ROOT / ".ci" / "run").read_text()
    assert ci.index("pip install -r requirements.txt") < ci.index('pip install -e ".[test]"') < ci.index("-m pytest")


def _installed_closure(requirements: list[str]) -> set[str]:
    """The distributions `requirements` bring in, following each one's own requirements as installed here (markers
    evaluated, no extras): what `pip install` of them puts in a fresh environment."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    seen: set[str] = set()
    todo = [Requirement(line) for line in requirements]
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in seen or (requirement.marker and not requirement.marker.evaluate({"extra": ""})):
            continue
        seen.add(name)
        wanted = [Requirement(line) for line in metadata.requires(name) or []]
        todo += [r for r in wanted if not r.marker or r.marker.evaluate({"extra": ""})]
        todo += [r for extra in requirement.extras for r in wanted if r.marker and r.marker.evaluate({"extra": extra})]
    return seen


def test_a_learners_install_brings_no_test_tools_and_no_jupyterhub():
    """The learner's install (requirements.txt: the package, no extras) and everything it pulls in, as installed:
    JupyterLab and Prefect, none of what only the tests or an instructor's hub use."""
    learner = _installed_closure(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"])
    assert {"prefect", "jupyterlab", "ipywidgets", "pandas"} <= learner
    not_theirs = {"pytest", "pytest-xdist", "playwright", "ruff", "jupyterhub", "jupyterhub-idle-culler"}
    assert not learner & not_theirs, sorted(learner & not_theirs)


def test_a_learners_install_keeps_prefects_start_free_of_the_iri_parsers():
    """Every flow run, CLI call and kernel imports Prefect, which imports jsonschema: with rfc3987-syntax installed,
    each spent 1.4 s more CPU building parsers nobody uses (pyproject.toml's jsonschema pin says why)."""
    import subprocess
    import sys

    loaded = subprocess.run([sys.executable, "-c", "import sys, prefect; print('rfc3987_syntax' in sys.modules)"],
                            capture_output=True, text=True, timeout=120)
    assert loaded.stdout.strip() == "False", (
        "import prefect loads rfc3987_syntax: an install from before the jsonschema pin? `pip uninstall "
        f"rfc3987-syntax` (nothing the course installs needs it)\n{loaded.stdout}{loaded.stderr}")


def test_classroom_hub_in_a_learners_install_says_how_to_add_the_hub_and_starts_nothing(tmp_path, monkeypatch, capsys):
    """An instructor with a learner's install (no hub extra) asks for the hub: one line saying what to install, and no
    room half-started."""
    from importlib import util

    from workshop.hub import service as hub_service
    from workshop.instructor import cli

    find_spec = util.find_spec
    monkeypatch.setattr(util, "find_spec", lambda name, *rest: None if name in hub_service.HUB_MODULES else find_spec(name, *rest))
    monkeypatch.setenv("WORKSHOP_HOME", str(tmp_path / "course"))
    assert cli.main(["classroom", "hub"]) == 2
    error = capsys.readouterr().err
    assert 'pip install -e ".[hub]"' in error and "jupyterhub" in error, error
    assert not (tmp_path / "course").exists() or not any((tmp_path / "course").rglob("*room*"))


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
    """Every third-party module the package imports is a declared dependency; JupyterHub's only in the modules the
    hub runs, Sphinx only in the site's (their extras); the tests' tools in the test extra."""
    import ast
    import sys

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

    def names(requirements: list[str]) -> set[str]:
        return {re.split(r"[<>=\[ ]", line, maxsplit=1)[0].strip().lower() for line in requirements}

    declared = names(project["dependencies"])
    extras = {extra: names(lines) for extra, lines in project["optional-dependencies"].items()}
    by_extra = {"hub/config.py": "hub", "hub/jupyterhub_config.py": "hub", "instructor/site.py": "site",
                "supervisor/redis.py": "scale"}
    distribution = {"yaml": "pyyaml", "IPython": "ipython"}
    missing = set()
    for path in (ROOT / "src" / "workshop").rglob("*.py"):
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
        extra = by_extra.get(path.relative_to(ROOT / "src" / "workshop").as_posix())
        allowed = declared | (extras[extra] if extra else set())
        missing |= {name for name in imported - set(sys.stdlib_module_names) - {"workshop"}
                    if distribution.get(name, name).lower().replace("_", "-") not in allowed}
    assert not missing, f"imported but not declared in pyproject.toml: {sorted(missing)}"
    assert {"pytest", "pytest-xdist", "playwright", "ruff"} <= extras["test"]
    assert {"jupyterhub", "jupyterhub-idle-culler"} == extras["hub"]
    assert {"jupyter-server-proxy"} == extras["remote"] and {"sphinx", "myst-nb", "sphinx-book-theme"} == extras["site"]


def test_the_readme_and_the_settings_list_the_variables_the_settings_read():
    from workshop import settings

    row = re.compile(r"^\| ((?:WORKSHOP|PREFECT|CODESPACE|GITHUB_CODESPACES)_[A-Z_]+) \|", re.M)
    read = {settings.variable(field) for field in settings.Settings.model_fields}
    assert set(row.findall(settings.__doc__)) == read
    assert set(row.findall((ROOT / "README.md").read_text())) == read
