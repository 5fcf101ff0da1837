"""The HTTP contract between the course's servers and their clients: the paths and names both sides use.

The servers (`servers/`) and the clients (`notebook/`, `supervisor/`) import
these; neither writes them out.
"""

from __future__ import annotations

from .settings import PREFIX

CONTROL = "/_workshop/"  # the course's own endpoints on the mock API and the inbox, beside what they serve
HEALTH = CONTROL + "health"  # answers {"service": <id>} with the ids below
MESSAGES = CONTROL + "messages"  # the inbox's messages: GET (?after=ID&channel=/c), GET /ID, DELETE
EVENTS = CONTROL + "events"  # the inbox's messages as server-sent events
BOARD = CONTROL + "board"  # a room's progress board on its inbox (and BOARD + ".json")
FAULTS = CONTROL + "faults"  # the mock's faults: GET, DELETE, PUT FAULTS/<site>
STATS = CONTROL + "stats"  # the mock's counts of what it answered: GET, DELETE

MOCK_API_ID = f"{PREFIX}mock-api"
INBOX_ID = f"{PREFIX}inbox"
MOCK_SITES = {"primary": "/api/", "mirror": "/mirror/api/"}

HUB_INBOX = "/inbox"  # where a room's hub shows the inbox (its proxy keeps the path)
UI_BASE_IN_HUB = "/prefect"  # where a room with a hub serves the Prefect UI: the hub routes that path to it
