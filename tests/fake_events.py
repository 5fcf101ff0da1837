"""A stand-in for a room's Prefect server, as far as the progress board uses it: it keeps the events a kernel posts
and pages them back as Prefect's `/api/events/filter` does; and the events a learner's checks send."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from starlette.responses import Response

from workshop import checkpoints
from workshop.servers.http import Service, answer


class FakeEvents(Service):
    """Prefect's events endpoints, as far as the course uses them: POST /api/events, /api/events/filter, next pages."""

    page_size = 2  # small, so that the board must follow next_page

    def __init__(self, events: list[dict]):
        super().__init__()
        self.events = events

    async def post(self, request):
        body = json.loads(await request.body() or b"{}")
        if request.url.path == "/api/events":
            self.events.extend(body)
            return Response(status_code=204)
        return self._page(request, 0)

    async def get(self, request):
        return self._page(request, int(request.query_params["page"]))

    def _page(self, request, start: int):
        ordered = sorted(self.events, key=lambda event: event["occurred"])
        more = start + self.page_size < len(ordered)
        following = f"{request.base_url}api/events/filter/next?page={start + self.page_size}" if more else None
        return answer(200, {"events": ordered[start:start + self.page_size], "total": len(ordered), "next_page": following})


def event(learner: str, checkpoint: str, outcome: str, minutes_ago: float, notebook: str = "02",
          title: str | None = None) -> dict:
    when = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    return {"id": f"{learner}-{checkpoint}-{minutes_ago}", "occurred": when.isoformat(),
            "event": checkpoints.EVENT_PREFIX + outcome,
            "payload": {"learner": learner, "notebook": notebook, "checkpoint": checkpoint, "title": title or checkpoint,
                        "text": outcome}}
