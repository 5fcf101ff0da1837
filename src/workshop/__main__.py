"""`python -m workshop up | status | down | reset | faults | serve | handouts | lab`"""

from __future__ import annotations

import argparse
import json
import os
import sys

from . import config, services
from .errors import WorkshopError


def _print_status(rows: list[services.ServiceStatus]) -> None:
    for row in rows:
        mark = "OK  " if row.ok else "DOWN" if row.state == "down" else "BUSY"
        owner = f" (pid {row.pid})" if row.pid else ""
        detail = f"  - {row.detail}" if row.detail else ""
        print(f"{mark} {row.title:<34} {row.url}{owner}{detail}")


def cmd_up(args: argparse.Namespace) -> int:
    course = services.up()
    print("Started: " + ", ".join(course.started) if course.started else "Everything was already running; nothing started.")
    _print_status(services.status())
    print(f"\nPrefect UI: {course.prefect_ui_url}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    rows = services.status()
    if args.json:
        print(json.dumps([row.to_dict() for row in rows], indent=2))
    else:
        _print_status(rows)
        if not all(row.ok for row in rows):
            print("\n`python -m workshop up` starts what is down.")
    return 0 if all(row.ok for row in rows) else 1


def cmd_down(args: argparse.Namespace) -> int:
    stopped = services.down()
    print("Stopped: " + ", ".join(stopped) if stopped else "Nothing of the course's was running.")
    return 0


def cmd_reset(args: argparse.Namespace) -> int:
    course = services.up()
    os.environ["PREFECT_API_URL"] = course.prefect_api_url
    if not args.yes:
        print(f"This deletes every automation, block and deployment named '{config.PREFIX}*' on")
        print(f"{course.prefect_api_url} and empties the course inbox. Nothing else is touched.")
        if input("Go ahead? [y/N] ").strip().lower() not in ("y", "yes"):
            print("Nothing changed.")
            return 1
    from .reset import reset

    for kind, names in reset().items():
        print(f"{kind}: {', '.join(names) if names else 'none'}")
    return 0


def cmd_faults(args: argparse.Namespace) -> int:
    from .mock_api import MockAPI

    mock = MockAPI()
    if args.clear:
        mock.clear_faults()
    chosen = {name: getattr(args, name) for name in FAULT_OPTIONS if getattr(args, name) is not None}
    if args.outage is not None:
        chosen["outage"] = args.outage
    if chosen:  # change only what was named; the site's other faults stay
        mock.set_faults(args.site, **{**mock.faults()[args.site].to_dict(), **chosen})
    for site, faults in mock.faults().items():
        active = {k: v for k, v in faults.to_dict().items() if v not in (0, 0.0, False, None) and k != "retry_after"}
        print(f"{site:<8} {mock.url(site):<40} {active or 'healthy'}")
    return 0


def cmd_handouts(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .handouts import write_handouts

    written = write_handouts(Path(args.destination))
    for kind, paths in written.items():
        print(f"{kind:<8} {len(paths)} notebooks in {paths[0].parent if paths else args.destination}")
    return 0


def cmd_lab(args: argparse.Namespace) -> int:
    course = services.up()
    env = {**os.environ, "PREFECT_API_URL": course.prefect_api_url}
    notebooks = config.repo_root() / "notebooks"
    first = sorted(notebooks.glob("00_*.ipynb"))
    print(f"Prefect UI: {course.prefect_ui_url}\nOpening JupyterLab...", flush=True)
    command = [sys.executable, "-m", "jupyter", "lab", "--ServerApp.ip=127.0.0.1", f"--ServerApp.root_dir={notebooks}"]
    if first:
        command.append(str(first[0]))
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # containers often run as root; JupyterLab refuses that otherwise
    os.execvpe(sys.executable, command, env)
    return 0  # not reached


def cmd_serve(args: argparse.Namespace) -> int:
    if args.service == "mock-api":
        from .mock_api import main as serve
    else:
        from .inbox import main as serve
    serve(args.args)
    return 0


FAULT_OPTIONS = {
    "server_errors": (float, "share of HTTP 500/503 answers, 0..1"),
    "rate_limits": (float, "share of HTTP 429 answers with Retry-After, 0..1"),
    "retry_after": (int, "seconds announced in Retry-After"),
    "malformed": (float, "share of truncated JSON bodies, 0..1"),
    "api_errors": (float, 'share of HTTP 200 {"error": ...} answers, 0..1'),
    "bad_records": (float, "share of users that come back broken, 0..1"),
    "latency": (float, "seconds added to every answer"),
}


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m workshop", description="Run the course's local services.")
    commands = top.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="start the Prefect server, mock API and inbox (reuses what runs)").set_defaults(run=cmd_up)
    status = commands.add_parser("status", help="show each service and its health; exit 1 if one is down")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(run=cmd_status)
    commands.add_parser("down", help="stop the services the course started").set_defaults(run=cmd_down)
    reset = commands.add_parser("reset", help=f"delete the course's '{config.PREFIX}*' automations, blocks, deployments and inbox messages")
    reset.add_argument("--yes", action="store_true", help="do not ask")
    reset.set_defaults(run=cmd_reset)
    faults = commands.add_parser("faults", help="show or change what the mock API does wrong")
    faults.add_argument("--site", default="primary", choices=["primary", "mirror"])
    faults.add_argument("--clear", action="store_true", help="make both sites healthy first")
    for name, (kind, text) in FAULT_OPTIONS.items():
        faults.add_argument("--" + name.replace("_", "-"), dest=name, type=kind, help=text)
    faults.add_argument("--outage", dest="outage", action="store_true", default=None, help="take the site down")
    faults.add_argument("--no-outage", dest="outage", action="store_false", help="bring the site back")
    faults.set_defaults(run=cmd_faults)
    serve = commands.add_parser("serve", help="run the mock API or the inbox in the foreground (up does it in the background)")
    serve.add_argument("service", choices=["mock-api", "inbox"])
    serve.add_argument("args", nargs=argparse.REMAINDER, help="--port N, and --fixture FILE (mock-api) or --database FILE (inbox)")
    serve.set_defaults(run=cmd_serve)
    handouts = commands.add_parser("handouts", help="write learner and solved copies of the notebooks (for instructors)")
    handouts.add_argument("destination", help="folder to write learner/ and solved/ into")
    handouts.set_defaults(run=cmd_handouts)
    commands.add_parser("lab", help="start the services and open the course in JupyterLab").set_defaults(run=cmd_lab)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except WorkshopError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
