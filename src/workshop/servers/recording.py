"""Recorded randomuser.me answers the mock can replay (`WORKSHOP_MOCK_FIXTURE`), checked before use.

A recording is a saved full answer, `{"results": [...], "info": {...}}`, or a
plain list of users. Real answers have quirks, and a few broken records are
part of what the course teaches (the pipeline quarantines them), so the check
accepts those: a null name, a blank e-mail, a date that is not a date, a
name without its first part. What it refuses is what is not a randomuser answer
at all: records that are not objects, records without all of randomuser's
fields (randomuser always sends every one; a recording made with `inc` or
`exc` must be made again without), fields of the wrong kind.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from ..errors import SettingsError
from .randomuser import FIELDS

OBJECT_FIELDS = {"name", "location", "login", "dob", "registered", "id", "picture"}
TEXT_FIELDS = {"gender", "email", "phone", "cell", "nat"}


def _kind(value: object) -> str:
    kinds = {dict: "an object", list: "a list", str: "text", bool: "true/false", type(None): "null", int: "a number", float: "a number"}
    return kinds.get(type(value), f"a {type(value).__name__}")


def problems(users: object) -> list[str]:
    """What makes `users` unusable as a recording, record by record (empty: fine)."""
    if not isinstance(users, list) or not users:
        return ['it holds no users: expected a randomuser.me answer {"results": [{...}, ...]} or a list of users']
    found = []
    for index, user in enumerate(users):
        if not isinstance(user, dict):
            found.append(f"record {index} is {_kind(user)}, not a user object")
            continue
        missing = [name for name in FIELDS if name not in user]
        if missing:
            found.append(
                f"record {index} lacks {len(missing)} of randomuser's {len(FIELDS)} fields ({', '.join(missing)}): "
                "record the full answer, without inc or exc"
            )
        for name in OBJECT_FIELDS & user.keys():
            if not isinstance(user[name], (dict, type(None))):
                found.append(f"record {index}: {name} is {_kind(user[name])}; randomuser sends an object here")
        for name in TEXT_FIELDS & user.keys():
            if not isinstance(user[name], (str, type(None))):
                found.append(f"record {index}: {name} is {_kind(user[name])}; randomuser sends text here")
    return found


def load(path: Path) -> list[dict]:
    """The users of the recording at `path`, or a SettingsError saying which record and field is wrong."""
    where = f"WORKSHOP_MOCK_FIXTURE={path}"
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsError(f"Cannot read the recording {where}: {exc.strerror}. Relative paths are taken from the course folder.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError(f"The recording {where} is not JSON ({exc}).") from None
    users = data.get("results") if isinstance(data, dict) else data
    found = problems(users)
    if found:
        shown = "; ".join(found[:3]) + (f"; and {len(found) - 3} more" if len(found) > 3 else "")
        raise SettingsError(f"The recording {where} cannot be replayed: {shown}.")
    return users


def nationalities(users: list[dict]) -> list[str]:
    return sorted({user["nat"] for user in users if isinstance(user.get("nat"), str)})


def replay(users: list[dict], first: int, count: int) -> list[dict]:
    """`count` users from position `first` of the recording, going round again when it runs out.

    randomuser.me always sends as many users as asked for, so a short recording is
    served in laps; users of the second and later laps get their own login.uuid,
    so that they stay distinguishable.
    """
    if not users:
        return []
    served = []
    for position in range(first, first + count):
        lap, user = divmod(position, len(users))[0], users[position % len(users)]
        if lap and isinstance(user.get("login"), dict) and user["login"].get("uuid"):
            login = {**user["login"], "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{user['login']['uuid']}/{lap}"))}
            user = {**user, "login": login}
        served.append(user)
    return served
