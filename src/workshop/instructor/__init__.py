"""What instructors use: the command line, `reset`, and the learner and solved handouts."""
