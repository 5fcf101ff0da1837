"""The course as a website: the notebooks with the outputs of a real run, the README's course table and start, the
instructor's guide, and screenshots of what a learner sees, built with Sphinx and MyST-NB into static HTML.

`python -m workshop site` builds it from the executed copies the test run leaves in `test-artifacts/executed/`
(`tests/conftest.py` builds it after a whole suite), with the browser tests' screenshots. Jupyter Book 2 and mystmd
were tried first: their HTML themes are downloaded from the internet at build time, which the course's machines
cannot reach, so the site uses the Sphinx toolchain Jupyter Book 1 was made of, from PyPI alone.
"""

from __future__ import annotations

import html
import re
import shutil
import tempfile
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..errors import WorkshopError

SITE_PACKAGES = ("sphinx", "myst_nb", "sphinx_book_theme")
INSTALL_HINT = 'The site is built with Sphinx and MyST-NB: `pip install -e ".[site]"` installs them.'
SCREENSHOTS = {  # what the browser tests leave under test-artifacts/, in the order a learner meets them
    "browser/00_start_here-widget.png": "Notebook 00 in JupyterLab: the services table and a widget",
    "browser/02_inbox_view.png": "Notebook 02: the inbox view, filled by real alerts",
    "browser/inbox_page.png": "The inbox page beside it, updated live as the alerts arrive",
    "hub/ann-prefect-ui.png": "The Prefect UI: a learner's flows, through a room's JupyterHub",
    "browser/lab-ui-automation.png": "The lab's step 7: an automation made with the Prefect UI's Custom trigger",
    "browser/progress_board.png": "A room's progress board: each learner, their latest check, who is stuck",
    "browser/through-jupyter-inbox.png": "The inbox page through a remote JupyterLab's address (Binder, say)",
    "browser/through-jupyter-run.png": "A flow run and its task graph in the Prefect UI, opened from the alert's link",
}


def require_sphinx() -> None:
    import importlib.util

    if any(importlib.util.find_spec(name) is None for name in SITE_PACKAGES):
        raise WorkshopError(INSTALL_HINT)


def _readme_parts(readme: str) -> tuple[str, str]:
    """The README's opening (title, what the course is, its table of notebooks) and its "Start" section."""
    opening = readme.split("\n## ", 1)[0]
    start = re.search(r"\n## Start\n(.*?)(?=\n## )", readme, re.S)
    return opening, start.group(1) if start else ""


def _index(root: Path, notebooks: list[str], launch_url: str | None, executed_on: str) -> str:
    opening, start = _readme_parts((root / "README.md").read_text())
    launch = f"\n**Run it yourself:** <{launch_url}>\n" if launch_url else ""
    toc = "\n".join(f"notebooks/{Path(name).stem}" for name in notebooks)
    return (f"{opening.strip()}\n{launch}\nThe notebooks here show the outputs of a real run of the course, its test run "
            f"of {executed_on}: a ✓ is a check that passed on that run's Prefect server, and the exercises say "
            "\"not attempted yet\" as they do before you answer them.\n\n## Start\n{start.strip()}\n\n"
            f"```{{toctree}}\n:maxdepth: 1\n:caption: The course\n\n{toc}\n```\n\n"
            "```{toctree}\n:maxdepth: 1\n:caption: Beside it\n\ninstructors\nscreenshots\n```\n")


def _screenshots(shots: Path | None, into: Path) -> str:
    lines = ["# What a learner sees", "", "Taken by the browser tests of the same run, in Chromium.", ""]
    found = [(name, caption) for name, caption in SCREENSHOTS.items() if shots and (shots / name).is_file()]
    for name, caption in found:
        (into / "images").mkdir(exist_ok=True)
        copy = name.replace("/", "-")
        shutil.copy2(shots / name, into / "images" / copy)
        lines += [f"## {caption}", "", f"![{html.escape(caption)}](images/{copy})", ""]
    if not found:
        lines.append("(This build had no screenshots: run the browser tests first.)")
    return "\n".join(lines) + "\n"


CONF = '''\
project = "Prefect automations, hands on"
extensions = ["myst_nb"]
html_theme = "sphinx_book_theme"
html_title = project
html_theme_options = {{"announcement": {announcement!r}, "show_toc_level": 2}}
nb_execution_mode = "off"  # the outputs are a real run's, against the course's own services
nb_render_markdown_format = "myst"  # a cell's Markdown output (the course's services table) with its tables
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3
# A cell's `!command` lines are IPython's, which Pygments' Python lexer refuses; it then highlights them plainly.
suppress_warnings = ["myst.header", "mystnb.unknown_mime_type", "misc.highlighting_failure"]
exclude_patterns = ["_build"]
'''


def build(root: Path, executed: Path, out: Path, *, screenshots: Path | None = None,
          launch_url: str | None = None) -> Path:
    """Build the site from the course folder `root` and the executed notebooks in `executed` into `out`; return the
    start page. Every notebook of the course must be there, executed."""
    require_sphinx()
    from sphinx.cmd.build import build_main

    notebooks = sorted(path.name for path in (root / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    missing = [name for name in notebooks if not (executed / name).is_file()]
    if missing:
        raise WorkshopError(f"No executed copy of {', '.join(missing)} in {executed}: the site shows a real run's "
                            "outputs. Run the test suite first (`python -m pytest`), which leaves them there.")
    executed_on = datetime.fromtimestamp(min((executed / name).stat().st_mtime for name in notebooks),
                                         tz=UTC).strftime("%Y-%m-%d")
    with tempfile.TemporaryDirectory(prefix="workshop-site-") as folder:
        source = Path(folder)
        (source / "notebooks").mkdir()
        for name in notebooks:
            shutil.copy2(executed / name, source / "notebooks" / name)
        for path in _beside_notebooks(root / "notebooks"):  # the files they link to: downloads on the site
            target = source / "notebooks" / path.relative_to(root / "notebooks")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
        (source / "index.md").write_text(_index(root, notebooks, launch_url, executed_on))
        (source / "instructors.md").write_text((root / "INSTRUCTORS.md").read_text())
        (source / "screenshots.md").write_text(_screenshots(screenshots, source))
        announcement = f"Run the course yourself: <a href='{html.escape(launch_url)}'>{html.escape(launch_url)}</a>" \
            if launch_url else ""
        (source / "conf.py").write_text(CONF.format(announcement=announcement))
        built = source / "_build" / "html"  # MyST-NB writes beside the output folder: this way, in the temporary one
        # -W: a broken cross-reference or a page outside the table of contents is an error, not a warning.
        if build_main(["-b", "html", "-q", "-W", "--keep-going", str(source), str(built)]) != 0:
            raise WorkshopError("The site did not build: Sphinx's messages are above.")
        shutil.rmtree(out, ignore_errors=True)
        shutil.copytree(built, out)
    broken = broken_links(out)
    if broken:
        raise WorkshopError("The site links to pages or files it does not have:\n" + "\n".join(broken[:20]))
    return out / "index.html"


def _beside_notebooks(folder: Path) -> list[Path]:
    """The course's files beside its notebooks (the pipeline, the deployments, an automation as a file), not what a
    run of them left there."""
    return [path for path in sorted(folder.rglob("*")) if path.is_file() and path.suffix in (".py", ".yaml", ".yml")
            and not {"output", ".workshop", "__pycache__", ".ipynb_checkpoints"} & set(path.relative_to(folder).parts)]


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.found.append(value)


def broken_links(site: Path) -> list[str]:
    """Each link of the site's pages to a page, anchor or file of its own that does not exist, as `page: link`."""
    broken = []
    anchors: dict[Path, set[str]] = {}
    for page in sorted(site.rglob("*.html")):
        if page.relative_to(site).parts[0] == "_static":
            continue  # the theme's templates, not pages
        parser = _Links()
        parser.feed(page.read_text(errors="replace"))
        for link in parser.found:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or link.startswith(("mailto:", "javascript:", "data:")):
                continue  # another site's: not this site's to check
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                broken.append(f"{page.relative_to(site)}: {link}")
            elif parts.fragment and target.suffix == ".html":
                ids = anchors.setdefault(target, set(re.findall(r'\bid="([^"]+)"', target.read_text(errors="replace"))))
                if unquote(parts.fragment) not in ids:
                    broken.append(f"{page.relative_to(site)}: {link}")
    return broken
