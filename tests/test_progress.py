"""The progress board: what a check reports in a room (and not on a laptop), and what the board makes of it.

A stand-in for the room's Prefect server keeps the events a kernel posts and
pages them back as Prefect's `/api/events/filter` does; the real server is in
tests/test_classroom.py.
"""

from __future__ import annotations

import json
import linecache
import shutil
import socket
import types
from datetime import UTC, datetime, timedelta
from http.server import ThreadingHTTPServer

import pytest
import requests

from workshop import checkpoints
from workshop import settings as settings_module
from workshop.notebook import checks, progress
from workshop.servers.board import Board
from workshop.servers.httpd import JSONHandler

from .test_real_use import ROOT


class FakeEvents(JSONHandler):
    """Prefect's events endpoints, as far as the course uses them: POST /api/events, /api/events/filter, next pages."""

    events: list[dict]
    page_size = 2  # small, so that the board must follow next_page

    def do_POST(self) -> None:  # noqa: N802
        body = self.read_json()
        if self.route == "/api/events":
            self.events.extend(body)
            return self.send_body(204, b"", "text/plain")
        self._page(0)

    def do_GET(self) -> None:  # noqa: N802
        self._page(int(self.query["page"]))

    def _page(self, start: int) -> None:
        ordered = sorted(self.events, key=lambda event: event["occurred"])
        more = start + self.page_size < len(ordered)
        host, port = self.server.server_address[:2]
        self.send_json(200, {"events": ordered[start:start + self.page_size], "total": len(ordered),
                             "next_page": f"http://{host}:{port}/api/events/filter/next?page={start + self.page_size}"
                             if more else None})


@pytest.fixture
def room_server(serve_in_thread, free_port, monkeypatch):
    """A learner `ann` in a room whose Prefect server is the stand-in; yields the events it received."""
    events: list[dict] = []
    handler = type("Events", (FakeEvents,), {"events": events})
    serve_in_thread(ThreadingHTTPServer(("127.0.0.1", free_port), handler))
    joined = settings_module.Settings(room="http://127.0.0.1", learner="ann", room_password="secret",
                                      prefect_port=free_port, mock_port=free_port + 1, inbox_port=free_port + 2,
                                      runner_port=free_port + 3, postgres_port=free_port + 4)
    monkeypatch.setattr(settings_module, "_current", joined)
    return events


def run_cell(source: str, exercises: str | None = "workshop.exercises.ex02") -> None:
    """Run `source` as IPython runs a cell of notebook 02: its lines in linecache, its exercises imported as `ex`
    (`exercises=None`: a cell that comes before that import)."""
    name = f"<cell-{len(linecache.cache)}>"
    linecache.cache[name] = (len(source), None, source.splitlines(keepends=True), name)
    namespace = {"check": checks.check, **({"ex": types.ModuleType(exercises)} if exercises else {})}
    exec(compile(source, name, "exec"), namespace)


def test_a_check_in_a_room_reports_the_learner_the_notebook_and_which_check(room_server, capsys):
    run_cell("x = 2\ncheck(1 + 1 == x, 'two', 'not two')")
    with pytest.raises(checks.CheckFailed):
        run_cell("check(\n    1 + 1 == 3, 'three', 'not three')")

    assert capsys.readouterr().out == "✓ two\n"
    assert progress.flush(10)
    passed, failed = room_server
    assert passed["event"] == "workshop.check.passed" and failed["event"] == "workshop.check.failed"
    assert passed["resource"]["prefect.resource.id"] == "workshop.learner.ann"
    assert passed["payload"] == {"learner": "ann", "notebook": "02", "text": "two",
                                 "checkpoint": "check(1 + 1 == x, 'two', 'not two')"}
    assert failed["payload"]["checkpoint"] == "check(" and failed["payload"]["text"] == "not three"


def test_a_check_before_the_exercises_are_imported_is_found_in_the_notebooks_folder(room_server, tmp_path, monkeypatch):
    """Notebook 00 checks the environment before it imports its exercises; JupyterLab starts its kernel in its folder."""
    shutil.copy(ROOT / "notebooks" / "00_start_here.ipynb", tmp_path)
    first = checkpoints.in_notebooks(tmp_path)["00"]["checkpoints"][0]
    monkeypatch.chdir(tmp_path)
    cell = f"class problems:\n    empty = True\n{first}\n      'no')"  # its first check, as the notebook has it
    run_cell(cell, exercises=None)
    monkeypatch.chdir(ROOT)  # a folder with no course notebook in it: the check is counted under "other"
    run_cell(cell, exercises=None)
    assert progress.flush(10)
    assert [event["payload"]["notebook"] for event in room_server] == ["00", "other"]


def test_on_a_laptop_a_check_sends_nothing(monkeypatch, capsys):
    monkeypatch.setattr(settings_module, "_current", settings_module.Settings())
    monkeypatch.setattr(progress, "local_session", lambda: pytest.fail("a laptop's check sent something"))
    checks.check(True, "fine", "not fine")
    assert capsys.readouterr().out == "✓ fine\n"


def test_a_room_server_that_does_not_answer_never_holds_a_check_up(room_server, monkeypatch, capsys):
    monkeypatch.setattr(progress, "RETRY_AFTER", 0.01)
    with socket.create_server(("127.0.0.1", 0)) as silent:  # takes connections, never answers
        port = silent.getsockname()[1]
        monkeypatch.setattr(settings_module, "_current", settings_module.current().model_copy(update={"prefect_port": port}))
        checks.check(True, "still ticks", "no")
        checks.check(True, "and again", "no")
        assert capsys.readouterr().out == "✓ still ticks\n✓ and again\n"
        assert not progress.flush(0.5)  # the events wait in the kernel's outbox; the checks did not
    assert progress.flush(10)  # the server is gone: each event was given up after its tries, nothing is left
    assert room_server == []


def event(learner: str, checkpoint: str, outcome: str, minutes_ago: float, notebook: str = "02") -> dict:
    when = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    return {"id": f"{learner}-{checkpoint}-{minutes_ago}", "occurred": when.isoformat(),
            "event": checkpoints.EVENT_PREFIX + outcome,
            "payload": {"learner": learner, "notebook": notebook, "checkpoint": checkpoint, "text": outcome}}


def test_the_board_counts_each_learners_latest_outcome_per_checkpoint_of_the_notebooks(room_server):
    notebooks = checkpoints.in_notebooks(ROOT / "notebooks")
    first, second, third = notebooks["02"]["checkpoints"][:3]
    room_server.extend([
        event("bob", first, "failed", 9), event("bob", first, "passed", 8),  # fixed it
        event("bob", second, "passed", 7), event("bob", third, "failed", 1),  # stuck here
        event("ann", first, "passed", 5), event("ann", "check(my_own_test)", "passed", 4),  # not a course check
        event("ann", first, "passed", 3, notebook="03"),  # 02's line is not 03's
    ])
    room_server.append(dict(room_server[0]))  # an event read twice counts once
    board = Board(settings_module.current().local_prefect_api_url, ("workshop", "secret"), ROOT / "notebooks")
    snapshot = board.snapshot()

    assert not snapshot["error"]
    assert [(n["number"], n["checkpoints"]) for n in snapshot["notebooks"]] == [
        (number, len(about["checkpoints"])) for number, about in notebooks.items()]
    learners = {learner["name"]: learner for learner in snapshot["learners"]}
    assert learners["bob"]["notebooks"] == {"02": {"passed": 2, "failed": 1, "not-attempted": 0}}
    assert learners["bob"]["last"]["checkpoint"] == third and learners["bob"]["last"]["outcome"] == "failed"
    assert learners["ann"]["notebooks"] == {"02": {"passed": 1, "failed": 0, "not-attempted": 0}}
    assert learners["ann"]["last"]["notebook"] == "03"


def test_the_checkpoints_of_a_notebook_are_its_check_calls_in_order(tmp_path):
    cells = [{"cell_type": "markdown", "source": "check(not this)"},
             {"cell_type": "code", "source": ["x = 1\n", "check(x == 1, 'one', 'no')\n", "ex.first.check(answer)\n"]},
             {"cell_type": "code", "source": "for _ in range(3):\n    check(x == 1, 'one', 'no')\nprint(check)"}]
    (tmp_path / "07_seven_things.ipynb").write_text(json.dumps({"cells": cells}))
    (tmp_path / "scratch.ipynb").write_text(json.dumps({"cells": cells}))
    assert checkpoints.in_notebooks(tmp_path) == {
        "07": {"title": "seven things", "checkpoints": ["check(x == 1, 'one', 'no')", "ex.first.check(answer)"]}}


def test_a_laptops_inbox_has_no_board_and_says_where_it_is(serve_in_thread, free_port, tmp_path):
    from workshop.servers.inbox import make_inbox_server

    inbox = serve_in_thread(make_inbox_server(free_port, tmp_path / "inbox.sqlite3"))
    answer = requests.get(f"{inbox}/_workshop/board.json", timeout=10)
    assert answer.status_code == 404 and "classroom up" in answer.json()["error"]
