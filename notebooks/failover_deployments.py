"""The deployments of notebook 03: the users pipeline twice, reading from two places, and the failover between them.

- workshop-primary: the usual API (the mock's primary site, or WORKSHOP_API_URL)
- workshop-backup:  the mock's mirror, the alternate location to fail over to. It carries
  a *deployment trigger*: "run me when a run of workshop-primary fails", with the failed
  run's parameters.

`prefect.serve(...)` registers both deployments (and the trigger, as an automation) on the
Prefect server and then runs their flow runs as they are scheduled, until stopped. It
blocks, so the course runs this script in the background (`workshop.serve_deployments`).
To watch it in a terminal instead: `python failover_deployments.py`.
"""

from prefect import serve
from prefect.events import DeploymentEventTrigger

import workshop
from users_pipeline import users_pipeline

# workshop-primary on a laptop; in a classroom, workshop-<learner>-primary: names are how triggers tell
# one learner's deployments from another's on a shared server.
PRIMARY = f"{workshop.PREFIX}primary"
BACKUP = f"{workshop.PREFIX}backup"
FAILOVER = f"{workshop.PREFIX}failover-on-failure"

# Run the deployment carrying this trigger (the backup) when a run of the primary fails.
failover = DeploymentEventTrigger(
    name=FAILOVER,
    description="When a primary run fails, run the backup deployment (the mirror) with the same parameters.",
    expect={"prefect.flow-run.Failed"},
    match={"prefect.resource.id": "prefect.flow-run.*"},
    # By name: the primary's id does not exist until this script registers it, and the name is unique here.
    match_related={"prefect.resource.role": "deployment", "prefect.resource.name": PRIMARY},
    # One {{ expression }} per parameter: the server keeps each value's type (a number stays a number).
    parameters={
        "n_users": "{{ flow_run.parameters.n_users }}",
        "page_size": "{{ flow_run.parameters.page_size }}",
        "seed": "{{ flow_run.parameters.seed }}",
    },
)

if __name__ == "__main__":
    primary = users_pipeline.to_deployment(
        name=PRIMARY,
        description="The users pipeline, reading from the usual API.",
        parameters={"api_url": workshop.data_api_url(), "name": "primary"},
        tags=["workshop"],
    )
    backup = users_pipeline.to_deployment(
        name=BACKUP,
        description="The users pipeline, reading from the mirror: started when the primary fails.",
        parameters={"api_url": workshop.MockAPI().mirror_url, "name": "backup"},
        tags=["workshop"],
        triggers=[failover],
    )
    serve(primary, backup)
