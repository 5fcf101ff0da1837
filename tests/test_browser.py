"""The course as a learner uses it: JupyterLab in headless Chromium, Run All, look at the page.

Executing notebooks with nbmake proves the code runs; only a browser shows that
the widgets render and the inbox view fills. Needs Debian's `chromium`
(Playwright drives it; no browser download). Screenshots of the key moments,
and on failure the page's console log, are left in `test-artifacts/browser/`.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from workshop import isolation
from workshop.waiting import wait_for

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium is not installed, so the browser test is skipped. Install it with "
    "`sudo apt-get install chromium` (Debian, Ubuntu) to run it; .ci/run does.",
)


@pytest.fixture(scope="module")
def lab(course, tmp_path_factory):
    """JupyterLab on 127.0.0.1 with a token, serving a copy of the notebooks, against the test services."""
    root = tmp_path_factory.mktemp("lab")
    for path in (ROOT / "notebooks").glob("*"):
        if path.suffix in (".ipynb", ".py"):
            shutil.copy2(path, root / path.name)
    port, token = isolation.free_port(), secrets.token_hex(16)
    log = open(root / "jupyterlab.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--LabApp.news_url=",
         "--allow-root",  # CI runs as root; elsewhere it changes nothing
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        stdout=log, stderr=subprocess.STDOUT,
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


def run_all(browser, lab, notebook: str):
    """Open a notebook, Run All through the menu, wait until every cell has run; return the page."""
    base, token = lab
    page = browser.new_page()
    console = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(base) else route.abort())
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    stem = Path(notebook).stem
    try:
        page.goto(f"{base}/lab/tree/{notebook}?token={token}")
        page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=60_000)
        # The status bar reads "| Idle" once the kernel is started *and* connected; Run All before that is lost.
        page.locator(".jp-StatusBar-Widget", has_text="| Idle").first.wait_for(timeout=60_000)
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        # Read textContent, not innerText: JupyterLab does not render off-screen cells.
        prompts = page.locator(".jp-Notebook .jp-CodeCell .jp-InputPrompt")

        def settled() -> bool:
            # Run All marks every queued cell [*]; when none is left, the run ended (or stopped at an error).
            texts = [text.strip() for text in prompts.all_text_contents()]
            return bool(texts) and texts[0] not in ("[ ]:", "") and "[*]:" not in texts

        wait_for(settled, timeout=240, what=f"Run All of {notebook} to finish in the browser", interval=1.0)
        texts = [text.strip() for text in prompts.all_text_contents()]
        not_run = [number for number, text in enumerate(texts, 1) if text in ("[ ]:", "")]
        assert not not_run, f"{notebook}: Run All stopped before code cell {not_run[0]}: the cell above it raised"
        page.screenshot(path=str(ARTIFACTS / f"{stem}-done.png"), full_page=False)
        return page
    except Exception:
        page.screenshot(path=str(ARTIFACTS / f"{stem}-FAILED.png"), full_page=True)
        (ARTIFACTS / f"{stem}-console.log").write_text("\n".join(console))
        raise


def assert_checks_passed(page, notebook: str) -> None:
    outputs = page.locator(".jp-OutputArea-output").all_text_contents()
    failed = [text for text in outputs if "CheckFailed" in text]
    assert not failed, f"{notebook}: a check failed in the browser: {failed[0][:300]}"
    assert any("✓" in text for text in outputs), f"{notebook}: no check printed its ✓"


def test_start_here_runs_in_jupyterlab_and_widgets_render(browser, lab):
    page = run_all(browser, lab, "00_start_here.ipynb")
    assert_checks_passed(page, "00")
    slider = page.locator(".jupyter-widgets.widget-slider")
    slider.first.scroll_into_view_if_needed()
    assert slider.count() >= 1, "the slider widget did not render (its text fallback shows instead)"
    assert page.locator(".jp-OutputArea-output", has_text="IntSlider(value=").count() == 0
    page.screenshot(path=str(ARTIFACTS / "00_start_here-widget.png"))


def test_failure_notifications_arrive_in_the_inbox_view(browser, lab):
    page = run_all(browser, lab, "02_failure_notifications.ipynb")
    assert_checks_passed(page, "02")
    inbox = page.locator(".jupyter-widgets.widget-vbox", has_text="Course inbox").first
    inbox.scroll_into_view_if_needed()
    assert inbox.is_visible(), "the inbox view did not render"
    shown = inbox.text_content()
    assert "workshop-users-pipeline failed" in shown, f"the inbox view does not show the failure notification: {shown[:500]}"
    inbox.screenshot(path=str(ARTIFACTS / "02_inbox_view.png"))
