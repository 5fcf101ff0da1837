"""The Kubernetes guide's files (docs/kubernetes), checked as far as they can be without a cluster: they give the
course every setting a room needs and none it does not, and the course reads them as the room they describe."""

from __future__ import annotations

import os
from importlib.metadata import version
from pathlib import Path

import pytest
import yaml

from workshop import services
from workshop import settings as settings_module
from workshop.hub import config as hub_config
from workshop.supervisor import redis, specs

FILES = Path(__file__).resolve().parents[1] / "docs" / "kubernetes"
SECRET_VALUE = "s3cret-value"  # what the Secret gives where a file names one
# What the course's own hub gives a learner that a pod of Zero to JupyterHub does without, and why.
ONLY_ON_ONE_MACHINE = {
    "WORKSHOP_HUB_URL": "the inbox's page under the course's hub; here the inbox is a Service of its own",
    "JUPYTERHUB_ACTIVITY_INTERVAL": "timed to the course's culler; Zero to JupyterHub's default fits its own",
    # Learners share one machine under the course's hub and need ports of their own; here each has a pod, and the
    # room's Services keep the course's default ports.
    **{settings_module.variable(service.port_field): "the default port" for service in services.SERVICES
       if service.where in ("course", "learner")},
}


def documents(name: str) -> list[dict]:
    return [document for document in yaml.safe_load_all((FILES / name).read_text()) if document]


def values(name: str) -> dict:
    (document,) = documents(name)
    return document


def environment(entries, tmp_path: Path) -> dict[str, str]:
    """A pod's environment as Kubernetes gives it: KubeSpawner's {username} filled in, secrets read, the home here."""
    pairs = entries.items() if isinstance(entries, dict) else ((entry["name"], entry) for entry in entries)
    env = {}
    for name, entry in pairs:
        if isinstance(entry, dict) and "valueFrom" in entry:
            reference = entry["valueFrom"]["secretKeyRef"]
            assert reference["key"] in secret_keys(reference["name"]), reference  # the Secret the guide makes has it
            env[name] = SECRET_VALUE
        else:
            env[name] = str(entry["value"] if isinstance(entry, dict) else entry).replace("{username}", "ann")
    env["WORKSHOP_HOME"] = str(tmp_path / "home")
    return env


def secret_keys(name: str) -> set[str]:
    (secret,) = [document for document in documents("secret.example.yaml") if document["metadata"]["name"] == name]
    return set(secret["stringData"])


def settings_from(env: dict[str, str], monkeypatch) -> settings_module.Settings:
    for name in [name for name in os.environ if name.startswith(("WORKSHOP_", "PREFECT_"))]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return settings_module.load()


@pytest.fixture
def room_services():
    (deployment,) = [document for document in documents("workshop-room.yaml") if document["kind"] == "Deployment"]
    (service,) = [document for document in documents("workshop-room.yaml") if document["kind"] == "Service"]
    return deployment["spec"]["template"]["spec"]["containers"], service


def test_a_learners_pod_gets_what_the_courses_own_hub_gives_its_learners_and_the_rooms_prefect_address(
        tmp_path, monkeypatch):
    monkeypatch.setenv("WORKSHOP_HOME", str(tmp_path / "instructor"))
    monkeypatch.setenv("WORKSHOP_ROOM_PASSWORD", SECRET_VALUE)
    monkeypatch.setenv("WORKSHOP_HUB", "true")  # a room with the course's own hub (`classroom hub`)
    hub_learner = hub_config.learner_environment(settings_module.load(), "ann")
    wanted = (set(hub_learner) - set(ONLY_ON_ONE_MACHINE)) | {"WORKSHOP_ROOM_PREFECT_URL"}
    given = values("jupyterhub.yaml")["singleuser"]["extraEnv"]
    assert set(given) == wanted, f"missing {wanted - set(given)}, not needed {set(given) - wanted}"


def test_a_learners_pod_is_a_learner_of_the_room_on_the_charts_prefect_service(tmp_path, monkeypatch, room_services):
    hub = values("jupyterhub.yaml")
    learner = settings_from(environment(hub["singleuser"]["extraEnv"], tmp_path), monkeypatch)
    assert learner.in_room and learner.learner == "ann" and learner.prefix == "workshop-ann-"
    assert learner.room_auth == (settings_module.ROOM_USER, SECRET_VALUE)
    # Prefect's chart names its Service after the release (`helm install prefect-server`), on its service.port.
    prefect = values("prefect-server.yaml")
    assert learner.course_prefect_api_url == f"http://prefect-server:{prefect.get('service', {}).get('port', 4200)}/api"
    _, room_service = room_services
    ports = {port["port"] for port in room_service["spec"]["ports"]}
    assert learner.inbox_url == f"http://{room_service['metadata']['name']}:{learner.inbox_port}/ann"
    assert {learner.inbox_port, learner.mock_port} == ports
    assert hub["singleuser"]["extraEnv"]["WORKSHOP_LEARNER"] == "{username}"  # each learner their own name
    assert hub["cull"]["enabled"] and hub["cull"]["timeout"] == learner.hub_idle_minutes * 60
    config_path = Path(hub["singleuser"]["extraEnv"]["JUPYTER_CONFIG_PATH"])
    assert config_path.parts[-3:] == ("workshop", "instructor", "jupyter_config")  # the course's, in the image


def test_the_rooms_services_run_as_the_services_table_starts_them_and_answer_to_the_rooms_name(
        tmp_path, monkeypatch, room_services):
    containers, room_service = room_services
    name = room_service["metadata"]["name"]
    for container, service in zip(containers, (services.MOCK_API, services.INBOX), strict=True):
        assert container["command"] == ["python", *service.start, "--host", "0.0.0.0"]  # listen on the pod's addresses
        room = settings_from(environment(container["env"], tmp_path), monkeypatch)
        port = getattr(room, service.port_field)
        assert room.hosts_room and room.host == name and name in room.served_hosts  # the Host learners' calls carry
        assert [p["containerPort"] for p in container["ports"]] == [port]
        probe = container["readinessProbe"]["httpGet"]
        assert (probe["path"], probe["port"]) == (service.health_path, port)
        learners_prefect = values("jupyterhub.yaml")["singleuser"]["extraEnv"]["WORKSHOP_ROOM_PREFECT_URL"]
        assert room.course_prefect_api_url == f"{learners_prefect}/api"  # the board reads the learners' server
        assert services.PREFECT.name not in {spec.name for spec in specs.local_specs(room)}  # it runs apart


def test_prefects_chart_runs_the_scaled_mode_the_course_runs_on_one_machine(tmp_path, monkeypatch):
    prefect = values("prefect-server.yaml")
    monkeypatch.setenv("WORKSHOP_HOME", str(tmp_path))
    plain, _ = redis.prefect_settings(settings_module.load())
    messaging = prefect["backgroundServices"]["messaging"]
    assert prefect["backgroundServices"]["runAsSeparateDeployment"] and prefect["server"]["replicaCount"] >= 2
    assert (messaging["broker"], messaging["cache"]) == (plain["PREFECT_MESSAGING_BROKER"], plain["PREFECT_MESSAGING_CACHE"])
    assert "docket-url" in secret_keys(messaging["docket"]["existingSecret"])  # Docket on Redis, not in memory
    assert prefect["redis"]["enabled"] and "redis-password" in secret_keys(prefect["redis"]["auth"]["existingSecret"])
    auth = prefect["server"]["basicAuth"]
    assert auth["enabled"] and "auth-string" in secret_keys(auth["existingSecret"])
    (room_secret,) = [d for d in documents("secret.example.yaml") if d["metadata"]["name"] == auth["existingSecret"]]
    assert room_secret["stringData"]["auth-string"].startswith(f"{settings_module.ROOM_USER}:")
    assert prefect["global"]["prefect"]["image"]["prefectTag"].startswith(f"{version('prefect')}-")  # the course's pin


def test_the_guides_files_name_only_settings_the_course_has(room_services):
    known = {settings_module.variable(field) for field in settings_module.Settings.model_fields}
    containers, _ = room_services
    named = set(values("jupyterhub.yaml")["singleuser"]["extraEnv"])
    named |= {entry["name"] for container in containers for entry in container["env"]}
    assert {name for name in named if name.startswith("WORKSHOP_")} <= known
