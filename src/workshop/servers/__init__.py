"""What runs as a server: the mock randomuser API and the notification inbox, each in a process of its own.

A notebook kernel never imports these modules (the mock's user generator needs
Faker); it talks to the servers over HTTP through `workshop.notebook`, by the
paths of `workshop.contract`. Each server names itself on its health endpoint,
so the supervisor can tell it from another program on the same port. Each is
started as `python -m workshop.servers.<name>`.
"""
