"""My users pipeline: a primary and a backup deployment, served from this terminal; the backup runs when the primary fails.

    python flows.py          # serves both until Ctrl-C
"""

import httpx
from prefect import flow, get_run_logger, serve
from prefect.events import DeploymentEventTrigger

# --- your values (the lab's brief prints them)
PREFIX = 'workshop-'  # everything you make starts with this
PRIMARY = 'http://127.0.0.1:4280/api/'  # the mock randomuser API's primary site
MIRROR = 'http://127.0.0.1:4280/mirror/api/'  # its mirror
INBOX = 'http://127.0.0.1:4281/lab'  # a channel of the course's inbox, for your alerts
# --- end of your values


@flow(name=f"{PREFIX}lab-users", retries=0)
def fetch_users(source: str, n_users: int = 10) -> int:
    """Fetch a page of users from `source`; an HTTP error fails the run (and so starts the failover)."""
    response = httpx.get(source, params={"results": n_users, "seed": "lab"}, timeout=10)
    response.raise_for_status()
    users = response.json()["results"]
    get_run_logger().info("%d users from %s", len(users), source)
    return len(users)


if __name__ == "__main__":
    primary = fetch_users.to_deployment(f"{PREFIX}lab-primary", parameters={"source": PRIMARY})
    backup = fetch_users.to_deployment(
        f"{PREFIX}lab-backup",
        parameters={"source": MIRROR},
        triggers=[
            DeploymentEventTrigger(
                name=f"{PREFIX}lab-failover",
                expect={"prefect.flow-run.Failed"},
                # The Failed event's related resources name the run's deployment (read one in the Event Feed).
                match_related={"prefect.resource.role": "deployment", "prefect.resource.name": f"{PREFIX}lab-primary"},
            )
        ],
    )
    serve(primary, backup)
