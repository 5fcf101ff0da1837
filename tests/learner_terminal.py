"""A learner at a terminal, in an empty folder of their own, doing the lab (notebook 05) as its brief says: Prefect's
CLI, a profile of their own, the two files they write (here: the reference files, with the values the brief printed
pasted in), and `python -m workshop check 05` to see where they are."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from workshop.exercises import lab
from workshop.waiting import wait_for

BIN = Path(sys.executable).parent  # the course's environment, activated
STEP = re.compile(r"^([✓○]) (?:Step (\d)|Last step)", re.M)


def terminal(course_env: dict[str, str], folder: Path) -> dict[str, str]:
    """A new terminal: the course's environment active, nothing of Prefect's set, Prefect's home the learner's own."""
    folder.mkdir(parents=True, exist_ok=True)
    env = {key: value for key, value in course_env.items() if key not in ("PREFECT_API_URL", "PREFECT_API_AUTH_STRING")}
    return {**env, "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}", "PREFECT_HOME": str(folder / ".prefect"),
            "COLUMNS": "200"}


def run(env: dict[str, str], folder: Path, *command: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(list(command), cwd=folder, env=env, capture_output=True, text=True, timeout=timeout)


def must(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, f"{result.args}: {result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def brief(env: dict[str, str], folder: Path) -> str:
    return must(run(env, folder, "python", "-c", "from workshop.exercises import ex05 as ex; ex.lab.brief()"))


def steps(output: str) -> dict[int, bool]:
    """`check 05`'s verdicts: step number (0 for the clean-up) to done."""
    return {int(number or 0): mark == "✓" for mark, number in STEP.findall(output)}


def check(env: dict[str, str], folder: Path, *options: str) -> tuple[int, str, dict[int, bool]]:
    result = run(env, folder, "python", "-m", "workshop", "check", "05", *options)
    assert result.returncode in (0, 1), result.stdout + result.stderr
    return result.returncode, result.stdout, steps(result.stdout)


@dataclass(frozen=True)
class Server:
    """The server the learner's profile points at, read by the test itself between the learner's steps (a `check 05`
    per poll would start a Python and import Prefect each time, seconds of CPU on a busy machine)."""

    api_url: str
    auth_string: str | None
    prefix: str

    def step_done(self, number: int) -> bool:
        from prefect.client.orchestration import SyncPrefectClient

        with SyncPrefectClient(self.api_url, auth_string=self.auth_string) as client:
            return lab.STEPS[number - 2](lab.Judge(None, client, lab.Names(self.prefix))).done


def wait_for_step(server: Server, number: int, timeout: float = 120) -> None:
    """Until the server shows step `number` (2 to 8) done, as `check 05` judges it."""
    wait_for(lambda: server.step_done(number), timeout=timeout, what=f"the lab's step {number} to show done", interval=1.0)


def point_profile(env: dict[str, str], folder: Path, brief_text: str, password: str | None = None) -> str:
    """Step 1: a profile of the learner's own, with the server the brief printed (returned)."""
    url = re.search(r"PREFECT_API_URL=(\S+)", brief_text).group(1)
    must(run(env, folder, "prefect", "profile", "create", "lab"))
    must(run(env, folder, "prefect", "config", "set", "--profile", "lab", f"PREFECT_API_URL={url}"))
    if password:
        must(run(env, folder, "prefect", "config", "set", "--profile", "lab", f"PREFECT_API_AUTH_STRING=workshop:{password}"))
    assert "Connected to Prefect server" in must(run(env, folder, "prefect", "profile", "use", "lab"))
    return url


def write_files(folder: Path, brief_text: str) -> str:
    """flows.py and alert.py as the learner writes them: the values block the brief printed at the top. Returns the
    learner's prefix."""
    block = brief_text[brief_text.index(lab.VALUES_START):brief_text.index(lab.VALUES_END) + len(lab.VALUES_END)]
    for name in ("flows.py", "alert.py"):
        source = (lab.SOLUTION / name).read_text(encoding="utf-8")
        head, rest = source.split(lab.VALUES_START, 1)
        (folder / name).write_text(head + block + rest.split(lab.VALUES_END, 1)[1], encoding="utf-8")
    return re.search(r"^PREFIX = '([^']+)'", block, re.M).group(1)


def serve(env: dict[str, str], folder: Path) -> subprocess.Popen:
    """`python flows.py`, left running in a terminal of its own."""
    return subprocess.Popen(["python", "flows.py"], cwd=folder, env=env, stdout=(folder / "serve.log").open("w"),
                            stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen) -> None:
    """Ctrl-C, as the learner stops it."""
    import signal

    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def ui_automation(prefix: str, backup_id: str) -> dict:
    """What the Prefect UI's form sends for step 7 (the browser test fills the form itself)."""
    trigger = json.loads((lab.SOLUTION / "stale_data_trigger.json").read_text(encoding="utf-8"))
    trigger["match"]["prefect.resource.id"] = lab.Names(prefix).source
    return {"name": lab.Names(prefix).stale, "trigger": trigger,
            "actions": [{"type": "run-deployment", "source": "selected", "deployment_id": backup_id, "parameters": None}]}
