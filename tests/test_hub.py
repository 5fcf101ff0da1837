"""A room in the browser: `classroom hub` serves the course through JupyterHub. Learners log in with a name
of their own and the room's password and work in their own JupyterLab, already in the room; the Prefect UI
and the inbox are under the hub's one address.

Needs PostgreSQL's server programs (a room's database), JupyterHub's proxy (configurable-http-proxy, from npm)
and, for the browser test, Debian's Chromium; .ci/run installs all three. Screenshots and the memory each
learner's JupyterLab took are left in `test-artifacts/hub/`.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
import requests

from workshop import settings as settings_module
from workshop.hub import service as hub_service
from workshop.supervisor import postgres, process
from workshop.supervisor.service import port_in_use
from workshop.waiting import wait_for

from .course_folders import ROOT, cli, ports_free, private_course
from .jupyterlab_pages import (
    CHROMIUM,
    FLAGS,
    assert_checks_passed,
    keep_evidence,
    open_from_file_browser,
    run_ended,
    start_run_all,
)

ARTIFACTS = ROOT / "test-artifacts" / "hub"
LEARNERS = ("ann", "bob")
IDLE_MINUTES = 1  # a learner's server idle this long is stopped (a room's default is 30)
PAGE = {"Accept": "text/html"}  # as a browser asks for a page (the Prefect UI answers its pages only to that)

pytestmark = [
    pytest.mark.skipif(postgres.binaries() is None, reason=postgres.INSTALL_HINT),
    pytest.mark.skipif(hub_service.proxy_command() is None, reason=hub_service.PROXY_HINT),
    pytest.mark.xdist_group("hub"),  # one hub for the module's tests
]


@dataclass(frozen=True)
class Hub:
    env: dict[str, str]
    url: str
    password: str  # the room's: every learner's
    admin_password: str
    join: list[str]  # for learners with the course on their laptops: `join` and its arguments but the name


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """An instructor's course folder with `classroom hub` up, on private ports: added to a room that runs, as an
    instructor who started with `classroom up` does. A run link given out before the hub keeps working after it."""
    env = private_course(tmp_path_factory.mktemp("hub-instructor"), WORKSHOP_HUB_IDLE_MINUTES=str(IDLE_MINUTES))
    home = Path(env["WORKSHOP_HOME"])
    try:
        room = cli(env, "classroom", "up", timeout=300)
        assert room.returncode == 0, room.stdout + room.stderr
        # A learner joins from their laptop before the hub: the UI address `join` gives them, and a run link.
        laptop = {key: value for key, value in private_course(tmp_path_factory.mktemp("eve")).items()
                  if key not in ("WORKSHOP_PREFECT_PORT", "WORKSHOP_MOCK_PORT", "WORKSHOP_INBOX_PORT")}
        line = re.search(r"python -m workshop (join http://workshop:\S+) --as YOUR_NAME(.*)", room.stdout)
        joined = cli(laptop, *line.group(1).split(), *line.group(2).split(), "--as", "eve")
        assert joined.returncode == 0, joined.stdout + joined.stderr
        server = f"http://127.0.0.1:{env['WORKSHOP_PREFECT_PORT']}"
        given = re.search(r"Prefect UI: (\S+)", joined.stdout).group(1)
        link = f"{server}/runs/flow-run/{'0' * 8}-0000-0000-0000-{'0' * 12}"  # as an alert links a run, before the hub
        assert given == server and requests.get(link, headers=PAGE, timeout=30).ok
        up = cli(env, "classroom", "hub", timeout=300)
        assert up.returncode == 0, up.stdout + up.stderr
        assert "restarts with its UI under /prefect/" in up.stdout, up.stdout  # said before the room's server restarts
        for old, new in ((given, f"{server}/prefect/"), (link, link.replace(server, f"{server}/prefect"))):
            moved = requests.get(old, headers=PAGE, timeout=30)
            assert moved.ok and moved.url == new and moved.history, (old, moved.url)
        assert cli(laptop, "status").returncode == 0  # eve's course folder still works in the room
        url = re.search(r"Learners open (\S+)/ in a browser", up.stdout).group(1)
        password = re.search(r"the room's password: (\S+)", up.stdout).group(1)
        assert url == f"http://127.0.0.1:{env['WORKSHOP_HUB_PORT']}", up.stdout  # loopback unless the instructor names one
        join = re.search(r"python -m workshop (join http://workshop:\S+) --as YOUR_NAME(.*)", up.stdout)
        yield Hub(env, url, password, (home / "hub-admin-password").read_text().strip(),
                  [*join.group(1).split(), *join.group(2).split()])
    finally:
        down = cli(env, "classroom", "down", timeout=120)
        shutil.rmtree(postgres.room_folder(settings_module.Settings(home=home)), ignore_errors=True)
    assert down.returncode == 0, down.stdout + down.stderr
    hub_ports = range(int(env["WORKSHOP_HUB_PORT"]), int(env["WORKSHOP_HUB_PORT"]) + 3)
    assert ports_free(env) and not any(port_in_use(port) for port in hub_ports), "classroom down left a port taken"
    assert not learner_servers(home), "classroom down left a learner's JupyterLab running"


def learner_servers(home: Path) -> dict[str, psutil.Process]:
    """The learners' JupyterLab servers of this hub, by learner."""
    found = {}
    for candidate in psutil.process_iter(["cmdline", "cwd"]):
        line, cwd = candidate.info["cmdline"] or [], candidate.info["cwd"] or ""
        if any(part.endswith("jupyterhub-singleuser") for part in line) and cwd.startswith(str(home)):
            found[Path(cwd).name] = candidate
    return found


def log_in(hub: Hub, name: str, password: str) -> tuple[requests.Session, requests.Response]:
    """Log in through the hub's form, as a browser does; returns the session and the form's answer."""
    session = requests.Session()
    session.get(f"{hub.url}/hub/login", timeout=30)
    answer = session.post(f"{hub.url}/hub/login", timeout=30, allow_redirects=False, data={
        "username": name, "password": password, "_xsrf": session.cookies.get("_xsrf")})
    return session, answer


def open_lab(hub: Hub, session: requests.Session, name: str) -> requests.Response:
    """The learner's JupyterLab page, once their server has started (the first log-in starts it)."""
    session.get(f"{hub.url}/hub/spawn", timeout=60)

    def started() -> requests.Response | None:
        page = session.get(f"{hub.url}/user/{name}/lab", timeout=30)
        if page.status_code == 424:  # "not running" (it was still stopping at the first ask): the page's start button
            session.get(f"{hub.url}/hub/spawn", timeout=60)
        return page if page.url.endswith(f"/user/{name}/lab") and page.ok else None

    return wait_for(started, timeout=150, what=f"{name}'s JupyterLab to start", interval=1.0)


def test_a_wrong_password_is_refused_and_a_learner_reaches_only_their_own_server(hub):
    for name, password in (("mallory", "not-the-password"), ("instructor", hub.password), ("mal-lory", hub.password)):
        _, refused = log_in(hub, name, password)
        assert refused.status_code == 403, (name, refused.status_code)
        assert "jupyterhub-hub-login" not in refused.cookies, name

    ann, welcomed = log_in(hub, "ann", hub.password)
    assert welcomed.status_code == 302, welcomed.text[:300]
    lab = open_lab(hub, ann, "ann")
    assert "JupyterLab" in lab.text
    files = ann.get(f"{hub.url}/user/ann/api/contents", timeout=30).json()["content"]
    assert {"02_failure_notifications.ipynb", "users_pipeline.py"} <= {item["name"] for item in files}

    bob, _ = log_in(hub, "bob", hub.password)
    open_lab(hub, bob, "bob")
    for path in ("lab", "api/contents", "files/02_failure_notifications.ipynb", "api/kernels"):
        assert bob.get(f"{hub.url}/user/ann/{path}", timeout=30).status_code == 403, path
    assert bob.get(f"{hub.url}/hub/admin", timeout=30, allow_redirects=False).status_code == 403

    instructor, admitted = log_in(hub, "instructor", hub.admin_password)
    assert admitted.status_code == 302 and admitted.headers["Location"].endswith("/hub/admin")  # no JupyterLab to wait for
    assert instructor.get(f"{hub.url}/hub/admin", timeout=30).ok
    refused = instructor.get(f"{hub.url}/hub/spawn", timeout=60)
    assert "has no JupyterLab of its own" in refused.text and not (Path(hub.env["WORKSHOP_HOME"]) / "hub" / "learners" / "instructor").exists()
    users = instructor.get(f"{hub.url}/hub/api/users", timeout=30,
                           headers={"X-XSRFToken": instructor.cookies.get("_xsrf", "")}).json()
    assert {user["name"] for user in users} >= {"ann", "bob", "instructor"}

    # Nothing of the hub listens beyond loopback: the hub, its proxy, the learners' servers and their kernels.
    home = Path(hub.env["WORKSHOP_HOME"])
    tree = psutil.Process(process.live_record(home / "run", "hub").pid)
    listening = {(member.pid, connection.laddr.ip) for member in [tree, *tree.children(recursive=True)]
                 for connection in member.net_connections(kind="inet") if connection.status == psutil.CONN_LISTEN}
    assert listening and {ip for _, ip in listening} == {"127.0.0.1"}, listening

    # The inbox and the progress board under the hub's address keep asking for the room's password.
    room = ("workshop", hub.password)
    assert requests.get(f"{hub.url}/inbox/ann/_workshop/messages", timeout=30).status_code == 401
    assert requests.get(f"{hub.url}/inbox/ann/_workshop/messages", auth=room, timeout=30).json() == []
    assert requests.get(f"{hub.url}/inbox/_workshop/board.json", auth=room, timeout=30).json()["notebooks"]
    assert requests.get(f"{hub.url}/api/health", timeout=30).json() is True


def test_the_hubs_prefect_ui_keeps_its_files_when_another_prefect_server_of_the_installation_starts(hub):
    from prefect.server.api.server import create_ui_app

    create_ui_app(ephemeral=False)  # what another server's start does: the installation's copy of the UI, made for "/"
    page = requests.get(f"{hub.url}/prefect/", timeout=30)
    files = re.findall(r'(?:src|href)="(/prefect/[^"]+\.(?:js|css))"', page.text)
    assert files, f"the UI's page does not load its files from under /prefect/: {page.text[:500]}"
    assert all(requests.get(hub.url + file, timeout=30).ok for file in files)


def test_a_learner_with_the_course_on_their_laptop_joins_a_hubs_room_and_is_shown_its_prefect_ui(hub, tmp_path):
    laptop = {key: value for key, value in private_course(tmp_path / "dee").items()
              if key not in ("WORKSHOP_PREFECT_PORT", "WORKSHOP_MOCK_PORT", "WORKSHOP_INBOX_PORT")}
    joined = cli(laptop, *hub.join, "--as", "dee")
    assert joined.returncode == 0, joined.stdout + joined.stderr
    ui = f"http://127.0.0.1:{hub.env['WORKSHOP_PREFECT_PORT']}/prefect"  # a room with a hub serves its UI there
    assert f"Prefect UI: {ui} " in joined.stdout, joined.stdout
    assert requests.get(f"{ui}/", timeout=30).ok
    assert cli(laptop, "leave").returncode == 0


def log_in_in_browser(browser, hub: Hub, name: str):
    context = browser.new_context(viewport={"width": 1400, "height": 1000},
                                  http_credentials={"username": "workshop", "password": hub.password})
    page = context.new_page()
    page.console = []
    page.on("console", lambda message: page.console.append(f"{message.type}: {message.text}"))
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(hub.url) else route.abort())
    page.goto(f"{hub.url}/hub/login")
    page.fill("#username_input", name)
    page.fill("#password_input", hub.password)
    page.click("#login_submit")
    # The log-in starts their server. One that the idle culler is stopping just then (this module's culler acts
    # after a minute) is not started again by the pending page: ask again, as the learner's click on "start" does.
    from playwright.sync_api import TimeoutError as PageTimeout

    deadline = time.monotonic() + 240
    while True:
        try:
            page.wait_for_url(f"**/user/{name}/lab/**", timeout=30_000)
            return page
        except PageTimeout:
            if time.monotonic() > deadline:
                raise
            page.goto(f"{hub.url}/hub/spawn")  # a spawn under way is not started twice: this shows its progress


def mebibytes(process: psutil.Process) -> int:
    """What the process alone takes (unique set size: what stopping it frees), in MiB."""
    try:
        return round(process.memory_full_info().uss / 2**20)
    except psutil.Error:
        return 0


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed: `sudo apt-get install chromium`; .ci/run does.")
def test_a_run_link_opened_before_logging_in_to_the_ui_asks_for_the_login_then_shows_the_run(hub):
    """An alert's run link, clicked in a browser that has not logged in to the room's Prefect UI: its login box
    (not "Page not found"), no Prefect Cloud advertisement, then the run. Through the hub, and at the address a
    laptop learner was given before the hub was added."""
    from playwright.sync_api import sync_playwright

    server, auth = f"http://127.0.0.1:{hub.env['WORKSHOP_PREFECT_PORT']}", ("workshop", hub.password)
    flow = requests.post(f"{server}/api/flows/", json={"name": "workshop-linked"}, auth=auth, timeout=30).json()
    run = requests.post(f"{server}/api/flow_runs/", json={"flow_id": flow["id"], "name": "linked-run"}, auth=auth,
                        timeout=30).json()
    links = {"hub": f"{hub.url}/prefect/runs/flow-run/{run['id']}", "laptop": f"{server}/runs/flow-run/{run['id']}"}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            for where, link in links.items():
                page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()  # never logged in
                try:
                    page.goto(link)
                    box = page.locator("input[placeholder='admin:pass']")
                    box.wait_for(timeout=60_000)
                    page.get_by_text("Oops. Something went wrong.").first.wait_for(timeout=30_000)  # the UI's 401 toast
                    assert page.get_by_text("Prefect Cloud").count() == 0, f"{where}: an advertisement in an offline room"
                    box.fill(f"workshop:{hub.password}")
                    box.press("Enter")
                    page.get_by_text("linked-run").first.wait_for(timeout=60_000)
                except Exception:
                    keep_evidence(page, f"run-link-{where}", ARTIFACTS)
                    raise
                page.context.close()
        finally:
            browser.close()


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed: `sudo apt-get install chromium`; .ci/run does.")
def test_two_learners_run_notebook_02_in_the_hub_and_each_sees_only_their_own_alerts(hub):
    from playwright.sync_api import sync_playwright

    notebook = "02_failure_notifications.ipynb"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        pages = {name: log_in_in_browser(browser, hub, name) for name in LEARNERS}
        try:
            for page in pages.values():  # as a learner does: open it from the file browser, then Run > Run All Cells
                open_from_file_browser(page, notebook)
                start_run_all(page, notebook)
            wait_for(lambda: all(run_ended(page, notebook) for page in pages.values()), timeout=600,
                     what=f"both learners' Run All of {notebook}", interval=2.0)

            for name, page in pages.items():
                assert_checks_passed(page, "02")
                assert page.get_by_text("official Jupyter news").count() == 0, f"{name}'s JupyterLab asked about news"
                # The notebook's table of services sends the learner's browser through the hub's address.
                shown = " ".join(page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output").all_text_contents())
                assert f"{hub.url}/inbox/{name}/" in shown and f"{hub.url}/prefect" in shown, shown[:1000]
                view = page.locator(".jupyter-widgets.widget-vbox", has_text="Course inbox").first
                view.scroll_into_view_if_needed()
                view.get_by_role("button", name="Refresh").click()
                wait_for(lambda view=view, name=name: f"[workshop-{name}-alert-explained]" in view.text_content(),
                         timeout=30, what=f"{name}'s inbox view to show their last alert")
                other = next(learner for learner in LEARNERS if learner != name)
                assert f"workshop-{other}-" not in view.text_content(), f"{name}'s inbox view shows {other}'s alerts"
                page.screenshot(path=str(ARTIFACTS / f"{name}-02-done.png"))

            # Ann's inbox page under the hub's address: her alerts, none of Bob's.
            ann = pages["ann"]
            ann.goto(f"{hub.url}/inbox/ann/")
            ann.locator("article", has_text="workshop-ann-").first.wait_for(timeout=30_000)
            assert ann.locator("article", has_text="workshop-bob-").count() == 0
            ann.screenshot(path=str(ARTIFACTS / "ann-inbox.png"))
            messages = requests.get(f"{hub.url}/inbox/ann/_workshop/messages", auth=("workshop", hub.password), timeout=30).json()
            assert any(f"{hub.url}/prefect/runs/flow-run/" in message["body"] for message in messages), \
                "an alert's link to its run should open the Prefect UI through the hub"

            # The Prefect UI through the hub: its own log-in (the room's auth string), then Ann's flow.
            ann.goto(f"{hub.url}/prefect/flows")
            ann.locator("input").first.fill(f"workshop:{hub.password}")
            ann.get_by_role("button", name="Login").click()
            ann.goto(f"{hub.url}/prefect/flows")
            ann.get_by_text("workshop-ann-users-pipeline").first.wait_for(timeout=60_000)
            ann.screenshot(path=str(ARTIFACTS / "ann-prefect-ui.png"))
        except Exception:
            for name, page in pages.items():
                keep_evidence(page, name, ARTIFACTS)
            raise
        finally:
            browser.close()

    # What each learner's JupyterLab takes, with the kernels of notebooks 00 (opened at log-in) and 02 still
    # running, and the hub itself with its proxy: the README's figures.
    home = Path(hub.env["WORKSHOP_HOME"])
    servers = learner_servers(home)
    assert set(LEARNERS) <= servers.keys(), servers
    memory = {name: {"JupyterLab server": mebibytes(servers[name]),
                     "kernels": sorted(mebibytes(kernel) for kernel in servers[name].children(recursive=True))}
              for name in LEARNERS}
    hub_process = psutil.Process(process.live_record(home / "run", "hub").pid)
    proxy = [child for child in hub_process.children() if "configurable-http-proxy" in " ".join(child.cmdline())]
    memory["hub and its proxy"] = mebibytes(hub_process) + sum(mebibytes(child) for child in proxy)
    (ARTIFACTS / "memory.json").write_text(json.dumps({"MiB, unique set size": memory}, indent=1))


def test_an_idle_learners_server_is_stopped_and_their_notebooks_stay(hub):
    cy, _ = log_in(hub, "cy", hub.password)
    open_lab(hub, cy, "cy")
    home = Path(hub.env["WORKSHOP_HOME"])
    assert "cy" in learner_servers(home)
    saved = cy.put(f"{hub.url}/user/cy/api/contents/my-notes.md", timeout=30, headers={"X-XSRFToken": cy.cookies.get("_xsrf", path="/user/cy/")},
                   json={"type": "file", "format": "text", "content": "what I learned"})
    assert saved.status_code in (200, 201), saved.text[:300]

    wait_for(lambda: "cy" not in learner_servers(home), timeout=IDLE_MINUTES * 60 + 120, interval=5.0,
             what=f"the idle culler to stop cy's server after {IDLE_MINUTES} idle minute(s)")
    open_lab(hub, cy, "cy")  # logging in again starts a new one, on the same folder
    notes = cy.get(f"{hub.url}/user/cy/api/contents/my-notes.md", timeout=30).json()
    assert notes["content"] == "what I learned"
