"""The course's website (`python -m workshop site`): it builds from executed notebooks, links only to what it has,
and says what is missing. The suite builds the real one from its own runs after a whole run (conftest.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from workshop.errors import WorkshopError
from workshop.instructor import site

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def executed(tmp_path):
    folder = tmp_path / "executed"
    folder.mkdir()
    for path in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"):
        shutil.copy2(path, folder / path.name)  # unexecuted stand-ins: the build is what is tested here
    return folder


def test_the_site_has_every_notebook_the_guide_and_the_files_the_notebooks_link_to(executed, tmp_path):
    start = site.build(ROOT, executed, tmp_path / "site", launch_url="https://mybinder.org/v2/gh/o/r/HEAD")
    pages = {path.name for path in (tmp_path / "site" / "notebooks").glob("*.html")}
    assert pages == {path.with_suffix(".html").name for path in executed.glob("*.ipynb")}
    index = start.read_text()
    assert "Run it yourself" in index and "https://mybinder.org/v2/gh/o/r/HEAD" in index
    assert (tmp_path / "site" / "instructors.html").is_file()
    downloads = {path.name for path in (tmp_path / "site" / "_downloads").rglob("*") if path.is_file()}
    assert {"users_pipeline.py", "prefect.yaml"} <= downloads  # the notebooks' links to their files resolve
    assert site.broken_links(tmp_path / "site") == []


def test_a_broken_link_is_found(executed, tmp_path):
    site.build(ROOT, executed, tmp_path / "site")
    page = tmp_path / "site" / "notebooks" / "00_start_here.html"
    page.write_text(page.read_text().replace("</body>", "<a href='../nowhere.html'>x</a><a href='#no-such'>y</a></body>"))
    assert site.broken_links(tmp_path / "site") == ["notebooks/00_start_here.html: ../nowhere.html",
                                                   "notebooks/00_start_here.html: #no-such"]


def test_without_a_runs_notebooks_it_says_how_to_get_them(executed, tmp_path):
    (executed / "03_event_driven_redeploy.ipynb").unlink()
    with pytest.raises(WorkshopError, match="No executed copy of 03_event_driven_redeploy.ipynb.*Run the test suite"):
        site.build(ROOT, executed, tmp_path / "site")


def test_without_sphinx_it_says_what_to_install(executed, tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "myst_nb" else real(name, *a))
    with pytest.raises(WorkshopError, match=r'pip install -e "\.\[site\]"'):
        site.build(ROOT, executed, tmp_path / "site")
