"""JupyterHub's configuration for a room's hub (`python -m workshop classroom hub` starts it with this file)."""

from workshop.hub.config import configure

configure(get_config())  # noqa: F821 - JupyterHub runs this file with get_config defined
