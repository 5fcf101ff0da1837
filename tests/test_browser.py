"""The course as a learner uses it: JupyterLab in headless Chromium, Run All, look at the page; the inbox page beside it.

Executing notebooks (tests/test_notebooks.py) proves the code runs; only a browser shows that
the widgets render, the inbox view fills and the inbox page updates live. Needs
Debian's `chromium` (Playwright drives it; no browser download). Screenshots of
the key moments, and on failure the page's console log, are left in
`test-artifacts/browser/`.

The JupyterLab here is isolated from the user's own: its own settings,
workspaces, configuration and runtime files, so a learner's saved workspace
(notebooks left open, a theme) never changes what the test sees. The test
plants such a workspace in a stand-in home folder to prove it.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from workshop.testing.isolation import free_port
from workshop.waiting import wait_for

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]

pytestmark = [pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium is not installed, so the browser test is skipped. Install it with "
    "`sudo apt-get install chromium` (Debian, Ubuntu) to run it; .ci/run does.",
), pytest.mark.xdist_group("browser")]  # one Chromium and one JupyterLab for the module's tests


def isolated_jupyter(folder: Path) -> dict[str, str]:
    """Environment variables that keep a JupyterLab away from the user's own settings and state."""
    return {
        "JUPYTER_CONFIG_DIR": str(folder / "config"),  # config files, and lab/workspaces, lab/user-settings below it
        "JUPYTERLAB_SETTINGS_DIR": str(folder / "lab-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(folder / "lab-workspaces"),
        "JUPYTER_RUNTIME_DIR": str(folder / "runtime"),
        "JUPYTER_DATA_DIR": str(folder / "data"),
    }


def plant_a_learners_workspace(home: Path) -> None:
    """What JupyterLab leaves in a learner's home after they opened notebooks 00 and 02: the test must ignore it."""
    workspace = {
        "data": {
            "layout-restorer:data": {"main": {"dock": {"type": "tab-area", "currentIndex": 1, "widgets": [
                "notebook:00_start_here.ipynb", "notebook:02_failure_notifications.ipynb"]}}},
            "notebook:00_start_here.ipynb": {"data": {"path": "00_start_here.ipynb", "factory": "Notebook"}},
            "notebook:02_failure_notifications.ipynb": {"data": {"path": "02_failure_notifications.ipynb", "factory": "Notebook"}},
        },
        "metadata": {"id": "default"},
    }
    folder = home / ".jupyter" / "lab" / "workspaces"
    folder.mkdir(parents=True)
    (folder / "default-37a8.jupyterlab-workspace").write_text(json.dumps(workspace))
    settings = home / ".jupyter" / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "themes.jupyterlab-settings").write_text('{"theme": "JupyterLab Dark"}')


@pytest.fixture(scope="module")
def lab(course, tmp_path_factory):
    """JupyterLab on 127.0.0.1 with a token, serving a copy of the notebooks, against the test services."""
    root = tmp_path_factory.mktemp("lab")
    for path in (ROOT / "notebooks").glob("*"):
        if path.suffix in (".ipynb", ".py"):
            shutil.copy2(path, root / path.name)
    home = tmp_path_factory.mktemp("learner-home")
    plant_a_learners_workspace(home)
    port, token = free_port(), secrets.token_hex(16)
    log = open(root / "jupyterlab.log", "w")
    env = {**os.environ, "HOME": str(home), **isolated_jupyter(tmp_path_factory.mktemp("jupyter"))}
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--LabApp.news_url=",
         "--allow-root",  # CI runs as root; elsewhere it changes nothing
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if process.poll() is not None:
            raise RuntimeError("JupyterLab exited:\n" + (root / "jupyterlab.log").read_text()[-2000:])
        try:
            return requests.get(f"{base}/api/status", params={"token": token}, timeout=2).ok
        except requests.ConnectionError:
            return False

    try:
        wait_for(up, timeout=60, what="JupyterLab to answer", interval=0.3)
        yield base, token
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    shutil.rmtree(ARTIFACTS, ignore_errors=True)  # this run's screenshots only
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM, headless=True, args=FLAGS,
            viewport={"width": 1400, "height": 1000},
        )
        yield context
        context.close()


def new_page(browser, allowed: str):
    page = browser.new_page()
    page.console = []
    page.on("console", lambda message: page.console.append(f"{message.type}: {message.text}"))
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(allowed) else route.abort())
    return page


def start_run_all(page, notebook: str) -> None:
    """In a JupyterLab page with `notebook` open: once it is the current tab and its kernel is ready, Run All Cells
    through the Run menu (which runs the current tab's notebook)."""
    page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current", has_text=notebook).wait_for(timeout=60_000)
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell").first.wait_for(timeout=60_000)
    # The status bar reads "| Idle" once the kernel is started *and* connected; Run All before that is lost.
    page.locator(".jp-StatusBar-Widget", has_text="| Idle").first.wait_for(timeout=60_000)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()


def run_ended(page, notebook: str) -> bool:
    """True once Run All has ended; an error if it stopped early (a cell raised)."""
    # Read textContent, not innerText: JupyterLab does not render off-screen cells.
    prompts = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt")
    texts = [text.strip() for text in prompts.all_text_contents()]
    # Run All marks every queued cell [*]; when none is left, the run ended (or stopped at an error).
    if not texts or texts[0] in ("[ ]:", "") or "[*]:" in texts:
        return False
    not_run = [number for number, text in enumerate(texts, 1) if text in ("[ ]:", "")]
    assert not not_run, f"{notebook}: Run All stopped before code cell {not_run[0]}: the cell above it raised"
    return True


def keep_evidence(page, name: str, folder: Path = ARTIFACTS) -> None:
    """A failed page's screenshot and console log, for the person reading the failure."""
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}-FAILED.png"), full_page=True)
    (folder / f"{name}-console.log").write_text("\n".join(page.console))


def run_all(browser, lab, notebook: str, while_running=None):
    """Open a notebook, Run All through the menu, wait until every cell has run; return the page."""
    base, token = lab
    page = new_page(browser, base)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    stem = Path(notebook).stem
    try:
        page.goto(f"{base}/lab/tree/{notebook}?token={token}")
        page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell").first.wait_for(timeout=60_000)
        tabs = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab").all_text_contents()
        assert tabs == [notebook], f"JupyterLab opened {tabs}: it restored a workspace that is not the test's"
        start_run_all(page, notebook)

        def ended() -> bool:
            if while_running:
                while_running()
            return run_ended(page, notebook)

        wait_for(ended, timeout=300, what=f"Run All of {notebook} to finish in the browser", interval=1.0)
        page.screenshot(path=str(ARTIFACTS / f"{stem}-done.png"), full_page=False)
        return page
    except Exception:
        keep_evidence(page, stem)
        raise


def assert_checks_passed(page, notebook: str) -> None:
    outputs = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output").all_text_contents()
    failed = [text for text in outputs if "✗" in text]  # what a failed check shows (a raising cell also stops Run All)
    assert not failed, f"{notebook}: a check failed in the browser: {failed[0][:300]}"
    assert any("✓" in text for text in outputs), f"{notebook}: no check printed its ✓"


def test_start_here_runs_in_jupyterlab_and_widgets_render(browser, lab):
    page = run_all(browser, lab, "00_start_here.ipynb")
    assert_checks_passed(page, "00")
    slider = page.locator(".jupyter-widgets.widget-slider")
    slider.first.scroll_into_view_if_needed()
    assert slider.count() >= 1, "the slider widget did not render (its text fallback shows instead)"
    assert page.locator(".jp-OutputArea-output", has_text="IntSlider(value=").count() == 0
    theme = page.evaluate("document.body.dataset.jpThemeName")
    assert theme == "JupyterLab Light", f"the learner's own theme leaked into the test's JupyterLab: {theme}"
    page.screenshot(path=str(ARTIFACTS / "00_start_here-widget.png"))


def test_failure_notifications_arrive_in_the_inbox_view_and_live_on_the_inbox_page(browser, lab, course):
    inbox_page = new_page(browser, course.inbox_url.rstrip("/"))
    dialogs = []
    inbox_page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    inbox_page.goto(course.inbox_url)  # opened once, never reloaded: what arrives must show up by itself
    inbox_page.locator("#state.live").wait_for(timeout=15_000)
    opened_with = inbox_page.locator("article").count()

    page = run_all(browser, lab, "02_failure_notifications.ipynb")
    assert_checks_passed(page, "02")
    view = page.locator(".jupyter-widgets.widget-vbox", has_text="Course inbox").first
    view.scroll_into_view_if_needed()
    assert view.is_visible(), "the inbox view did not render"
    view.get_by_role("button", name="Refresh").click()  # what arrived since the cell that last refreshed it
    wait_for(lambda: "[workshop-alert-explained]" in view.text_content(), timeout=15, what="the view to refresh")
    shown = view.text_content()
    assert "[workshop-alert-explained]" in shown, f"the inbox view does not show the notebook's last alert: {shown[:500]}"
    view.screenshot(path=str(ARTIFACTS / "02_inbox_view.png"))

    failure = inbox_page.locator("article", has_text="of workshop-users-pipeline failed").first
    failure.wait_for(timeout=15_000)
    assert inbox_page.locator("article").count() > opened_with
    assert "new since this page opened" in inbox_page.locator("#counts").text_content()
    failure.locator(".summary").click()
    run_link = failure.locator(".runlinks a").first
    assert "/runs/flow-run/" in run_link.get_attribute("href"), "the message should link to its flow run"
    assert failure.locator("table td", has_text="Content-Type").count() == 1, "the request headers are shown"

    hostile = "<script>alert(1)</script>"
    requests.post(course.inbox_url + "browser-test", json={"subject": hostile, "body": "<img src=x onerror=alert(2)>"}, timeout=5)
    inbox_page.locator("article .subject", has_text=hostile).wait_for(timeout=15_000)  # shown as those characters
    inbox_page.locator("#search").fill("onerror")
    assert inbox_page.locator("article:not([hidden])").count() == 1
    inbox_page.locator("#search").fill("")
    assert not dialogs, f"a message's text ran as code: {dialogs}"
    inbox_page.screenshot(path=str(ARTIFACTS / "inbox_page.png"), full_page=False)


def test_the_progress_board_shows_each_learner_and_who_is_stuck(browser, serve_in_thread, tmp_path):
    from http.server import ThreadingHTTPServer

    from workshop import checkpoints
    from workshop.servers.board import Board
    from workshop.servers.inbox import make_inbox_server

    from .test_progress import FakeEvents, event

    first, second, third = checkpoints.in_notebooks(ROOT / "notebooks")["02"]["checkpoints"][:3]
    hostile = "<img src=x onerror=alert(1)>"
    events = [event("ann", first, "passed", 3), event("ann", second, "passed", 2),
              event("bob", first, "passed", 4), event("bob", third, "failed", 1)]
    events[-1]["payload"]["text"] = hostile  # what a check says is the learner's code's: shown as text
    prefect = serve_in_thread(ThreadingHTTPServer(("127.0.0.1", free_port()), type("Events", (FakeEvents,), {"events": events})))
    board = Board(f"{prefect}/api", None, ROOT / "notebooks")
    inbox = serve_in_thread(make_inbox_server(free_port(), tmp_path / "inbox.sqlite3", board=board))

    page = new_page(browser, inbox)
    page.goto(f"{inbox}/_workshop/board")
    bob = page.locator("tr", has_text="bob")
    bob.wait_for(timeout=15_000)
    assert "stuck" in (bob.get_attribute("class") or "")
    assert "1 of" in bob.text_content() and hostile in bob.text_content()
    ann = page.locator("tr", has_text="ann")
    assert "2 of" in ann.text_content() and "stuck" not in (ann.get_attribute("class") or "")
    assert "2 learners, 1 whose latest check failed" in page.locator("#summary").text_content()
    events.append(event("cy", first, "passed", 0))  # a learner who starts later shows up by themselves
    page.locator("tr", has_text="cy").wait_for(timeout=15_000)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "progress_board.png"), full_page=True)
    assert not [line for line in page.console if line.startswith("error")], page.console
    page.close()
