"""The services under a burst and hostile input: nothing acknowledged is lost, every bad request gets a clear 4xx,
and what was kept before is still listed afterwards.

Raw sockets send what no HTTP library would: lengths that lie, bodies cut off, heads that never end.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from workshop.notebook.inbox import Inbox
from workshop.servers import inbox as inbox_server
from workshop.servers import mock_api
from workshop.servers.http import Limits
from workshop.settings import Settings
from workshop.testing.serving import Served


def strict_json(text: str):
    """JSON as a browser reads it: no NaN, no Infinity."""
    def refuse(name):
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


def raw(url: str, request: bytes, *, close_after_send: bool = False, timeout: float = 10) -> bytes:
    """Send `request` as bytes to the server at `url`; its whole answer (until it closes the connection)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as connection:
        connection.sendall(request)
        if close_after_send:
            connection.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    return received


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


@pytest.fixture
def inbox(free_port, tmp_path):
    with Served(inbox_server.make_app(Settings(), tmp_path / "inbox.sqlite3"), free_port) as url:
        yield Inbox(url)


def post(path: str, body: bytes, *headers: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def test_two_hundred_notifications_at_once_through_prefects_own_block_are_all_kept_once(course):
    """The standard library's server queued 5 connections and reset the rest: 43 of 60 kept, the rest httpx.ReadError."""
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    inbox = Inbox()
    channel = f"burst-{time.time_ns()}"
    block = CustomWebhookNotificationBlock(name="burst", url=inbox.url(channel),
                                           json_data={"subject": "{{subject}}", "body": "{{body}}"})

    async def storm():
        return await asyncio.gather(*(block.notify(f"message {n}", subject="storm") for n in range(200)),
                                    return_exceptions=True)

    results = asyncio.run(storm())
    assert [r for r in results if r is not None] == []
    kept = [m.content for m in inbox.messages(channel=channel)]
    assert sorted(kept) == sorted(f"message {n}" for n in range(200))


def test_fifty_requests_at_once_to_the_mock_are_all_answered(course):
    url = course.mock_url

    def one(n: int) -> int:
        return requests.get(url, params={"results": 5, "seed": f"burst{n}"}, timeout=30).status_code

    with ThreadPoolExecutor(50) as pool:
        assert list(pool.map(one, range(50))) == [200] * 50


@pytest.mark.parametrize("length", ["-1", "-5", "abc", "1e3", "12, 13"])
def test_a_content_length_that_is_not_a_length_gets_400_and_nothing_is_kept(inbox, length):
    answer = raw(inbox.base_url, post("/alerts", b"x" * 40, f"Content-Length: {length}"))
    assert status_of(answer) == 400 and b"Content-Length" in answer, answer[:300]
    assert inbox.messages() == []


def test_a_length_over_the_limit_gets_413_before_the_body_is_read(inbox):
    answer = raw(inbox.base_url, post("/alerts", b"", f"Content-Length: {2**40}"))
    assert status_of(answer) == 413 and b"at most" in answer
    assert inbox.messages() == []


def test_a_chunked_body_is_kept_whole_and_once_and_a_chunked_flood_gets_413(inbox):
    body = json.dumps({"subject": "chunked", "body": "in two parts"}).encode()
    chunked = b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (10, body[:10], len(body) - 10, body[10:])
    answer = raw(inbox.base_url, post("/alerts", chunked, "Transfer-Encoding: chunked", "Content-Type: application/json"))
    assert status_of(answer) == 200
    (message,) = inbox.messages()
    assert message.subject == "chunked" and message.content == "in two parts"

    megabyte = b"x" * 2**20
    flood = b"".join(b"%x\r\n%s\r\n" % (len(megabyte), megabyte) for _ in range(2)) + b"0\r\n\r\n"
    assert status_of(raw(inbox.base_url, post("/alerts", flood, "Transfer-Encoding: chunked"))) == 413
    assert len(inbox.messages()) == 1


@pytest.mark.parametrize("body, why", [
    (b"[" * 985 + b"]" * 985, "nested 985 deep: listing it raised RecursionError"),
    (b'{"subject": "nan", "value": NaN}', "NaN: sent back as JSON no browser reads"),
    (b'{"subject": "huge", "value": 1e999}', "an infinite number"),
    (b'{"subject": "digits", "value": ' + b"9" * 5000 + b"}", "an integer of 5,000 digits"),
    (b'{"subject": "cut', "JSON cut off"),
    (b"\xff\xfe not even UTF-8", "bytes that are not UTF-8"),
])
def test_a_body_that_cannot_be_kept_as_json_is_kept_as_text_and_every_listing_stays_whole(inbox, body, why):
    requests.post(inbox.url("alerts"), json={"subject": "before"}, timeout=5)
    answer = requests.post(inbox.url("alerts"), data=body, headers={"Content-Type": "application/json"}, timeout=5)
    assert answer.status_code == 200, (why, answer.text)
    requests.post(inbox.url("alerts"), json={"subject": "after"}, timeout=5)
    listing = requests.get(f"{inbox.base_url}/_workshop/messages", timeout=5)
    records = strict_json(listing.text)  # a browser's JSON.parse would take it
    assert [r["subject"] for r in records][::2] == ["before", "after"], why
    assert isinstance(records[1]["data"], str), why  # kept as the text it was
    page_stream = requests.get(f"{inbox.base_url}/_workshop/events", stream=True, timeout=5)
    with page_stream:
        lines = []
        for line in page_stream.iter_lines(decode_unicode=True):
            lines.append(line)
            if line.startswith(": still here"):
                break
    assert [strict_json(line.removeprefix("data: "))["subject"] for line in lines if line.startswith("data: ")][::2] == [
        "before", "after"]


def test_a_row_an_older_inbox_could_not_read_back_is_listed_as_its_text_beside_the_others(free_port, tmp_path):
    """An inbox file from before this version can hold a body nested 985 deep in its data column."""
    import sqlite3

    from workshop.servers.messages import MessageStore

    database = tmp_path / "inbox.sqlite3"
    MessageStore(database).add("POST", "/alerts", "application/json", '{"subject": "fine"}', {"subject": "fine"}, {})
    old = sqlite3.connect(database)
    old.execute("INSERT INTO messages (received_at, method, path, content_type, body, data, headers) VALUES "
                "(1, 'POST', '/alerts', 'application/json', 'deep', ?, '{}')", ("[" * 985 + "]" * 985,))
    old.execute("INSERT INTO messages (received_at, method, path, content_type, body, data, headers) VALUES "
                "(2, 'POST', '/alerts', 'application/json', 'nan', '{\"a\": NaN}', 'not json')")
    old.commit()
    with Served(inbox_server.make_app(Settings(), database), free_port) as url:
        records = strict_json(requests.get(f"{url}/_workshop/messages", timeout=5).text)
    assert [(r["subject"], r["data"]) for r in records] == [("fine", {"subject": "fine"}), ("", "deep"), ("", "nan")]


def test_a_body_cut_off_is_not_kept(inbox):
    answer = raw(inbox.base_url, post("/alerts", b'{"subject": "cut', "Content-Length: 400"), close_after_send=True)
    assert answer == b""  # nobody left to answer
    time.sleep(0.3)
    assert inbox.messages() == []


def test_a_head_cut_off_is_not_kept(inbox):
    raw(inbox.base_url, b"POST /alerts HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le", close_after_send=True)
    time.sleep(0.3)
    assert inbox.messages() == []


def test_connections_that_never_finish_their_head_are_answered_408_and_closed(free_port, tmp_path):
    """Five hundred half-sent requests held five hundred threads of the standard library's server, none closed."""
    quick = Limits(head_seconds=1.0)
    app = inbox_server.make_app(Settings(), tmp_path / "inbox.sqlite3", limits=quick)
    with Served(app, free_port, quick) as url:
        sockets = []
        for _ in range(500):
            connection = socket.create_connection(("127.0.0.1", free_port), timeout=10)
            connection.sendall(b"POST /alerts HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-")  # and nothing more
            sockets.append(connection)
        answers = []
        for connection in sockets:
            with connection:
                received = b""
                while chunk := connection.recv(4096):
                    received += chunk
                answers.append(received)
        assert {status_of(answer) for answer in answers} == {408}
        assert b"did not arrive within 1 s" in answers[0]
        assert requests.post(f"{url}/alerts", json={"subject": "still here"}, timeout=5).ok
        assert [m.subject for m in Inbox(url).messages()] == ["still here"]


@pytest.mark.parametrize("query", ["after=99999999999999999999", "after=-1", "after=1e3", "after=" + "9" * 5000])
def test_a_message_id_that_is_not_one_gets_400(inbox, query):
    answer = requests.get(f"{inbox.base_url}/_workshop/messages?{query}", timeout=5)
    assert answer.status_code == 400 and "after must be a whole number" in answer.json()["error"]


def test_head_and_options_are_answered(inbox):
    head = requests.head(inbox.page_url, timeout=5)
    assert head.status_code == 200 and head.content == b"" and head.headers["Content-Type"].startswith("text/html")
    options = requests.options(inbox.url("alerts"), timeout=5)
    assert options.status_code == 204 and "POST" in options.headers["Allow"]
    assert "Access-Control-Allow-Origin" not in options.headers  # no grant to other origins' pages
    teapot = requests.request("BREW", inbox.url("alerts"), timeout=5)
    assert teapot.status_code == 405 and "BREW is not something this server does" in teapot.json()["error"]


@pytest.fixture
def mock(free_port):
    with Served(mock_api.make_app(Settings()), free_port) as url:
        yield url


@pytest.mark.parametrize("body, said", [
    (b"[" * 985 + b"]" * 985, "nests deeper than 64 levels"),
    (b'{"latency": NaN}', "NaN is not a JSON value"),
    (b'{"latency": 1e999}', "too large"),
    (b'{"seed": ' + b"9" * 5000 + b"}", "Exceeds the limit"),
    (b"[1, 2]", "a JSON object of faults"),
    (b'{"latency": "slow"}', "latency is in seconds"),
])
def test_a_fault_body_the_mock_cannot_use_gets_400_saying_why(mock, body, said):
    answer = requests.put(f"{mock}/_workshop/faults/primary", data=body, timeout=5)
    assert answer.status_code == 400 and said in answer.json()["error"], answer.text
    assert requests.get(f"{mock}/_workshop/faults", timeout=5).json()["primary"]["latency"] == 0


def test_a_fault_body_with_a_length_that_lies_gets_400(mock):
    answer = raw(mock, b"PUT /_workshop/faults/primary HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -1\r\n\r\n{}")
    assert status_of(answer) == 400 and b"not a valid HTTP/1.1 request" in answer


def test_the_mock_keeps_a_bounded_number_of_learners_parts(mock, monkeypatch):
    monkeypatch.setattr(mock_api, "MAX_LEARNERS", 3)
    for name in ("ann", "bob", "cy"):
        assert requests.get(f"{mock}/{name}/api/", timeout=5).ok
    refused = requests.get(f"{mock}/dee/api/", timeout=5)
    assert refused.status_code == 429 and "keeps 3 learners'" in refused.json()["error"]
    assert requests.get(f"{mock}/ann/api/", timeout=5).ok  # those it has go on


def test_a_rooms_mock_shows_faults_and_counts_only_with_the_password(free_port):
    with Served(mock_api.make_app(Settings(room_password="pw")), free_port) as url:
        assert requests.get(f"{url}/ann/api/", timeout=5).ok  # the pipeline's calls need none
        for path in ("/ann/_workshop/faults", "/ann/_workshop/stats"):
            assert requests.get(url + path, timeout=5).status_code == 401
            assert requests.get(url + path, auth=("workshop", "pw"), timeout=5).ok
        assert requests.get(f"{url}/_workshop/health", timeout=5).ok  # for `status`


def test_every_service_answers_only_to_the_names_it_serves(course, settings):
    """DNS rebinding: a page of evil.example, its name pointed at 127.0.0.1, is the same origin as the course's
    services for the browser; only the Host header it sends tells them apart."""
    for url in (f"{course.prefect_api_url}/health", course.mock_url, f"{course.inbox_url}_workshop/messages"):
        port = url.split(":")[2].split("/")[0]
        refused = requests.get(url, headers={"Host": f"evil.example:{port}"}, timeout=10)
        assert refused.status_code == 421 and "answers to" in refused.text, (url, refused.text)
        assert requests.get(url.replace("127.0.0.1", "localhost"), timeout=10).ok, url


def test_a_page_of_another_origin_cannot_change_anything_on_the_services(course):
    stranger = {"Origin": "http://127.0.0.1:9"}
    channel = f"stranger-{time.time_ns()}"
    planted = requests.post(f"{course.inbox_url}{channel}", data={"subject": "click me"}, headers=stranger, timeout=10)
    assert planted.status_code == 403 and Inbox().messages(channel=channel) == []
    own_page = {"Origin": course.inbox_url.rstrip("/")}  # the inbox page empties a channel with its own DELETE
    assert requests.delete(f"{course.inbox_url}_workshop/messages", params={"channel": f"/{channel}"}, headers=own_page,
                           timeout=10).ok
    assert requests.post(f"{course.prefect_api_url}/flows/", json={"name": "planted"}, headers=stranger,
                         timeout=10).status_code == 403
    assert requests.put(f"{course.mock_url.removesuffix('/api/')}/_workshop/faults/primary", json={"outage": True},
                        headers=stranger, timeout=10).status_code == 403
    # Reading: Prefect's CORS grant (every origin, by default) names only the course's own pages now.
    answer = requests.get(f"{course.prefect_api_url}/health", headers=stranger, timeout=10)
    assert "access-control-allow-origin" not in answer.headers
    ui = course.prefect_ui_url
    assert requests.get(f"{course.prefect_api_url}/health", headers={"Origin": ui}, timeout=10).headers[
        "access-control-allow-origin"] == ui
