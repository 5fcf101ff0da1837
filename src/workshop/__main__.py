"""`python -m workshop ...`: the course's command line (see `workshop.instructor.cli`)."""

import sys

from .instructor.cli import main

if __name__ == "__main__":
    sys.exit(main())
