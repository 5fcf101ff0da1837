"""The one exception the course raises for problems a learner can fix."""


class WorkshopError(RuntimeError):
    """Something the learner can act on: the message says what went wrong and what to do."""
