"""Where everything is, as `workshop.start()` returns it and a notebook shows it: the course's addresses in a table."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..contract import MOCK_SITES
from ..settings import PREFIX, Settings
from . import prefect_server


@dataclass(frozen=True)
class Course:
    """Where everything is. `workshop.start()` returns one."""

    prefect_api_url: str
    prefect_ui_url: str
    data_api_url: str  # what the pipeline calls: the mock's primary site unless WORKSHOP_API_URL says otherwise
    mock_url: str
    mirror_url: str
    inbox_url: str  # the inbox page, to keep open in a browser tab
    external_prefect: bool
    started: list[str] = field(default_factory=list)
    learner: str | None = None  # in a room: whose part of it this is
    prefix: str = PREFIX  # what everything this learner creates is named with
    hosts_room: bool = False  # this course folder runs a room (`classroom up`)

    def _repr_markdown_(self) -> str:
        where = ("your PREFECT_API_URL" if self.external_prefect else
                 f"the room's, shared: you are **{self.learner}**" if self.learner else "local, started by the course")
        rows = [
            ("Prefect UI", self.prefect_ui_url, where),
            ("Prefect API", self.prefect_api_url, "PREFECT_API_URL for this kernel"),
            ("Data API", self.data_api_url, "what the pipeline calls"),
            ("Mirror", self.mirror_url, "the alternate data location"),
            ("Inbox", self.inbox_url, "where notifications land: open it beside the UI"),
        ]
        started = f"Started now: {', '.join(self.started)}." if self.started else "All services were already running."
        if self.learner:
            started = f"In the room, everything you create is named `{self.prefix}...`; the inbox shows only yours."
        elif self.hosts_room:
            started += (f"\n\n**This course folder runs the room.** What its notebooks create is named `{self.prefix}...`, "
                        "which every learner's names start with too: its automations would act on everyone's runs, and "
                        "`reset` here clears the whole room. To demo, join the room as a learner from a second copy of "
                        "the course (`python -m workshop join ... --as demo`).")
        table = "\n".join(f"| {name} | [{url}]({url}) | {note} |" for name, url, note in rows)
        return f"| service | URL | |\n| --- | --- | --- |\n{table}\n\n{started}"


def course_for(settings: Settings, started: list[str] | None = None) -> Course:
    api_url = settings.external_prefect_api_url or settings.course_prefect_api_url
    return Course(
        prefect_api_url=api_url,
        prefect_ui_url=prefect_server.ui_url(settings, api_url),
        data_api_url=settings.api_url or settings.mock_url + MOCK_SITES["primary"],
        mock_url=settings.mock_url + MOCK_SITES["primary"],
        mirror_url=settings.mock_url + MOCK_SITES["mirror"],
        inbox_url=settings.inbox_page_url,
        external_prefect=settings.external_prefect_api_url is not None,
        started=started or [],
        learner=settings.learner if settings.in_room else None,
        prefix=settings.prefix,
        hosts_room=settings.hosts_room,
    )
