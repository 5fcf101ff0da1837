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
from playwright.sync_api import expect

from workshop.exercises import lab as lab_module
from workshop.instructor.jupyterlab import START_URL
from workshop.testing.isolation import free_port
from workshop.waiting import wait_for

from . import learner_terminal as term
from .jupyterlab_pages import CHROMIUM, FLAGS, assert_checks_passed, keep_evidence, new_page, run_ended, start_run_all

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
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
    # The README's command, with JupyterLab's own options passed through it (a copy of the notebooks as its folder).
    process = subprocess.Popen(
        [sys.executable, "-m", "workshop", "lab", "--no-browser", "--port", str(port), f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={root}"],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        printed = (root / "jupyterlab.log").read_text()
        if process.poll() is not None:
            raise RuntimeError("JupyterLab exited:\n" + printed[-2000:])
        if f"{base}{START_URL}?token=" not in printed:  # the address it prints opens notebook 00
            return False
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
def playwright():
    """One Playwright for the module: its sync API runs one per thread."""
    from playwright.sync_api import sync_playwright

    shutil.rmtree(ARTIFACTS, ignore_errors=True)  # this run's screenshots only
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="module")
def browser(playwright, tmp_path_factory):
    context = playwright.chromium.launch_persistent_context(
        str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM, headless=True, args=FLAGS,
        viewport={"width": 1400, "height": 1000},
    )
    yield context
    context.close()


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
        keep_evidence(page, stem, ARTIFACTS)
        raise


def test_start_here_runs_in_jupyterlab_and_widgets_render(browser, lab):
    page = run_all(browser, lab, "00_start_here.ipynb")
    assert_checks_passed(page, "00")
    slider = page.locator(".jupyter-widgets.widget-slider")
    slider.first.scroll_into_view_if_needed()
    assert slider.count() >= 1, "the slider widget did not render (its text fallback shows instead)"
    assert page.locator(".jp-OutputArea-output", has_text="IntSlider(value=").count() == 0
    assert page.get_by_text("official Jupyter news").count() == 0, "JupyterLab asked about Jupyter news (offline rooms)"
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
    from workshop import checkpoints
    from workshop.servers.board import Board
    from workshop.servers.inbox import make_app
    from workshop.settings import Settings

    from .fake_events import FakeEvents, event

    notebook = checkpoints.in_notebooks(ROOT / "notebooks")["02"]
    first, second, third = notebook["checkpoints"][:3]
    hostile = "<img src=x onerror=alert(1)>"
    events = [event("ann", first, "passed", 3), event("ann", second, "passed", 2),
              event("bob", first, "passed", 4), event("bob", third, "failed", 1, title=notebook["titles"][third])]
    events[-1]["payload"]["text"] = hostile  # what a check says is the learner's code's: shown as text
    prefect = serve_in_thread(FakeEvents(events), free_port())
    board = Board(f"{prefect}/api", None, ROOT / "notebooks")
    inbox = serve_in_thread(make_app(Settings(), tmp_path / "inbox.sqlite3", board=board), free_port())

    page = new_page(browser, inbox)
    page.goto(f"{inbox}/_workshop/board")
    bob = page.locator("tr", has_text="bob")
    bob.wait_for(timeout=15_000)
    assert "stuck" in (bob.get_attribute("class") or "")
    assert "1 of" in bob.text_content() and hostile in bob.text_content()
    assert notebook["titles"][third] in bob.text_content()  # the check by what it says, not by its code
    ann = page.locator("tr", has_text="ann")
    assert "2 of" in ann.text_content() and "stuck" not in (ann.get_attribute("class") or "")
    assert "2 learners, 1 whose latest check failed" in page.locator("#summary").text_content()
    timings = page.locator("#timings tbody tr", has_text="02")  # the room's time in 02: ann 1 minute, bob 3
    assert timings.count() == 1 and "3 min" in timings.text_content() and page.locator("#timings a[href='board.csv']").count()
    events.append(event("cy", first, "passed", 0))  # a learner who starts later shows up by themselves
    page.locator("tr", has_text="cy").wait_for(timeout=15_000)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "progress_board.png"), full_page=True)
    assert not [line for line in page.console if line.startswith("error")], page.console
    page.close()


def test_the_inbox_page_shows_each_messages_whole_time_and_keeps_long_lines_in_their_card(browser, serve_in_thread, tmp_path):
    from workshop.servers.inbox import make_app
    from workshop.settings import Settings

    inbox = serve_in_thread(make_app(Settings(), tmp_path / "inbox.sqlite3"), free_port())
    long_name = "workshop-" + "very_long_deployment_name_" * 12  # no hyphen or space: nowhere to break it
    requests.post(f"{inbox}/alerts", json={"subject": f"{long_name} failed", "text": f"See http://127.0.0.1:4200/runs/"
                  f"flow-run/{long_name}\n{'x' * 600}"}, timeout=5).raise_for_status()
    page = new_page(browser, inbox)
    try:
        page.set_viewport_size({"width": 800, "height": 900})
        page.goto(inbox)
        card = page.locator("article").first
        card.wait_for(timeout=15_000)
        card.locator(".summary").click()  # its details: the whole text, the run's link
        page.locator("article .details").first.wait_for(timeout=15_000)
        overflowing = page.evaluate("""() => [...document.querySelectorAll('article, article *')]
            .filter((node) => node.scrollWidth > node.clientWidth + 1 && !['hidden', 'clip'].includes(getComputedStyle(node).overflowX))
            .map((node) => node.className || node.tagName)""")
        assert not overflowing, f"long lines run out of their card: {overflowing}"
        time = page.locator("article .time").first
        assert time.evaluate("(node) => node.scrollWidth <= node.clientWidth"), f"the time is cut: {time.text_content()}"
        page.screenshot(path=str(ARTIFACTS / "inbox-long-lines.png"), full_page=True)
    except Exception:
        keep_evidence(page, "inbox-long-lines", ARTIFACTS)
        raise
    finally:
        page.close()


STRANGERS_PAGE = """<!doctype html><title>a page of another origin</title><script>
const [api, inbox, mock, secret, automation] = %s;
window.results = {};
async function attempt(name, request) {
  try {
    const answer = await request();  // a no-cors request's answer is opaque: sent, but nothing of it can be read
    window.results[name] = answer.type === "opaque" ? "sent, unread" : "read: " + (await answer.text()).slice(0, 300);
  }
  catch (error) { window.results[name] = "blocked: " + error; }
}
function postForm(action, fields) {  // what any page can do without JavaScript's fetch: a form into a hidden frame
  const frame = document.createElement("iframe"); frame.name = "sink" + Math.random(); document.body.append(frame);
  const form = document.createElement("form"); form.method = "POST"; form.action = action; form.target = frame.name;
  for (const [name, value] of Object.entries(fields)) {
    const input = document.createElement("input"); input.name = name; input.value = value; form.append(input);
  }
  document.body.append(form); form.submit();
}
(async () => {
  await attempt("read the secret", () => fetch(`${api}/block_documents/${secret}?include_secrets=true`));
  await attempt("list blocks with secrets", () => fetch(`${api}/block_documents/filter`, {method: "POST",
    headers: {"Content-Type": "application/json"}, body: JSON.stringify({include_secrets: true})}));
  await attempt("delete the automation", () => fetch(`${api}/automations/${automation}`, {method: "DELETE"}));
  await attempt("create a flow, no-cors", () => fetch(`${api}/flows/`, {method: "POST", mode: "no-cors",
    headers: {"Content-Type": "text/plain"}, body: JSON.stringify({name: "planted-by-a-stranger"})}));
  await attempt("read the inbox", () => fetch(`${inbox}/_workshop/messages`));
  await attempt("empty the inbox", () => fetch(`${inbox}/_workshop/messages`, {method: "DELETE"}));
  await attempt("plant a message, no-cors", () => fetch(`${inbox}/planted`, {method: "POST", mode: "no-cors",
    headers: {"Content-Type": "text/plain"}, body: "planted by a stranger"}));
  postForm(`${inbox}/planted`, {subject: "planted by a stranger's form", body: "http://evil.example/"});
  await attempt("read the mock's faults", () => fetch(`${mock}/_workshop/faults`));
  await attempt("take the mock down", () => fetch(`${mock}/_workshop/faults/primary`, {method: "PUT",
    headers: {"Content-Type": "application/json"}, body: JSON.stringify({outage: true})}));
  await attempt("read users", () => fetch(`${mock}/api/?results=1&seed=stranger`));
  await new Promise((done) => setTimeout(done, 1000));  // the form's POST
  window.done = true;
})();
</script>"""


def test_a_page_of_another_origin_can_read_or_change_nothing_on_the_course_services(browser, course, serve_in_thread):
    """A page the learner opens in the same browser (another local server, an ad) calls the course's services:
    it read a Secret block and deleted an automation when Prefect's server allowed every origin."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from prefect.automations import Automation, DoNothing, EventTrigger
    from prefect.blocks.system import Secret

    from workshop.notebook.inbox import Inbox
    from workshop.notebook.mock import MockAPI

    secret_value = secrets.token_hex(8)
    secret_id = Secret(value=secret_value).save("workshop-cross-origin-secret", overwrite=True, _sync=True)
    automation = Automation(name="workshop-cross-origin", trigger=EventTrigger(expect={"never.happens"}),
                            actions=[DoNothing()]).create(_sync=True)
    mock = MockAPI()
    arguments = json.dumps([course.prefect_api_url, course.inbox_url.rstrip("/"), mock.base_url, str(secret_id),
                            str(automation.id)])

    class Strangers(BaseHTTPRequestHandler):
        def do_GET(self):
            body = (STRANGERS_PAGE % arguments).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    stranger = serve_in_thread(ThreadingHTTPServer(("127.0.0.1", free_port()), Strangers))
    page = new_page(browser, "http://127.0.0.1:")
    try:
        page.goto(stranger)
        page.wait_for_function("window.done === true", timeout=30_000)
        results = page.evaluate("window.results")
    finally:
        page.close()
    assert results["read users"].startswith("read: "), results  # the mock's API, like randomuser.me, is for any page
    leaked = {name: said for name, said in results.items() if said.startswith("read: ") and name != "read users"}
    assert not leaked, f"a page of another origin read these: {leaked}"
    assert secret_value not in json.dumps(results)
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        assert client.read_automation(automation.id) is not None, "the stranger's page deleted the automation"
        assert all(flow.name != "planted-by-a-stranger" for flow in client.read_flows(limit=200))
        client.delete_automation(automation.id)
    assert not [m for m in Inbox().messages() if "stranger" in m.text], "a stranger's page planted a message"
    assert not mock.faults()["primary"].outage, "a stranger's page took the mock down"


def test_the_course_ui_asks_the_internet_for_nothing_and_the_v2_ui_for_its_analytics_configuration(browser, course):
    """The README's offline promise, as Chromium sees it: the course's server opens the classic UI (V1) at its root,
    where the run links lead, and it asks nothing of elsewhere; Prefect 3.9.1's V2 UI (at /v2/, and the root of a
    plain `prefect server start`) asks amplitude.com for its configuration although the server's analytics are off."""
    ui = course.prefect_ui_url.rstrip("/")
    elsewhere = {}
    for path in ("/", "/runs", "/automations", "/v2/"):
        page = new_page(browser, ui)  # what is not the course's server is refused here, and recorded
        asked: list[str] = []
        page.on("request", lambda request, asked=asked: asked.append(request.url))
        try:
            page.goto(ui + path)
            page.wait_for_load_state("networkidle", timeout=30_000)
            page.wait_for_timeout(2000)  # what the page asks for once it has drawn itself
        finally:
            page.close()
        elsewhere[path] = sorted({url.split("/")[2] for url in asked if not url.startswith(ui)})
    assert elsewhere == {"/": [], "/runs": [], "/automations": [], "/v2/": ["sr-client-cfg.amplitude.com"]}, elsewhere


def make_the_stale_data_automation_in_the_ui(page, ui: str, names) -> None:
    """Step 7 of the lab, as its notebook writes it for the Prefect UI: Automations, +, Custom, JSON, Run a deployment."""
    page.goto(f"{ui}/automations")
    page.locator("a[href$='/automations/create']").first.click()
    choose(page, page.locator(".automation-trigger-template-select .p-select-button__control"), "Custom")
    page.get_by_role("button", name="JSON").click()
    trigger = json.loads((lab_module.SOLUTION / "stale_data_trigger.json").read_text())
    trigger["match"]["prefect.resource.id"] = names.source  # what the learner writes, with their own prefix
    page.locator("textarea.p-code-input__textarea").fill(json.dumps(trigger, indent=2))
    page.get_by_role("button", name="Next").click()
    choose(page, page.locator(".p-select-button__control").last, "Run a deployment")
    page.wait_for_load_state("networkidle")  # the deployments' list is loaded before one is picked from it
    deployment = page.locator(".p-select-button__control").last
    choose(page, deployment, f"{names.flow} {names.backup}")
    expect(deployment).to_contain_text(names.backup, timeout=10_000)  # picked, as a person sees before going on
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_label("Automation Name")).to_be_visible(timeout=30_000)  # the last step: actions accepted
    page.get_by_label("Automation Name").fill(names.stale)
    page.get_by_role("button", name="Save").click()
    page.wait_for_url("**/automations", timeout=30_000)


def choose(page, select, option: str) -> None:
    """Pick `option` of one of the UI's selects (a button that opens a list of options, by keyboard as by mouse)."""
    select.focus()
    page.keyboard.press("ArrowDown")
    page.get_by_role("option", name=option, exact=True).click()


def test_the_labs_ui_step_made_in_the_prefect_ui_is_seen_by_the_checker(browser, course, tmp_path):
    """The lab's step 7 for real: a learner's automation made with the UI's Custom trigger form, then fired by an event
    from a terminal (step 8); `check 05` finds both."""
    folder = tmp_path / "my-prefect-lab"
    env = term.terminal(dict(os.environ), folder)
    brief = term.brief(env, folder)
    url = term.point_profile(env, folder, brief)
    names = lab_module.Names(term.write_files(folder, brief))
    server = term.Server(url, None, names.prefix)
    serving = term.serve(env, folder)
    page = new_page(browser, course.prefect_ui_url.rstrip("/"))
    try:
        term.wait_for_step(server, 2)
        make_the_stale_data_automation_in_the_ui(page, course.prefect_ui_url.rstrip("/"), names)
        page.get_by_text(names.stale).first.wait_for(timeout=30_000)  # the list of automations shows it
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "lab-ui-automation.png"), full_page=True)
        term.wait_for_step(server, 7, timeout=30)
        term.must(term.run(env, folder, "prefect", "event", "emit", lab_module.STALE_EVENT, "--resource-id", names.source))
        term.wait_for_step(server, 8)
    except Exception:
        keep_evidence(page, "lab-ui", ARTIFACTS)
        raise
    finally:
        page.close()
        term.stop(serving)
        for name in (names.stale, names.failover):
            term.run(env, folder, "prefect", "automation", "delete", name)
        for name in (names.primary, names.backup):
            term.run(env, folder, "prefect", "deployment", "delete", names.deployment(name))


THROUGH_JUPYTER_SCRIPT = """
import requests
import workshop
from prefect import flow, task
from prefect.utilities.urls import url_for

course = workshop.start()

@task
def fetch(page: int) -> int:
    return page

@flow(name="workshop-through-jupyter")
def hello() -> int:
    return sum(fetch.map(range(3)).result())  # tasks, for the run's graph in the screenshot

run = hello(return_state=True).state_details.flow_run_id
link = url_for("flow-run", obj_id=run)  # as the alerts' {{ flow_run|ui_url }} makes it: Prefect's PREFECT_UI_URL
requests.post(workshop.Inbox().url("alerts"), data=f"Hello through JupyterLab: {link}", timeout=10).raise_for_status()
print(course.prefect_ui_url, course.inbox_url, run, sep="\\n")
"""


@pytest.mark.slow  # a course and a JupyterLab of its own
def test_through_a_remote_jupyterlabs_address_the_ui_shows_the_run_and_the_inbox_its_alert(playwright, tmp_path):
    """Binder, say: the browser reaches JupyterLab at a host the course does not know, under /user/NAME/, and nothing
    else of the machine. The course's links go through JupyterLab's proxy (jupyter-server-proxy): the inbox page
    there shows the alert, and its run link opens the run in the Prefect UI, through the same proxy."""
    from .course_folders import private_course

    env = {**private_course(tmp_path), "WORKSHOP_JUPYTER_URL": "/user/ann/", "HOME": str(tmp_path / "home"),
           **isolated_jupyter(tmp_path / "jupyter")}
    port, token = free_port(), secrets.token_hex(16)
    log_path = tmp_path / "jupyterlab.log"
    with open(log_path, "w") as log:
        lab_process = subprocess.Popen(
            [sys.executable, "-m", "workshop", "lab", "--no-browser", "--port", str(port),
             f"--IdentityProvider.token={token}", "--ServerApp.base_url=/user/ann/",
             "--ServerApp.allow_remote_access=True", f"--ServerApp.root_dir={tmp_path}"],
            stdout=log, stderr=subprocess.STDOUT, env=env)
    lab = f"http://lab.example:{port}"  # what the browser calls it; Chromium's resolver maps it to 127.0.0.1
    try:
        wait_for(lambda: _answers(lab_process, f"http://127.0.0.1:{port}/user/ann/api/status?token={token}", log_path),
                 timeout=120, what="JupyterLab to answer", interval=0.5)
        made = subprocess.run([sys.executable, "-c", THROUGH_JUPYTER_SCRIPT], env=env, capture_output=True, text=True,
                              timeout=120, cwd=tmp_path)
        assert made.returncode == 0, made.stdout + made.stderr
        ui, inbox, run = made.stdout.split()[-3:]
        assert ui == f"/user/ann/proxy/absolute/{env['WORKSHOP_PREFECT_PORT']}", ui
        assert inbox == f"/user/ann/proxy/absolute/{env['WORKSHOP_INBOX_PORT']}/", inbox
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=[*FLAGS, "--host-resolver-rules=MAP lab.example 127.0.0.1"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(f"{lab}/user/ann/lab?token={token}")  # logs in to JupyterLab, as its link does
            page.goto(lab + inbox)
            page.get_by_text("Hello through JupyterLab").first.wait_for(timeout=30_000)
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "through-jupyter-inbox.png"))
            page.get_by_text("Hello through JupyterLab").first.click()  # its details: the run link
            with page.expect_popup() as opened:
                page.get_by_text("open the flow run").first.click()
            ui_page = opened.value
            ui_page.get_by_text("workshop-through-jupyter").first.wait_for(timeout=60_000)
            assert ui_page.url.startswith(f"{lab}{ui}/runs/flow-run/{run}"), ui_page.url
            ui_page.screenshot(path=str(ARTIFACTS / "through-jupyter-run.png"))
        except Exception:
            keep_evidence(page, "through-jupyter", ARTIFACTS)
            raise
        finally:
            browser.close()
    finally:
        lab_process.terminate()
        lab_process.wait(timeout=30)
        subprocess.run([sys.executable, "-m", "workshop", "down"], env=env, capture_output=True, timeout=120)


def _answers(process: subprocess.Popen, url: str, log_path: Path) -> bool:
    if process.poll() is not None:
        raise RuntimeError("JupyterLab exited:\n" + log_path.read_text()[-2000:])
    try:
        return requests.get(url, timeout=2).ok
    except requests.ConnectionError:
        return False
