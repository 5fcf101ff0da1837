"""How the course opens JupyterLab, on a laptop (`python -m workshop lab`) and for a room's hub learners alike:
offline and quiet (no "get Jupyter news?" prompt, no update check), at notebook 00."""

from __future__ import annotations

import os
import sys
from pathlib import Path

FIRST_NOTEBOOK = "00_start_here.ipynb"
START_URL = f"/lab/tree/{FIRST_NOTEBOOK}"
# The news prompt comes from an extension that asks whatever the news URL; only disabling it removes the prompt.
# A config folder added to JUPYTER_CONFIG_PATH does it without touching the learner's own JupyterLab settings.
CONFIG_FOLDER = Path(__file__).resolve().parent / "jupyter_config"
QUIET = {"LabApp.news_url": "None", "LabApp.check_for_updates_class": "jupyterlab.NeverCheckForUpdate"}
ALLOW_ROOT = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []  # containers often run as root
OPTIONS = [*(f"--{trait}={value}" for trait, value in QUIET.items()), *ALLOW_ROOT]  # for the hub's learners
ALIASES = {"ServerApp.ip": ("--ip",), "ServerApp.root_dir": ("--notebook-dir", "--ServerApp.notebook_dir")}


def config_path(env: dict[str, str]) -> str:
    """JUPYTER_CONFIG_PATH with the course's folder first, the learner's own folders kept after it."""
    return os.pathsep.join(filter(None, [str(CONFIG_FOLDER), env.get("JUPYTER_CONFIG_PATH", "")]))


def lab_command(notebooks: Path, given: list[str], browser_host: str | None = None) -> list[str]:
    """`jupyter lab` for the course's notebooks on 127.0.0.1, with the learner's own options (`given`). A value the
    learner gives replaces the course's (JupyterLab refuses one given twice). `browser_host`: the name browsers
    reach it by through a forwarder (a codespace's), which JupyterLab then answers to as to localhost."""
    named = {option.split("=", 1)[0] for option in given if option.startswith("--")}
    defaults = {"ServerApp.ip": "127.0.0.1", "ServerApp.root_dir": str(notebooks), "LabApp.default_url": START_URL, **QUIET}
    if browser_host:
        defaults["ServerApp.local_hostnames"] = repr(["localhost", browser_host])
    kept = [f"--{trait}={value}" for trait, value in defaults.items()
            if f"--{trait}" not in named and not named & set(ALIASES.get(trait, ()))]
    return [sys.executable, "-m", "jupyter", "lab", *kept, *ALLOW_ROOT, *given]
