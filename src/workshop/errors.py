"""The exceptions the course raises, for problems a learner or an instructor can fix.

    WorkshopError                   anything the course reports; the message says what to do
    ├── SettingsError               a WORKSHOP_* (or PREFECT_*) variable is unusable
    ├── ServiceError                a service would not start, or is not answering
    │   └── PortBusy                another program holds a port the course needs
    └── WorkshopTimeout             a bounded wait ran out (also a TimeoutError)

In a notebook these show as their message alone: the frames inside the course
package say nothing a learner can act on.
"""

from __future__ import annotations


class WorkshopError(RuntimeError):
    """Something the learner can act on: the message says what went wrong and what to do."""

    def _render_traceback_(self) -> list[str]:
        # IPython calls this instead of printing the traceback through the course's own code.
        return [f"\x1b[31m{type(self).__name__}\x1b[0m: {self}"]


class SettingsError(WorkshopError):
    """An environment variable the course reads has a value it cannot use."""


class ServiceError(WorkshopError):
    """A course service (Prefect server, mock API, inbox, deployment runner) is not available."""


class PortBusy(ServiceError):
    """Another program holds a port one of the course's services needs."""


class WorkshopTimeout(WorkshopError, TimeoutError):
    """A bounded wait ran out before what it waited for happened."""
