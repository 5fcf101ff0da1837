"""Notebook 01 on a recording of real answers, broken records included (`WORKSHOP_MOCK_FIXTURE`, as the README offers).

Every check in the notebook must hold on any recording the mock accepts: the
pipeline quarantines the broken records, and the checks count them.
"""

from __future__ import annotations

import re
from pathlib import Path

from workshop import MockAPI
from workshop import settings as settings_module
from workshop.supervisor import course as supervisor
from workshop.testing.isolation import course_ports

from .notebooks import run_notebook

ROOT = Path(__file__).resolve().parents[1]
RECORDING = ROOT / "tests" / "fixtures" / "randomuser_quirky.json"


def test_notebook_01_holds_on_a_recording_with_broken_records(course, monkeypatch, tmp_path):
    for name, value in {
        # Ports of its own, the Prefect server's too: the session's server is used as PREFECT_API_URL.
        "WORKSHOP_HOME": str(tmp_path / "course"), **course_ports(),
        "WORKSHOP_MOCK_FIXTURE": str(RECORDING.relative_to(ROOT)),  # relative: taken from the course folder
        "PREFECT_API_URL": course.prefect_api_url,
    }.items():
        monkeypatch.setenv(name, value)
    try:
        text = run_notebook(ROOT / "notebooks" / "01_data_cleaning.ipynb")  # a failed check raises
        replayed = MockAPI(settings_module.load().mock_url)._call("GET", "/_workshop/health")["fixture"]
    finally:
        supervisor.down(settings_module.load())
    assert replayed == str(RECORDING)  # the kernel's mock served the recording
    assert text.count("✓") >= 10
    counts = re.search(r"(\d+) records in -> (\d+) clean \+ (\d+) quarantined", text)
    assert counts and int(counts[3]) > 0, "the recording's broken records should have been quarantined"
