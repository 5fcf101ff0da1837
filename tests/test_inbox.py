"""The notification inbox: body kinds, chat formats, the page, live updates, limits, durability, waiting."""

from __future__ import annotations

import json
import sqlite3
import threading

import pytest
import requests

from workshop.errors import ServiceError, WorkshopTimeout
from workshop.notebook.inbox import Inbox
from workshop.servers.http import LIMITS
from workshop.servers.inbox import make_app
from workshop.settings import Settings

MAX_BODY = LIMITS.body_bytes


@pytest.fixture
def inbox_at(serve_in_thread, free_port, tmp_path):
    database = tmp_path / "inbox.sqlite3"

    def start():
        return Inbox(serve_in_thread(make_app(Settings(), database), free_port))

    return start


def test_json_and_form_bodies_are_kept_with_their_headers(inbox_at):
    inbox = inbox_at()
    requests.post(inbox.url("alerts"), json={"subject": "Flow failed", "body": "run clever-fox"},
                  headers={"X-Trace": "abc", "Authorization": "Bearer secret"}, timeout=5)
    requests.post(inbox.url(), data={"text": "Ünïcode ✓", "title": "form"}, timeout=5)
    first, second = inbox.messages()
    assert first.path == "/alerts" and first.subject == "Flow failed" and first.content == "run clever-fox"
    assert first.headers["x-trace"] == "abc" and first.headers["authorization"] == "(hidden)"  # as HTTP/2 names them
    assert second.data == {"text": "Ünïcode ✓", "title": "form"} and second.subject == "Ünïcode ✓"
    assert inbox.messages(after=first.id) == [second]


def test_repeats_false_keeps_the_first_of_identical_messages_only(inbox_at):
    inbox = inbox_at()
    for channel, subject in (("alerts", "run a failed"), ("alerts", "run a failed"), ("alerts", "run b failed"),
                             ("reports", "run a failed")):
        requests.post(inbox.url(channel), json={"subject": subject, "body": "link"}, timeout=5)
    everything = inbox.messages()
    assert len(everything) == 4
    assert inbox.messages(repeats=False) == [everything[0], everything[2], everything[3]]


def test_a_mattermost_block_lands_with_its_subject(inbox_at):
    """Prefect's MattermostWebhook posts {"text": "<subject>\\r\\n<body>"} to /hooks/<token>."""
    from prefect.blocks.notifications import MattermostWebhook

    inbox = inbox_at()
    host, port = inbox.base_url.removeprefix("http://").split(":")
    block = MattermostWebhook(hostname=host, port=int(port), token="room-token", secure=False)
    block.notify("Run brave-otter failed: HTTP 503", subject="Flow failed")
    (message,) = inbox.messages()
    assert message.path == "/hooks/room-token" and message.subject == "Flow failed"
    assert "Run brave-otter failed: HTTP 503" in message.content


def test_channels_filter_and_clear_separately(inbox_at):
    inbox = inbox_at()
    for channel in ("alerts", "alerts/urgent", "reports"):
        requests.post(inbox.url(channel), json={"subject": channel}, timeout=5)
    assert [m.subject for m in inbox.messages(channel="alerts")] == ["alerts", "alerts/urgent"]
    assert [m.subject for m in inbox.messages(channel="reports")] == ["reports"]
    deleted = requests.delete(f"{inbox.base_url}/_workshop/messages", params={"channel": "/reports"}, timeout=5).json()
    assert deleted == {"deleted": 1} and [m.subject for m in inbox.messages()] == ["alerts", "alerts/urgent"]


def test_the_page_is_static_html_that_never_embeds_a_message(inbox_at):
    inbox = inbox_at()
    requests.post(inbox.url(), json={"subject": "<script>alert(1)</script>", "body": "<img src=x onerror=alert(2)>"}, timeout=5)
    page = requests.get(inbox.page_url, timeout=5)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "alert(1)" not in page.text and "onerror" not in page.text
    assert "textContent" in page.text and "innerHTML" not in page.text  # messages go in as text only
    assert "<script src" not in page.text and "<link" not in page.text and "@import" not in page.text  # works offline


def test_a_channel_address_opened_in_a_browser_shows_the_page_for_that_channel(inbox_at):
    inbox = inbox_at()
    answer = requests.get(inbox.url("alerts"), timeout=5, allow_redirects=False)
    assert answer.status_code == 303 and answer.headers["Location"] == "/?channel=/alerts"
    assert requests.get(inbox.url("alerts"), timeout=5).headers["Content-Type"].startswith("text/html")


def test_an_oversized_body_is_refused_with_413_and_kept_out(inbox_at):
    inbox = inbox_at()
    too_big = requests.post(inbox.url(), data=b"x" * (MAX_BODY + 1), timeout=10)
    assert too_big.status_code == 413 and "at most" in too_big.json()["error"]
    assert inbox.messages() == []
    requests.post(inbox.url(), json={"subject": "still fine"}, timeout=5)
    assert [m.subject for m in inbox.messages()] == ["still fine"]


def test_a_refusal_ends_its_connection_and_says_so(serve_in_thread, free_port, tmp_path):
    """The hub's proxy keeps connections to the inbox open: after a 401 (a browser's first try, before it sends the
    password) it must not send the next request down a connection the inbox has closed."""
    import base64
    import http.client

    host, port = serve_in_thread(make_app(Settings(room_password="pw"), tmp_path / "inbox.sqlite3"), free_port)[7:].split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)  # reuses its connection unless told not to
    signed_in = {"Authorization": "Basic " + base64.b64encode(b"workshop:pw").decode()}
    for refused, headers in (("/ann/", {}), ("/ann/alerts", {**signed_in, "Content-Length": str(MAX_BODY + 1)})):
        connection.request("GET" if refused == "/ann/" else "POST", refused, headers=headers)
        response = connection.getresponse()
        response.read()
        assert response.status in (401, 413) and response.getheader("Connection") == "close"
        connection.request("GET", "/ann/_workshop/messages", headers=signed_in)
        answer = connection.getresponse()
        assert answer.status == 200 and answer.read() == b"[]"


def test_one_message_by_id_and_a_missing_one(inbox_at):
    inbox = inbox_at()
    stored = requests.post(inbox.url(), json={"subject": "one"}, timeout=5).json()
    assert requests.get(f"{inbox.base_url}/_workshop/messages/{stored['id']}", timeout=5).json()["subject"] == "one"
    missing = requests.get(f"{inbox.base_url}/_workshop/messages/999", timeout=5)
    assert missing.status_code == 404 and "No message 999" in missing.json()["error"]


def test_the_event_stream_delivers_new_messages_and_clears_live(inbox_at):
    inbox = inbox_at()
    requests.post(inbox.url(), json={"subject": "before"}, timeout=5)
    events: list[tuple[str, dict]] = []
    got_three = threading.Event()

    def listen():
        with requests.get(f"{inbox.base_url}/_workshop/events", stream=True, timeout=10) as stream:
            kind = ""
            for line in stream.iter_lines(chunk_size=1, decode_unicode=True):  # as they come, not 512 bytes at a time
                if line.startswith("event: "):
                    kind = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    events.append((kind, json.loads(line.removeprefix("data: "))))
                    if len(events) == 3:
                        got_three.set()
                        return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    requests.post(inbox.url("alerts"), json={"subject": "live"}, timeout=5)
    from workshop.waiting import wait_for

    wait_for(lambda: len(events) >= 2, timeout=10, what="two events")
    inbox.clear()
    assert got_three.wait(10)
    assert [(kind, data.get("subject")) for kind, data in events] == [("message", "before"), ("message", "live"), ("cleared", None)]


def test_an_inbox_file_from_an_earlier_version_is_upgraded_in_place(serve_in_thread, free_port, tmp_path):
    database = tmp_path / "inbox.sqlite3"
    old = sqlite3.connect(database)
    old.execute("CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT, received_at REAL NOT NULL,"
                " path TEXT NOT NULL, content_type TEXT NOT NULL, body TEXT NOT NULL, data TEXT)")
    old.execute("INSERT INTO messages (received_at, path, content_type, body, data) VALUES (1, '/a', 'application/json', "
                "'{\"subject\": \"old\"}', '{\"subject\": \"old\"}')")
    old.commit()
    old.close()
    inbox = Inbox(serve_in_thread(make_app(Settings(), database), free_port))
    (message,) = inbox.messages()
    assert message.subject == "old" and message.headers == {}


def test_messages_survive_a_restart(serve_in_thread, free_port, tmp_path):
    database = tmp_path / "inbox.sqlite3"
    from workshop.testing.serving import Served

    with Served(make_app(Settings(), database), free_port) as url:
        requests.post(Inbox(url).url(), json={"subject": "kept"}, timeout=5)
    restarted = Inbox(serve_in_thread(make_app(Settings(), database), free_port))
    assert [m.subject for m in restarted.messages()] == ["kept"]


def test_wait_for_returns_the_match_once_it_arrives(inbox_at):
    inbox = inbox_at()
    requests.post(inbox.url(), json={"subject": "old news"}, timeout=5)
    mark = inbox.last_id()
    later = threading.Timer(0.3, lambda: requests.post(inbox.url(), json={"subject": "news: run-42 failed"}, timeout=5))
    later.start()
    message, waited = inbox.wait_for("run-42", after=mark, timeout=10)
    assert message.subject == "news: run-42 failed" and waited > 0


def test_wait_for_is_bounded(inbox_at):
    inbox = inbox_at()
    with pytest.raises(WorkshopTimeout, match="Timed out after 0.5 s waiting for a notification containing 'never'"):
        inbox.wait_for("never", timeout=0.5)


def test_clear_empties_it(inbox_at):
    inbox = inbox_at()
    requests.post(inbox.url(), json={"subject": "x"}, timeout=5)
    assert inbox.clear() == 1 and inbox.messages() == []


def test_a_dead_inbox_says_what_to_do(free_port):
    with pytest.raises(ServiceError, match="not answering.*python -m workshop up"):
        Inbox(f"http://127.0.0.1:{free_port}").messages()


def test_a_room_learners_channel_is_their_own_part_of_the_inbox(serve_in_thread, free_port, tmp_path):
    """In a room, Inbox().messages(channel="exercise") is the learner's /ann/exercise, not every message of theirs
    (an exercise check read notebook 02's alert about the same run as its own message)."""
    url = serve_in_thread(make_app(Settings(room_password="pw"), tmp_path / "inbox.sqlite3"), free_port)
    ann = Inbox(f"{url}/ann")
    ann.auth = ("workshop", "pw")
    for channel in ("alerts", "exercise"):
        requests.post(ann.url(channel), json={"subject": channel}, timeout=5)
    requests.post(f"{url}/bob/exercise", json={"subject": "bob's"}, timeout=5)
    assert [m.subject for m in ann.messages(channel="exercise")] == ["exercise"]
    assert [m.subject for m in ann.messages()] == ["alerts", "exercise"]
