"""What a notebook imports: thin clients of the course's services and helpers that keep cells about Prefect.

Everything here is re-exported by `workshop` (see its docstring); nothing here
imports the servers' code.
"""
