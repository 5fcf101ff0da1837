"""Chromium driving the course's pages as a learner would: JupyterLab's Run All, what a run shows, and what a failed
page leaves for the person reading the failure. Shared by the browser and hub tests."""

from __future__ import annotations

import shutil
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def new_page(browser, allowed: str):
    page = browser.new_page()
    page.console = []
    page.on("console", lambda message: page.console.append(f"{message.type}: {message.text}"))
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(allowed) else route.abort())
    return page


def open_from_file_browser(page, notebook: str) -> None:
    """Double-click `notebook` in JupyterLab's file browser, as a learner does. JupyterLab lists the files only once
    it has loaded, which on a loaded machine (two learners' servers starting, a suite beside them) takes a minute."""
    entry = page.locator(".jp-DirListing-itemText", has_text=notebook)
    entry.wait_for(timeout=150_000)
    entry.dblclick()


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


def keep_evidence(page, name: str, folder: Path) -> None:
    """A failed page's screenshot and console log, for the person reading the failure."""
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}-FAILED.png"), full_page=True)
    (folder / f"{name}-console.log").write_text("\n".join(page.console))


def assert_checks_passed(page, notebook: str) -> None:
    outputs = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output").all_text_contents()
    failed = [text for text in outputs if "✗" in text]  # what a failed check shows (a raising cell also stops Run All)
    assert not failed, f"{notebook}: a check failed in the browser: {failed[0][:300]}"
    assert any("✓" in text for text in outputs), f"{notebook}: no check printed its ✓"
