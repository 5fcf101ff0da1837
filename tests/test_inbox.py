"""The notification inbox: both body kinds, durability across restarts, bounded waiting."""

from __future__ import annotations

import threading

import pytest
import requests

from workshop.errors import WorkshopError
from workshop.inbox import Inbox, make_inbox_server


@pytest.fixture
def inbox_at(serve_in_thread, free_port, tmp_path):
    database = tmp_path / "inbox.sqlite3"

    def start():
        return Inbox(serve_in_thread(make_inbox_server(free_port, database)))

    return start


def test_json_and_form_bodies_are_kept(inbox_at):
    inbox = inbox_at()
    requests.post(inbox.url("alerts"), json={"subject": "Flow failed", "body": "run clever-fox"}, timeout=5)
    requests.post(inbox.url(), data={"text": "Ünïcode ✓", "title": "form"}, timeout=5)
    first, second = inbox.messages()
    assert first.path == "/alerts" and first.subject == "Flow failed" and "clever-fox" in first.text
    assert second.data == {"text": "Ünïcode ✓", "title": "form"}
    assert inbox.messages(after=first.id) == [second]


def test_messages_survive_a_restart(serve_in_thread, free_port, tmp_path):
    database = tmp_path / "inbox.sqlite3"
    server = make_inbox_server(free_port, database)
    inbox = Inbox(serve_in_thread(server))
    requests.post(inbox.url(), json={"subject": "kept"}, timeout=5)
    server.shutdown()
    server.server_close()
    restarted = Inbox(serve_in_thread(make_inbox_server(free_port, database)))
    assert [m.subject for m in restarted.messages()] == ["kept"]


def test_wait_for_returns_the_match_and_the_time_taken(inbox_at):
    inbox = inbox_at()
    requests.post(inbox.url(), json={"subject": "old news"}, timeout=5)
    mark = inbox.last_id()
    later = threading.Timer(0.3, lambda: requests.post(inbox.url(), json={"subject": "news: run-42 failed"}, timeout=5))
    later.start()
    message, waited = inbox.wait_for("run-42", after=mark, timeout=10)
    assert message.subject == "news: run-42 failed"
    assert 0.2 <= waited < 5


def test_wait_for_is_bounded(inbox_at):
    inbox = inbox_at()
    with pytest.raises(WorkshopError, match="Timed out after 0.5 s waiting for a notification containing 'never'"):
        inbox.wait_for("never", timeout=0.5)


def test_clear_empties_it(inbox_at):
    inbox = inbox_at()
    requests.post(inbox.url(), json={"subject": "x"}, timeout=5)
    assert inbox.clear() == 1 and inbox.messages() == []


def test_a_dead_inbox_says_what_to_do(free_port):
    with pytest.raises(WorkshopError, match="not answering.*python -m workshop up"):
        Inbox(f"http://127.0.0.1:{free_port}").messages()
