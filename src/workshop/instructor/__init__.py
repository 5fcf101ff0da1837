"""What instructors use: the command line, `reset`, the learner and solved handouts, a room (its JupyterHub is `workshop.hub`)."""
