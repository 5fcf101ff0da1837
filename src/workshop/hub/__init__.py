"""A room's JupyterHub: every learner gets JupyterLab in a browser tab, already in the room.

- `service`: the hub as one of the room's services: how it starts, its ports, what it needs beyond pip
- `config`: what JupyterHub is configured with (log-in, spawner, the learners' environment, the culler)
- `jupyterhub_config.py`: the file JupyterHub reads, which calls `config.configure`
"""
