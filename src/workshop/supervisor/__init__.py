"""What supervises processes: the course's background services, started detached, found again, stopped.

- `process`: one detached process, its record (pid and start time), stopping it, the supervisor lock
- `service`: one service: its spec, health, the states a start goes through and what each one does
- `prefect_server`: the local Prefect server's spec, or the server PREFECT_API_URL names
- `course`: the course's services together: `up`, `status`, `down`, the deployment runner
- `addresses`: where everything is, as `workshop.start()` returns it and a notebook shows it
- `remote`: a room's services as a learner's machine checks them (reached? the password right?)
- `specs`: what starts each of the course's services (`services` says what each is)
- `postgres`: a room's PostgreSQL (a room's JupyterHub is `workshop.hub`)
"""
