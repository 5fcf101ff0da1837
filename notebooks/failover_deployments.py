"""The deployments of notebook 03: the users pipeline twice, reading from two places.

- workshop-primary: the usual API (the mock's primary site, or WORKSHOP_API_URL)
- workshop-backup:  the mock's mirror, the alternate location to fail over to

`prefect.serve(...)` registers both on the Prefect server and then runs their
flow runs as they are scheduled, until stopped. It blocks, so the course runs
this script in the background (`workshop.deployments.serve_deployments`). To
watch it in a terminal instead: `python failover_deployments.py`.
"""

from prefect import serve

import workshop
from users_pipeline import users_pipeline

PRIMARY = "workshop-primary"
BACKUP = "workshop-backup"

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
    )
    serve(primary, backup)
