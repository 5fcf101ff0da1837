"""The notebooks as a learner meets them: cells that show Prefect, not the course's plumbing; honest times; no outputs.

A code cell "shows Prefect" when it uses Prefect's API (a flow, a task, an automation, a block, a deployment, the
client, the CLI, the REST API) or runs one of the notebook's flows; it "teaches" when it is an exercise, a
prediction, a check or a look at code. Anything else is course machinery: waiting, marks, set-up of the course's own.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
SHIPPED = {path.name: nbformat.read(path, as_version=4) for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))}
PREFECT = re.compile(r"\bprefect\b|@flow|@task|\b\w*(Trigger|Automation|Webhook|NotificationBlock|Block)\(|\.a(create|save|update|"
                     r"load|notify|enable|disable|result)\(|\barun_deployment\(|\bemit_event\(|\bget_client\(|\bsave_automation\(|"
                     r"\bserve_deployments\(|\bstart_worker\(|\bread_events\(|\bapi\.(call|request)\(|\.with_options\(|\.submit\(")
TEACHING = re.compile(r"^\s*(?:check\(|ex\.\w+\.(check|reveal|brief)\(|# (exercise|prediction): |workshop\.show_source\(|summary\(ex\))", re.M)
SHARE = 0.2  # at most one code cell in five mainly course machinery


def flows_of(notebook) -> set[str]:
    """The names of the flows (and tasks) a notebook defines or imports, whose calls are Prefect runs."""
    source = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    defined = set(re.findall(r"@(?:flow|task)\b[^\n]*\n(?:@[^\n]*\n)*\s*def (\w+)", source))
    imported = {"users_pipeline", "hooked_report", "report_unhealthy_source", "fetch_page"} & set(re.findall(r"\w+", source))
    return defined | imported


def machinery(notebook) -> list[str]:
    calls = re.compile(r"\b(" + "|".join(map(re.escape, flows_of(notebook))) + r")\(") if flows_of(notebook) else None
    return [cell.source for cell in notebook.cells if cell.cell_type == "code" and not PREFECT.search(cell.source)
            and not TEACHING.search(cell.source) and not (calls and calls.search(cell.source))]


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_at_most_one_code_cell_in_five_is_course_machinery(name):
    notebook = SHIPPED[name]
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    found = machinery(notebook)
    share = len(found) / len(code)
    print(f"{name}: {len(found)} of {len(code)} code cells are course machinery ({share:.0%})")
    assert share <= SHARE, f"{name}: {len(found)} of {len(code)} code cells are machinery:\n\n" + "\n---\n".join(found)


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_the_header_says_how_the_time_was_estimated(name):
    header = SHIPPED[name].cells[0].source
    assert "**Time:**" in header and "measured" not in header.split("**Prerequisites", 1)[0], header[:300]
    if not name.startswith("00"):
        assert "estimated" in header


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_a_notebook_longer_than_a_session_has_parts_of_at_most_45_minutes_and_a_stop_point(name):
    """A room plans its breaks: a notebook estimated past 45 minutes names its parts and their times, and says where
    each part ends."""
    header = SHIPPED[name].cells[0].source
    total = int(re.search(r"\*\*Time:\*\* about (\d+) minutes", header).group(1))
    if total <= 45:
        return
    parts = [int(minutes) for minutes in re.findall(r"part \d \((?:sections|steps) [^)]*\) about (\d+)", header)]
    assert len(parts) >= 2 and max(parts) <= 45 and abs(sum(parts) - total) <= 5, header[:400]
    stops = [cell for cell in SHIPPED[name].cells if cell.cell_type == "markdown" and cell.source.startswith("**Stop point")]
    assert len(stops) == len(parts) - 1, f"{name}: {len(parts)} parts, {len(stops)} stop points"


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_no_cell_reads_prefects_source_to_make_a_point(name):
    assert not [cell.source for cell in SHIPPED[name].cells if cell.cell_type == "code" and "inspect.getsource" in cell.source]
