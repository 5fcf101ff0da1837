"""The mock randomuser API: the real response shape, every parameter, every fault, replay, the mirror."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import requests

from workshop.contract import Faults
from workshop.errors import SettingsError, WorkshopError
from workshop.notebook.mock import MockAPI
from workshop.servers.faults import API_ERROR_MESSAGE
from workshop.servers.mock_api import make_app
from workshop.servers.randomuser import FIELDS, NATIONALITIES
from workshop.settings import Settings

FIXTURE = Path(__file__).parent / "fixtures" / "randomuser_sample.json"

# randomuser.me's user, field by field: nested keys and the JSON type of each leaf.
SCHEMA = {
    "gender": str,
    "name": {"title": str, "first": str, "last": str},
    "location": {
        "street": {"number": int, "name": str},
        "city": str,
        "state": str,
        "country": str,
        "postcode": (int, str),
        "coordinates": {"latitude": str, "longitude": str},
        "timezone": {"offset": str, "description": str},
    },
    "email": str,
    "login": {"uuid": str, "username": str, "password": str, "salt": str, "md5": str, "sha1": str, "sha256": str},
    "dob": {"date": str, "age": int},
    "registered": {"date": str, "age": int},
    "phone": str,
    "cell": str,
    "id": {"name": str, "value": (str, type(None))},
    "picture": {"large": str, "medium": str, "thumbnail": str},
    "nat": str,
}


def assert_shape(value, schema, where="user"):
    if isinstance(schema, dict):
        assert isinstance(value, dict), where
        assert set(value) == set(schema), f"{where}: keys {sorted(value)} != {sorted(schema)}"
        for key, sub in schema.items():
            assert_shape(value[key], sub, f"{where}.{key}")
    else:
        assert isinstance(value, schema) and not isinstance(value, bool), f"{where} = {value!r}"


@pytest.fixture
def mock(serve_in_thread, free_port):
    url = serve_in_thread(make_app(Settings()), free_port)
    return MockAPI(url)


def get(url, timeout=30, **params):
    return requests.get(url, params=params, timeout=timeout)


def test_answer_has_randomusers_shape(mock):
    answer = get(mock.primary_url, results=50, seed="shape").json()
    assert set(answer) == {"results", "info"}
    assert answer["info"] == {"seed": "shape", "results": 50, "page": 1, "version": "1.4"}
    for user in answer["results"]:
        assert_shape(user, SCHEMA)
        assert user["email"].endswith("@example.com")
        assert user["location"]["country"] == NATIONALITIES[user["nat"]].country
        float(user["location"]["coordinates"]["latitude"])


def test_real_quirks_appear(mock):
    users = get(mock.primary_url, results=400, seed="quirks").json()["results"]
    postcode_types = {type(u["location"]["postcode"]) for u in users}
    assert postcode_types == {int, str}
    assert any(u["id"]["value"] is None for u in users)
    names = "".join(u["name"]["first"] + u["name"]["last"] for u in users)
    assert any(not ch.isascii() for ch in names)  # accents
    assert any("\u0600" <= ch <= "\u06ff" for ch in names)  # Persian script (IR)
    assert any("\u0400" <= ch <= "\u04ff" for ch in names)  # Cyrillic (UA)


def test_same_seed_and_page_give_same_users(mock):
    first = get(mock.primary_url, results=5, seed="abc", page=2).json()["results"]
    again = get(mock.primary_url, results=5, seed="abc", page=2).json()["results"]
    other_page = get(mock.primary_url, results=5, seed="abc", page=3).json()["results"]
    other_seed = get(mock.primary_url, results=5, seed="xyz", page=2).json()["results"]
    assert first == again
    assert first != other_page and first != other_seed
    # Pages of any size tile one sequence per seed, so a pipeline can page however it likes.
    assert get(mock.primary_url, results=10, seed="abc").json()["results"][5:] == first


def test_without_seed_a_random_seed_is_reported(mock):
    info = get(mock.primary_url).json()["info"]
    assert len(info["seed"]) == 16 and info["results"] == 1


def test_nat_gender_inc_exc_noinfo(mock):
    users = get(mock.primary_url, results=30, nat="fr,GB", gender="female").json()["results"]
    assert {u["nat"] for u in users} <= {"FR", "GB"} and {u["gender"] for u in users} == {"female"}
    only = get(mock.primary_url, results=3, inc="name,nat").json()["results"]
    assert all(set(u) == {"name", "nat"} for u in only)
    without = get(mock.primary_url, results=3, exc="login,picture").json()["results"]
    assert all(set(u) == set(FIELDS) - {"login", "picture"} for u in without)
    assert "info" not in get(mock.primary_url, noinfo="").json()


def test_versioned_path_works(mock):
    assert get(mock.base_url + "/api/1.4/", results=2).json()["info"]["results"] == 2


@pytest.mark.parametrize(
    "params, words",
    [
        ({"results": 0}, "results must be from 1 to 5000"),
        ({"results": 5001}, "results must be from 1 to 5000"),
        ({"results": "many"}, "whole number"),
        ({"nat": "XX"}, "unknown nationalities XX"),
        ({"gender": "robot"}, "gender must be male or female"),
        ({"inc": "name,shoe_size"}, "unknown fields shoe_size"),
    ],
)
def test_bad_parameters_get_a_clear_error(mock, params, words):
    response = get(mock.primary_url, **params)
    assert response.status_code == 400
    assert words in response.json()["error"]


@pytest.mark.slow
def test_five_thousand_users(mock):
    # randomuser.me's largest page: about 4 s to make on an idle core, more on a busy one.
    assert len(get(mock.primary_url, timeout=60, results=5000, seed="big", inc="nat").json()["results"]) == 5000


def outcomes(mock, n=200, site="primary"):
    seen = Counter()
    for _ in range(n):
        response = get(mock.url(site), results=1, seed="f")
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code in (500, 503):
            seen["5xx"] += 1
        elif response.status_code == 429:
            seen["429"] += 1
            assert response.headers["Retry-After"] == "2"
        elif body is None:
            seen["malformed"] += 1
        elif "error" in body:
            assert body == {"error": API_ERROR_MESSAGE}
            seen["api_error"] += 1
        else:
            seen["ok"] += 1
    return seen


def test_every_fault_shows_at_its_share(mock):
    mock.set_faults(server_errors=0.2, rate_limits=0.2, retry_after=2, malformed=0.2, api_errors=0.2, seed=7)
    seen = outcomes(mock)
    for kind in ("5xx", "429", "malformed", "api_error", "ok"):
        assert 20 <= seen[kind] <= 65, seen
    stats = mock.stats()
    assert stats["requests"] == 200 and stats["server_error"] == seen["5xx"]


def test_outage_and_latency(mock):
    mock.set_faults(outage=True)
    assert get(mock.primary_url).status_code == 503
    mock.set_faults(latency=0.2)
    response = get(mock.primary_url)
    assert response.ok and response.elapsed.total_seconds() >= 0.2


def test_mirror_has_its_own_faults(mock):
    with mock.faulty("primary", outage=True):
        assert get(mock.primary_url).status_code == 503
        assert get(mock.mirror_url, results=3).json()["info"]["results"] == 3
        assert mock.faults()["mirror"] == Faults()
    assert mock.faults()["primary"] == Faults()  # restored after the block
    assert get(mock.primary_url).ok


def test_fault_mistakes_are_explained(mock):
    with pytest.raises(WorkshopError, match="Unknown fault 'server_error'.*server_errors"):
        mock.set_faults(server_error=0.3)
    with pytest.raises(WorkshopError, match="from 0 to 1"):
        mock.set_faults(server_errors=1.5)
    with pytest.raises(WorkshopError, match="at most 1"):
        mock.set_faults(server_errors=0.6, api_errors=0.6)
    with pytest.raises(WorkshopError, match="Unknown site"):
        mock.set_faults("backup", outage=True)
    # The server checks too, for clients that bypass MockAPI.
    response = requests.put(mock.base_url + "/_workshop/faults/primary", json={"latency": -1}, timeout=5)
    assert response.status_code == 400 and "latency" in response.json()["error"]


def test_wrong_url_says_what_to_do(free_port):
    with pytest.raises(WorkshopError, match="not answering.*workshop.start"):
        MockAPI(f"http://127.0.0.1:{free_port}").faults()


def test_replay_serves_the_recorded_users(serve_in_thread, free_port):
    recorded = json.loads(FIXTURE.read_text())["results"]
    mock = MockAPI(serve_in_thread(make_app(Settings(), FIXTURE), free_port))
    url = mock.primary_url
    assert get(url, results=2, page=1).json()["results"] == recorded[:2]
    assert get(url, results=2, page=2).json()["results"] == recorded[2:4]
    assert get(url, results=10, nat="IR").json()["results"][0] == recorded[1]
    assert mock.nationalities() == sorted({user["nat"] for user in recorded})


def test_replay_goes_round_again_when_more_are_asked_for_than_recorded(serve_in_thread, free_port):
    """randomuser.me always sends as many users as asked for; so does a replay, with fresh ids after the first lap."""
    recorded = json.loads(FIXTURE.read_text())["results"]
    url = serve_in_thread(make_app(Settings(), FIXTURE), free_port) + "/api/"
    served = get(url, results=12).json()["results"]
    assert len(served) == 12 and served[:5] == recorded
    assert served[5]["name"] == recorded[0]["name"] and served[5]["login"]["uuid"] != recorded[0]["login"]["uuid"]
    assert len({user["login"]["uuid"] for user in served}) == 12
    assert get(url, results=3, page=2).json()["results"][2]["name"] == recorded[0]["name"]  # position 5: the second lap


@pytest.mark.parametrize("content, words", [
    ('{"info": {}}', "holds no users"),
    ("not json", "is not JSON"),
    ('{"results": [{"name": 1}]}', "record 0 lacks 11 of randomuser's 12 fields"),
    ('{"results": [[1, 2]]}', "record 0 is a list, not a user object"),
])
def test_a_bad_recording_is_explained(tmp_path, free_port, content, words):
    broken = tmp_path / "broken.json"
    broken.write_text(content)
    with pytest.raises(SettingsError, match=words):
        make_app(Settings(), broken)


def test_a_recording_with_real_quirks_and_broken_records_is_accepted(serve_in_thread, free_port):
    quirky = Path(__file__).parent / "fixtures" / "randomuser_quirky.json"
    url = serve_in_thread(make_app(Settings(), quirky), free_port) + "/api/"
    assert len(get(url, results=30).json()["results"]) == 30


def test_a_missing_recording_is_explained(tmp_path, free_port):
    with pytest.raises(SettingsError, match="Cannot read"):
        make_app(Settings(), tmp_path / "missing.json")
