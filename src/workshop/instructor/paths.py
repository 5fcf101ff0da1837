"""The paths through the course that INSTRUCTORS.md describes, by the notebooks each hands out (None: all of them).

Kept apart from `handouts` (which imports every notebook's exercises) so that the command line stays quick to start.
"""

PATHS: dict[str, tuple[str, ...] | None] = {"2h": ("00", "02", "03"), "half-day": ("00", "02", "03", "04"), "day": None}
