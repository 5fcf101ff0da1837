"""What the tests and benchmarks use: a private copy of the course's services."""
