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

import pytest
import requests

from workshop import checkpoints
from workshop import settings as settings_module
from workshop.notebook import checks, progress
from workshop.servers.board import Board
from workshop.settings import Settings

from .course_folders import ROOT
from .fake_events import FakeEvents, event


@pytest.fixture
def room_server(serve_in_thread, free_port, monkeypatch):
    """A learner `ann` in a room whose Prefect server is the stand-in; yields the events it received."""
    events: list[dict] = []
    serve_in_thread(FakeEvents(events), free_port)
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

    # The same check as the first, laid out anew with a comment: the same checkpoint on the board.
    run_cell("x = 2\ncheck(1 + 1 == x,  # reflowed\n      'two',\n      'not two')")

    assert capsys.readouterr().out == "✓ two\n✓ two\n"
    assert progress.flush(10)
    passed, failed, reflowed = room_server
    assert passed["event"] == "workshop.check.passed" and failed["event"] == "workshop.check.failed"
    assert passed["resource"]["prefect.resource.id"] == "workshop.learner.ann"
    (first,) = checkpoints.in_source("check(1 + 1 == x, 'two', 'not two')")
    assert passed["payload"] == {"learner": "ann", "notebook": "02", "text": "two", "checkpoint": first.key,
                                 "title": "two"}
    assert failed["payload"]["title"] == "three" and failed["payload"]["text"] == "not three"
    assert failed["payload"]["checkpoint"] not in (first.key, "check(")  # the whole call, not its first line
    assert reflowed["payload"]["checkpoint"] == first.key


def test_a_check_before_the_exercises_are_imported_is_found_in_the_notebooks_folder(room_server, tmp_path, monkeypatch):
    """Notebook 00 checks the environment before it imports its exercises; JupyterLab starts its kernel in its folder."""
    shutil.copy(ROOT / "notebooks" / "00_start_here.ipynb", tmp_path)
    monkeypatch.chdir(tmp_path)
    cell = "class problems:\n    empty = True\n    def iterrows():\n        return []\ncheck(problems.empty, 'Python and every package are the versions the course " \
           "needs',\n      'some versions are off: ' + '; '.join(f'{name} {row.found} (wants {row.wanted}): {row.fix}'\n" \
           "                                              for name, row in problems.iterrows()))"  # its first check
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
    board = Board(settings_module.current().course_prefect_api_url, ("workshop", "secret"), ROOT / "notebooks")
    snapshot = board.snapshot()

    assert not snapshot["error"]
    assert [(n["number"], n["checkpoints"]) for n in snapshot["notebooks"]] == [
        (number, len(about["checkpoints"])) for number, about in notebooks.items()]
    learners = {learner["name"]: learner for learner in snapshot["learners"]}
    assert learners["bob"]["notebooks"] == {"02": {"passed": 2, "failed": 1, "not-attempted": 0}}
    assert learners["bob"]["last"]["checkpoint"] == third and learners["bob"]["last"]["outcome"] == "failed"
    assert learners["ann"]["notebooks"] == {"02": {"passed": 1, "failed": 0, "not-attempted": 0}}
    assert learners["ann"]["last"]["notebook"] == "03"


def test_events_that_are_not_a_course_checks_are_counted_and_left_out_and_the_board_stays_up(room_server):
    """Anyone can emit an event named workshop.check.*, with any payload (notebook 03 teaches custom events): one
    with a learner that is a number took the board down for the whole room, on every read, across restarts."""
    first = checkpoints.in_notebooks(ROOT / "notebooks")["02"]["checkpoints"][0]
    room_server.append(event("ann", first, "passed", 3))
    for number, odd in enumerate(({"learner": 7}, {"learner": ["ann"]}, {"checkpoint": {"x": 1}}, {"notebook": None})):
        bad = event("bob", first, "passed", 2)
        bad["id"] = f"odd-{number}"
        bad["payload"] |= odd
        room_server.append(bad)
    room_server.append({**event("cy", first, "passed", 1), "event": checkpoints.EVENT_PREFIX + "exploded"})
    room_server.append({**event("dee", first, "passed", 1), "payload": "not an object"})
    board = Board(settings_module.current().course_prefect_api_url, ("workshop", "secret"), ROOT / "notebooks")
    snapshot = board.snapshot()
    json.dumps(snapshot, allow_nan=False)  # what the board's page reads
    assert [learner["name"] for learner in snapshot["learners"]] == ["ann"]
    assert snapshot["skipped"] == 6 and "6 events named workshop.check.* did not come from a course check" in snapshot["error"]


def test_predictions_are_counted_apart_from_checks_and_never_make_a_learner_stuck(room_server):
    from workshop.exercises import ex02

    first = checkpoints.in_notebooks(ROOT / "notebooks")["02"]["checkpoints"][0]
    room_server.append(event("ann", first, "passed", 5))
    for prediction, outcome, minutes in (("forgets_state", "wrong", 4), ("storm_alerts", "right", 3), ("forgets_state", "right", 2)):
        room_server.append({**event("ann", prediction, outcome, minutes), "event": checkpoints.PREDICTION_PREFIX + outcome})
    board = Board(settings_module.current().course_prefect_api_url, ("workshop", "secret"), ROOT / "notebooks")
    (ann,) = board.snapshot()["learners"]
    assert ann["predictions"] == {"made": 2, "right": 2}  # the latest of each prediction counts
    assert ann["last"]["outcome"] == "passed" and ann["notebooks"]["02"]["failed"] == 0

    # What a kernel sends for a prediction, in a room.
    ex02.forgets_state.reveal("Failed", "Completed")
    progress.flush()
    sent = [e for e in room_server if e["event"].startswith(checkpoints.PREDICTION_PREFIX) and e["payload"]["learner"] == "ann"
            and e["payload"]["checkpoint"] == "forgets_state" and "it was 'Completed'" in e["payload"]["text"]]
    assert sent and sent[-1]["event"] == checkpoints.PREDICTION_PREFIX + "wrong"


def test_the_rooms_report_times_each_learner_per_notebook_with_their_hints_and_predictions(room_server, serve_in_thread,
                                                                                           tmp_path):
    """What an instructor takes away: per learner and notebook, first to last check, checks passed, hints asked for,
    predictions made; per notebook the median and spread. Hints come from `.hint()` in a kernel of the room."""
    import csv

    from workshop.exercises import Exercise, ex02
    from workshop.servers.board import timings_csv
    from workshop.servers.inbox import make_app
    from workshop.testing.isolation import free_port as another_port

    first, second = checkpoints.in_notebooks(ROOT / "notebooks")["02"]["checkpoints"][:2]
    room_server.extend([event("ann", first, "failed", 50), event("ann", first, "passed", 45), event("ann", second, "passed", 20),
                        event("bob", first, "passed", 30), event("bob", second, "failed", 10),
                        {**event("bob", "forgets_state", "right", 29), "event": checkpoints.PREDICTION_PREFIX + "right"},
                        event("=cmd", first, "passed", 5), event("bob", first, "passed", 5, notebook="=HYPERLINK(0)")])
    exercise = next(value for value in vars(ex02).values() if isinstance(value, Exercise))
    namespace = {"ex": ex02}
    exec(compile(f"ex.{exercise.name}.hint()\nex.{exercise.name}.hint()", "<cell-hints>", "exec"), namespace)
    assert progress.flush(10)
    asked = [e for e in room_server if e["event"] == checkpoints.HINT_EVENT]
    assert [e["payload"]["checkpoint"] for e in asked] == [exercise.name] * 2 and asked[0]["payload"]["notebook"] == "02"

    board = Board(settings_module.current().course_prefect_api_url, ("workshop", "secret"), ROOT / "notebooks")
    timings = board.snapshot()["timings"]
    rows = {row["learner"]: row for row in timings["learners"]}
    assert rows.keys() == {"ann", "bob"}  # no row for a name or notebook that is not the course's
    assert (rows["ann"]["minutes"], rows["ann"]["checks passed"], rows["ann"]["hints asked"]) == (30.0, 2, 2)
    assert (rows["bob"]["minutes"], rows["bob"]["checks passed"], rows["bob"]["predictions made"]) == (20.0, 1, 1)
    (unit,) = timings["notebooks"]
    assert unit["notebook"] == "02" and unit["learners"] == 2 and unit["median minutes"] == 25.0
    assert (unit["fastest"], unit["slowest"]) == (20.0, 30.0)

    # The same as CSV, from the command's function and from the board's address.
    written = list(csv.DictReader(timings_csv(timings).splitlines()))
    assert [(row["learner"], row["minutes"], row["hints asked"]) for row in written] == [("ann", "30.0", "2"), ("bob", "20.0", "0")]
    inbox = serve_in_thread(make_app(settings_module.Settings(), tmp_path / "inbox.sqlite3", board=board), another_port())
    served = requests.get(f"{inbox}/_workshop/board.csv", timeout=10)
    assert served.ok and served.headers["content-type"].startswith("text/csv") and "ann,02," in served.text


def test_the_checkpoints_of_a_notebook_are_its_check_calls_in_order(tmp_path):
    cells = [{"cell_type": "markdown", "source": "check(not this)"},
             {"cell_type": "code", "source": ["x = 1\n", "check(x == 1, 'one', 'no')\n", "ex.first.check(answer)\n"]},
             {"cell_type": "code", "source": "for _ in range(3):\n    check(x == 1, 'one', 'no')\nprint(check)"}]
    (tmp_path / "07_seven_things.ipynb").write_text(json.dumps({"cells": cells}))
    (tmp_path / "scratch.ipynb").write_text(json.dumps({"cells": cells}))
    (one,) = checkpoints.in_source("check(x == 1, 'one', 'no')")
    assert checkpoints.in_notebooks(tmp_path) == {
        "07": {"title": "seven things", "checkpoints": [one.key, "ex.first"], "titles": {one.key: "one", "ex.first": "first"}}}


def test_a_checks_title_is_what_it_says_when_it_passes_and_a_cell_with_ipython_lines_is_read():
    cell = ("!prefect version\n%time x = 1\nleft = await fetch()\n"
            "check(len(left) == 1, f'{len(left)} automation left, as {name} said', 'no')\nex.crash_trigger.check(trigger)")
    plain, exercise = checkpoints.in_source(cell)
    assert plain.title == "… automation left, as … said" and plain.lines == (4, 4)
    assert (exercise.key, exercise.title) == ("ex.crash_trigger", "crash_trigger")
    assert checkpoints.at(cell, 5) == exercise and checkpoints.at(cell, 1) is None
    assert checkpoints.in_source("check(x ==") == []  # a cell being written


def test_a_laptops_inbox_has_no_board_and_says_where_it_is(serve_in_thread, free_port, tmp_path):
    from workshop.servers.inbox import make_app

    inbox = serve_in_thread(make_app(Settings(), tmp_path / "inbox.sqlite3"), free_port)
    answer = requests.get(f"{inbox}/_workshop/board.json", timeout=10)
    assert answer.status_code == 404 and "classroom up" in answer.json()["error"]
