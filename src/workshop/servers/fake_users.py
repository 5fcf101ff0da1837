"""Users in randomuser.me's exact shape, made up deterministically with Faker.

The same seed, page and position always give the same user. Names, streets,
cities and phone numbers come from a Faker locale that fits the nationality,
so there are accents (Salomé, Dağdaş) and non-Latin scripts (Persian for IR,
Cyrillic for UA). The quirks of the real service are reproduced on purpose:
coordinates are strings, `postcode` is a string in some countries and an
integer in others, and `id.value` is null for some nationalities.
"""

from __future__ import annotations

import hashlib
import random
import re
import string
import threading
import unicodedata
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from faker import Faker

from .randomuser import NATIONALITIES

# randomuser.me picks a time zone independently of the country; so do we.
TIMEZONES = [
    ("-10:00", "Hawaii"),
    ("-8:00", "Pacific Time (US & Canada)"),
    ("-5:00", "Eastern Time (US & Canada), Bogota, Lima"),
    ("-3:00", "Brazil, Buenos Aires, Georgetown"),
    ("0:00", "Western Europe Time, London, Lisbon, Casablanca"),
    ("+1:00", "Brussels, Copenhagen, Madrid, Paris"),
    ("+2:00", "Kaliningrad, South Africa"),
    ("+3:30", "Tehran"),
    ("+5:30", "Bombay, Calcutta, Madras, New Delhi"),
    ("+8:00", "Beijing, Perth, Singapore, Hong Kong"),
    ("+9:30", "Adelaide, Darwin"),
    ("+12:00", "Auckland, Wellington, Fiji, Kamchatka"),
]

TITLES = {"male": ["Mr"], "female": ["Ms", "Mrs", "Miss"]}
FRENCH_TITLES = {"male": ["Monsieur"], "female": ["Madame", "Mademoiselle"]}

_EPOCH = datetime(1945, 1, 1, tzinfo=UTC)
_local = threading.local()


def _faker(locale: str) -> Faker:
    # Faker instances are not thread-safe once seeded; the mock serves requests
    # on several threads, so each thread keeps its own.
    cache = _local.__dict__.setdefault("fakers", {})
    if locale not in cache:
        cache[locale] = Faker(locale)
    return cache[locale]


def _ascii(text: str) -> str:
    ascii_only = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9-]", "", ascii_only)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _years_between(start: datetime, end: datetime) -> int:
    return end.year - start.year - ((end.month, end.day) < (start.month, start.day))


def make_user(seed: str, position: int, nats: tuple[str, ...], gender: str | None, now: datetime) -> dict:
    """The user at `position` in the sequence a seed (and the nat and gender filters) defines."""
    rng = random.Random(f"{seed}|{position}|{','.join(nats)}|{gender or ''}")
    nat = NATIONALITIES[rng.choice(nats)]
    sex = gender or rng.choice(["male", "female"])
    fake = _faker(nat.locale)
    fake.seed_instance(rng.getrandbits(64))

    first = fake.first_name_male() if sex == "male" else fake.first_name_female()
    last = fake.last_name()
    titles = FRENCH_TITLES if nat.code in ("FR", "CH") and rng.random() < 0.5 else TITLES
    username = f"{fake.random_element(['tiny', 'happy', 'big', 'lazy', 'blue', 'red', 'silver', 'crazy'])}" \
               f"{fake.random_element(['koala', 'bird', 'fish', 'tiger', 'lion', 'wolf', 'duck', 'panda'])}{rng.randint(1, 999)}"
    local_part = f"{_ascii(first)}.{_ascii(last)}".strip(".")
    if "." not in local_part or local_part.startswith(".") or local_part.endswith("."):
        local_part = username  # Persian and Cyrillic names have no ASCII spelling here
    password = fake.password(length=rng.randint(6, 10), special_chars=False)
    salt = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(8))
    salted = (password + salt).encode()

    # Dates are absolute (the same every day); ages are counted to today, as on randomuser.me.
    born = _EPOCH + timedelta(days=rng.uniform(0, 60 * 365.25), seconds=rng.uniform(0, 86400))
    registered = _EPOCH + timedelta(days=rng.uniform(57 * 365.25, 78 * 365.25), seconds=rng.uniform(0, 86400))
    offset, zone = rng.choice(TIMEZONES)
    portrait = f"{'men' if sex == 'male' else 'women'}/{rng.randint(0, 99)}.jpg"

    if nat.postcode == "int":
        postcode: int | str = rng.randint(10000, 99999) if nat.code not in ("AU", "CH", "DK", "NO", "NZ") else rng.randint(1000, 9999)
    else:
        postcode = fake.postcode()
    try:
        state = fake.administrative_unit()
    except AttributeError:  # locales without states (Norway, New Zealand, Ukraine)
        state = fake.city()

    return {
        "gender": sex,
        "name": {"title": rng.choice(titles[sex]), "first": first, "last": last},
        "location": {
            "street": {"number": rng.randint(1, 9999), "name": fake.street_name()},
            "city": fake.city(),
            "state": state,
            "country": nat.country,
            "postcode": postcode,
            "coordinates": {"latitude": f"{rng.uniform(-90, 90):.4f}", "longitude": f"{rng.uniform(-180, 180):.4f}"},
            "timezone": {"offset": offset, "description": zone},
        },
        "email": f"{local_part}@example.com",
        "login": {
            "uuid": str(fake.uuid4()),
            "username": username,
            "password": password,
            "salt": salt,
            "md5": hashlib.md5(salted).hexdigest(),
            "sha1": hashlib.sha1(salted).hexdigest(),
            "sha256": hashlib.sha256(salted).hexdigest(),
        },
        "dob": {"date": _iso(born), "age": _years_between(born, now)},
        "registered": {"date": _iso(registered), "age": _years_between(registered, now)},
        "phone": fake.phone_number(),
        "cell": fake.phone_number(),
        "id": {"name": nat.id_name, "value": fake.bothify(nat.id_pattern, letters=string.ascii_uppercase) if nat.id_name else None},
        "picture": {
            "large": f"https://randomuser.me/api/portraits/{portrait}",
            "medium": f"https://randomuser.me/api/portraits/med/{portrait}",
            "thumbnail": f"https://randomuser.me/api/portraits/thumb/{portrait}",
        },
        "nat": nat.code,
    }


def make_users(seed: str, page: int, count: int, nats: tuple[str, ...], gender: str | None) -> tuple[dict, ...]:
    """Page `page` of `count` users: positions (page-1)*count onwards, so pages of
    any size tile one sequence per seed. Treat them as read-only."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return _make_users(seed, page, count, nats, gender, today)


@lru_cache(maxsize=256)  # a retried request costs nothing
def _make_users(seed: str, page: int, count: int, nats: tuple[str, ...], gender: str | None, today: datetime) -> tuple[dict, ...]:
    first = (page - 1) * count
    return tuple(make_user(seed, position, nats, gender, today) for position in range(first, first + count))
