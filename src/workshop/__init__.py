"""Helpers for the Prefect automations course: the plumbing, so the notebooks can show Prefect.

In a notebook:

    import workshop
    course = workshop.start()   # Prefect server, mock API and inbox, all on 127.0.0.1

What a notebook may use (each is documented where it is defined):

| name | what it is |
| --- | --- |
| `start()` | start or find the services; point this kernel's Prefect at the course server; returns a `Course` |
| `status()` | each service, its URL and its health (what `python -m workshop status` prints) |
| `check_environment()` | Python and every package against what the course needs (notebook 00) |
| `Course` | where everything is: `prefect_ui_url`, `data_api_url`, `mirror_url`, `inbox_url`, ... |
| `MockAPI()` | the mock randomuser API: `set_faults(...)`, `faulty(...)`, `stats()`, `nationalities()` |
| `data_api_url()` | what the pipeline calls: WORKSHOP_API_URL or the mock |
| `Inbox()`, `Message` | the notification inbox: `messages()`, `wait_for(...)`, `asave_block()`, `page_url` |
| `InboxView(inbox)` | the inbox as a widget in a notebook |
| `check(condition, passed, failed)`, `CheckFailed` | a check that prints ✓ or stops with the reason |
| `save_automation(automation)`, `automations_named(name)` | create-or-update an automation by name |
| `serve_deployments(script)`, `stop_serving()` | run a `prefect.serve(...)` script in the background |
| `start_worker(pool)`, `stop_worker()` | a process worker of a work pool in the background (`prefect worker start`) |
| `runs` | flow runs: `flow_run_url`, `flow_run`, `task_runs`, `retries`, `artifacts`, `wait_for_flow_run`, ... |
| `show_source(obj)` | a flow's, task's or function's code, highlighted |
| `PrefectREST()` | Prefect's REST API: `call(method, path, json=...)`, with the key or password and the retries a client needs |
| `PREFIX` | the prefix of everything the course creates on a Prefect server: `workshop-`, in a room `workshop-<learner>-` (also `Course.prefix`) |
| `WorkshopError` | what the course raises when something needs doing; subclasses in `workshop.errors` |

Exercises live in `workshop.exercises` (`ex00` ... `ex04`). From a terminal:
`python -m workshop up | status | down | reset | faults | serve | handouts | lab`.

The package's folders are its layers: `servers/` (what runs as a server),
`supervisor/` (starting and stopping them), `notebook/` (what a kernel
imports), `exercises/`, `instructor/` (the command line, reset, handouts),
`testing/` (private services for tests). Names are loaded on first use, so
`import workshop` stays light, in a kernel and in every service process.
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import WorkshopError

_EXPORTS = {
    "start": "notebook.session",
    "status": "notebook.session",
    "check_environment": "notebook.environment",
    "Course": "supervisor.addresses",
    "MockAPI": "notebook.mock",
    "data_api_url": "notebook.mock",
    "Inbox": "notebook.inbox",
    "Message": "notebook.inbox",
    "InboxView": "notebook.inbox_view",
    "check": "notebook.checks",
    "CheckFailed": "notebook.checks",
    "save_automation": "notebook.automations",
    "automations_named": "notebook.automations",
    "serve_deployments": "notebook.deployments",
    "stop_serving": "notebook.deployments",
    "start_worker": "notebook.deployments",
    "stop_worker": "notebook.deployments",
    "show_source": "notebook.source",
    "PrefectREST": "notebook.rest",
}
_MODULES = {"runs": "notebook.runs"}

__all__ = ["PREFIX", "WorkshopError", *_EXPORTS, *_MODULES]


def __getattr__(name: str) -> Any:
    if name == "PREFIX":  # not kept: a room's learner has their own, read from the settings
        from .settings import current

        return current().prefix
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    elif name in _MODULES:
        value = importlib.import_module(f".{_MODULES[name]}", __name__)
    else:
        raise AttributeError(f"module 'workshop' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)

