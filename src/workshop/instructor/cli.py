"""`python -m workshop up | status | down | reset | faults | serve | handouts | lab | record | check | classroom | join | leave`"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from .. import settings as settings_module
from ..contract import BOARD, HUB_INBOX
from ..errors import WorkshopError
from ..hub.config import ADMIN, ADMIN_PASSWORD_FILE
from ..settings import PREFIX, Settings
from ..supervisor import course
from ..supervisor.addresses import course_for
from . import room
from .paths import PATHS


def _print_status(rows: list[course.ServiceStatus]) -> None:
    width = max((len(row.title) for row in rows), default=0)
    for row in rows:
        mark = "OK  " if row.ok else "BUSY" if row.state == "foreign" else "DOWN"
        owner = f" (pid {row.pid})" if row.pid else ""
        detail = f"  - {row.detail}" if row.detail else ""
        print(f"{mark} {row.title:<{width}} {row.url}{owner}{detail}")


def cmd_up(args: argparse.Namespace, settings: Settings) -> int:
    started = course.up(settings, report=lambda line: print(line, flush=True))
    if not started.started:
        print("Everything was already running; nothing started.")
    _print_status(course.status(settings))
    print(f"\nPrefect UI: {started.prefect_ui_url}\nInbox:      {started.inbox_url}")
    return 0


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    rows = course.status(settings)
    if args.json:
        print(json.dumps([row.to_dict() for row in rows], indent=2))
    else:
        _print_status(rows)
        if advice := _status_advice(rows, settings):
            print(f"\n{advice}")
    return 0 if all(row.ok for row in rows) else 1


def _status_advice(rows: list[course.ServiceStatus], settings: Settings) -> str:
    """What to do about the rows that are not OK; never a command that would start a second set of services."""
    if all(row.ok for row in rows):
        return ""
    if settings.in_room:
        return ("The room's services are the instructor's to start (`python -m workshop classroom status` on their "
                "machine); `python -m workshop leave` takes this course folder back to its own.")
    if any(row.state == "foreign" and row.pid is None for row in rows):
        return ("BUSY: another program answers on that port, so `python -m workshop up` would not start the course's "
                "there. Stop that program, or give the course another port (its WORKSHOP_..._PORT variable).")
    if any(not row.ok and row.pid is None for row in rows):
        return "`python -m workshop up` starts what is down."
    return "Each of them runs but is not ready: its line says why."


def cmd_down(args: argparse.Namespace, settings: Settings) -> int:
    results = course.down(settings)
    if not results:
        print("Nothing of the course's was running.")
    for result in results:
        print(f"Could not stop the {result.title}: {result.error}" if result.error else f"Stopped the {result.title} (pid {result.pid}).")
    return 1 if any(result.error for result in results) else 0


def cmd_reset(args: argparse.Namespace, settings: Settings) -> int:
    if settings.in_room:
        what = (f"your automations, blocks and deployments (named '{settings.prefix}*') on the room's Prefect server, "
                "and your inbox messages; the other learners' stay")
    elif settings.hosts_room:
        what = (f"every automation, block and deployment named '{PREFIX}*' on the room's Prefect server, "
                "every learner's included, and every inbox message")
    else:
        what = f"every automation, block and deployment named '{PREFIX}*' on the course's Prefect server, and the inbox's messages"
    if not args.yes:
        if not sys.stdin.isatty():
            print(f"reset deletes {what}. There is no terminal here to ask whether to go ahead: "
                  "run `python -m workshop reset --yes` to do it without asking.", file=sys.stderr)
            return 2
        print(f"This deletes {what}. Nothing else is touched.")
        try:
            answer = input("Go ahead? [y/N] ")
        except EOFError:
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            print("Nothing changed.")
            return 1
    started = course.up(settings, report=print)
    from ..prefect_client import use_prefect_server
    from .reset import reset

    use_prefect_server(started.prefect_api_url)

    for kind, names in reset(settings_module.current()).items():
        print(f"{kind}: {', '.join(names) if names else 'none'}")
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


def cmd_faults(args: argparse.Namespace, settings: Settings) -> int:
    from ..notebook.mock import MockAPI

    mock = MockAPI(settings.mock_url)
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


def cmd_site(args: argparse.Namespace, settings: Settings) -> int:
    from . import site

    if settings_module.COURSE_ROOT is None:
        raise WorkshopError("`site` builds the course's notebooks: run it from an editable install of the repository.")
    root = settings_module.COURSE_ROOT
    start = site.build(root, settings_module.course_path(Path(args.executed)), settings_module.course_path(Path(args.out)),
                       screenshots=root / "test-artifacts",
                       launch_url=args.launch_url)
    print(f"The site: {start} (open it in a browser; publish the folder {start.parent} as it is)")
    return 0


def cmd_handouts(args: argparse.Namespace, settings: Settings) -> int:
    from .handouts import shipped_note, write_handouts

    written = write_handouts(Path(args.destination), path=args.path)
    for kind, paths in written.items():
        print(f"{kind:<8} {len(paths)} notebooks in {paths[0].parent if paths else args.destination}")
    if note := shipped_note():
        print(f"\n{note}")
    return 0


def cmd_lab(args: argparse.Namespace, settings: Settings) -> int:
    from . import jupyterlab

    if settings_module.COURSE_ROOT is None:
        raise WorkshopError("`lab` opens the course's notebooks: run it from an editable install of the repository.")
    started = course.up(settings, report=lambda line: print(line, flush=True))
    # JupyterLab's kernels inherit this: the same course, the same Prefect server, whatever their folder.
    env = settings_module.environment_for_child(settings, {"PREFECT_API_URL": started.prefect_api_url})
    env["JUPYTER_CONFIG_PATH"] = jupyterlab.config_path(env)
    print(f"Prefect UI: {started.prefect_ui_url}\nInbox:      {started.inbox_url}\nOpening JupyterLab "
          f"(its address, at notebook 00, follows; Ctrl-C stops it)...", flush=True)
    command = jupyterlab.lab_command(settings_module.COURSE_ROOT / "notebooks", args.jupyterlab_options,
                                     urlsplit(settings.jupyter_address or "").hostname)
    os.execvpe(sys.executable, command, env)
    return 0  # not reached


def cmd_record(args: argparse.Namespace, settings: Settings) -> int:
    from ..exercises import record

    print(record.text(settings))
    return 0


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    from ..exercises.ex05 import lab

    steps = lab.steps(cleaned=args.cleaned, settings=settings)
    return 0 if all(step.done for step in steps) else 1


SERVERS = {"mock-api": "mock_api", "inbox": "inbox", "prefect": "prefect_app"}  # `serve NAME`: workshop.servers.<module>


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import importlib

    importlib.import_module(f"workshop.servers.{SERVERS[args.service]}").main(args.options)
    return 0


def cmd_classroom(args: argparse.Namespace, settings: Settings) -> int:
    if args.action in ("up", "hub"):
        settings = room.host(settings, address=args.host, new_password=args.new_password, hub=args.action == "hub",
                             api_workers=args.api_workers, services_workers=args.services_workers,
                             report=lambda line: print(line, flush=True))
    elif args.action == "down":
        stopped, database = room.end(settings)
        for result in stopped:
            print(f"Could not stop the {result.title}: {result.error}" if result.error else f"Stopped the {result.title} (pid {result.pid}).")
        print("Stopped the room's PostgreSQL (its data stays for the next `classroom up`)." if database
              else "The room's PostgreSQL was not running.")
        return 1 if any(result.error for result in stopped) else 0
    if not settings.hosts_room:
        print("No room runs from this course folder: `python -m workshop classroom up` starts one.")
        return 1
    if args.action == "report":
        return _room_report(settings, Path(args.output or f"room-report-{datetime.now():%Y-%m-%d}.csv"))
    rows = course.status(settings)
    _print_status(rows)
    hub = settings.hub_address
    ui = f"{hub}/prefect" if hub else settings.course_prefect_api_url.removesuffix("/api")
    inbox = f"{hub}{HUB_INBOX}" if hub else settings.inbox_url
    print(f"\nPrefect UI: {ui}/  (its login box: {settings_module.ROOM_USER}:the room's password)\n"
          f"Inbox:      {inbox}/  (every learner's messages)\n"
          f"Progress:   {inbox}{BOARD}  (who is where: each learner's checks, live)")
    if hub:
        from .handouts import shipped_note

        if note := shipped_note():
            print(f"\n{note}")
        print(f"\nLearners open {hub}/ in a browser and log in with a name of their own (lowercase letters and digits) "
              f"and the room's password: {settings.room_password.get_secret_value()}\nYou log in as {ADMIN} (the hub's "
              f"admin) with the password in {settings.home / ADMIN_PASSWORD_FILE}\n"
              f"\nLearners with the course installed can join from their laptops instead.{_join_lines(settings)}")
        return 0 if all(row.ok for row in rows) else 1
    print(f"\nLearners join with this line, which asks for the room's password:{_join_lines(settings)}")
    return 0 if all(row.ok for row in rows) else 1


def _room_report(settings: Settings, output: Path) -> int:
    """The room's timings (servers.board): per learner and notebook to `output` as CSV, per notebook printed."""
    from ..servers.board import Board, timings_csv

    notebooks = settings_module.COURSE_ROOT / "notebooks" if settings_module.COURSE_ROOT else None
    board = Board(settings.course_prefect_api_url, settings.room_auth, notebooks).snapshot()
    if board["error"] and not board["learners"]:
        print(f"error: {board['error']}", file=sys.stderr)
        return 1
    output.write_text(timings_csv(board["timings"]), encoding="utf-8")
    print(f"{len(board['timings']['learners'])} rows (a learner in a notebook each) written to {output}.")
    for unit in board["timings"]["notebooks"]:
        low, high = unit["quartiles"]
        print(f"  notebook {unit['notebook']}: {unit['learners']} learners, median {unit['median minutes']:g} min from "
              f"their first check to their last (half of them {low:g}-{high:g}; {unit['fastest']:g} to {unit['slowest']:g})")
    return 0


def _join_lines(settings: Settings) -> str:
    return (f"\n\n    {room.join_line(settings)}\n\nThe room's password: {settings.room_password.get_secret_value()}\n"
            f"Or in one line, with the password (which then stays in the learner's shell history):\n\n"
            f"    {room.join_line(settings, with_password=True)}\n")


def _room_password(args: argparse.Namespace, settings: Settings) -> str | None:
    """The password `join` uses when the room's address has none: WORKSHOP_ROOM_PASSWORD, or asked for."""
    from urllib.parse import urlsplit

    if urlsplit(args.room.strip()).password:
        return None
    given = Settings().room_password  # the environment's, not a room file's (that may be an earlier room's)
    if given:
        return given.get_secret_value()
    if not sys.stdin.isatty():
        return None  # join says what is missing
    import getpass

    return getpass.getpass("The room's password (the instructor gives it): ").strip() or None


def cmd_join(args: argparse.Namespace, settings: Settings) -> int:
    joined = room.join(settings, args.room, args.name, password=_room_password(args, settings),
                       mock_port=args.mock_port, inbox_port=args.inbox_port)
    print(f"Joined the room at {joined.room} as {joined.learner}. From now on every notebook and terminal of this "
          f"course folder uses the room's Prefect server; what you create is named {joined.prefix}...\n"
          f"Prefect UI: {course_for(joined).prefect_ui_url}  (its login box: {settings_module.ROOM_USER}:"
          f"the room's password)\nYour inbox: {joined.inbox_url}/  (user {settings_module.ROOM_USER}, the room's password)\n"
          f"`python -m workshop lab` opens the course; `python -m workshop leave` goes back to this laptop's own server.")
    return 0


def cmd_leave(args: argparse.Namespace, settings: Settings) -> int:
    if room.leave(settings):
        print(f"Left the room. This course folder uses its own services again (`python -m workshop up`); "
              f"what you made in the room ({settings.prefix}*) stays there.")
        return 0
    print("This course folder is not in a room.")
    return 1


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m workshop", description="Run the course's local services.")
    commands = top.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="start the Prefect server, mock API and inbox (reuses what runs)").set_defaults(run=cmd_up)
    status = commands.add_parser("status", help="show each service and its health; exit 1 if one is down")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(run=cmd_status)
    commands.add_parser("down", help="stop every service this course folder started").set_defaults(run=cmd_down)
    reset = commands.add_parser("reset", help=f"delete the course's '{PREFIX}*' automations, blocks, deployments and inbox messages")
    reset.add_argument("--yes", action="store_true", help="do not ask (needed where there is no terminal: scripts, CI, notebooks)")
    reset.set_defaults(run=cmd_reset)
    faults = commands.add_parser("faults", help="show or change what the mock API does wrong")
    faults.add_argument("--site", default="primary", choices=["primary", "mirror"])
    faults.add_argument("--clear", action="store_true", help="make both sites healthy first")
    for name, (kind, text) in FAULT_OPTIONS.items():
        faults.add_argument("--" + name.replace("_", "-"), dest=name, type=kind, help=text)
    faults.add_argument("--outage", dest="outage", action="store_true", default=None, help="take the site down")
    faults.add_argument("--no-outage", dest="outage", action="store_false", help="bring the site back")
    faults.set_defaults(run=cmd_faults)
    serve = commands.add_parser("serve", help="run one of the course's servers in the foreground (up does it in the "
                                              "background); `serve inbox --help` lists its options")
    serve.add_argument("service", choices=list(SERVERS))
    serve.add_argument("options", nargs=argparse.REMAINDER, help="the server's own options, e.g. --port 4281")
    serve.set_defaults(run=cmd_serve)
    handouts = commands.add_parser("handouts", help="write learner and solved copies of the notebooks (for instructors)")
    handouts.add_argument("destination", help="folder to write learner/ and solved/ into")
    handouts.add_argument("--path", choices=list(PATHS), default="day",
                          help="only the notebooks of one of INSTRUCTORS.md's paths: 2h (00, 02, 03), half-day "
                               "(00 to 04), day (all, the default)")
    handouts.set_defaults(run=cmd_handouts)
    site = commands.add_parser("site", help="build the course's website from a test run's executed notebooks")
    site.add_argument("--executed", default="test-artifacts/executed",
                      help="the executed notebooks (default: what the test suite leaves, test-artifacts/executed)")
    site.add_argument("--out", default="test-artifacts/site", help="where the site goes (default: test-artifacts/site)")
    site.add_argument("--launch-url", help="where readers run the course: a Binder link, a room's hub")
    site.set_defaults(run=cmd_site)
    lab = commands.add_parser(
        "lab", help="start the services and open the course in JupyterLab (takes JupyterLab's own options)",
        usage="python -m workshop lab [-h] [JUPYTERLAB OPTION ...]",
        description="Start the course's services, then JupyterLab at notebook 00, on 127.0.0.1. Any other option "
                    "is JupyterLab's own and is passed on to it, e.g. --port 8890 (another port), --no-browser (print "
                    "the address only), --ip 0.0.0.0 (reachable from elsewhere: mind the token); `jupyter lab "
                    "--help-all` lists them all.")
    lab.set_defaults(run=cmd_lab, jupyterlab_options=[])
    commands.add_parser("record", help="your exercises and predictions across the course: done, not yet, hints "
                                       "seen (from this course folder's record)").set_defaults(run=cmd_record)
    check = commands.add_parser("check", help="say which steps of the lab (notebook 05) the Prefect server shows done")
    check.add_argument("notebook", choices=["05"], help="the lab: 05")
    check.add_argument("--cleaned", action="store_true", help="check the last step only: nothing of the lab is left")
    check.set_defaults(run=cmd_check)
    classroom = commands.add_parser("classroom", help="run one Prefect server (on PostgreSQL), mock API and inbox for a room")
    classroom.add_argument("action", choices=["up", "hub", "status", "report", "down"],
                           help="hub: up, and JupyterHub serving the course to learners' browsers (no install for them); "
                                "report: each learner's time per notebook, checks, hints and predictions, as CSV")
    classroom.add_argument("--host", help="up, hub: an address of this machine learners reach (default: 127.0.0.1, this machine only)")
    classroom.add_argument("--new-password", action="store_true", help="up, hub: a new room password (learners join again)")
    classroom.add_argument("--api-workers", type=int, default=1, metavar="N",
                           help="up, hub: Prefect's scaled mode, for rooms past about 20 learners: the API in N processes, "
                                "its background services apart (--services-workers), events through a Redis the course starts "
                                "(each `up` says it again; without it, one server process)")
    classroom.add_argument("--services-workers", type=int, default=1, metavar="N",
                           help="up, hub, with --api-workers: Prefect's background services in N processes (alerts "
                                "come sooner when a room's runs send many events; about 120 MB each)")
    classroom.add_argument("--output", help="report: the CSV file to write (default: room-report-DATE.csv here)")
    classroom.set_defaults(run=cmd_classroom)
    join = commands.add_parser("join", help="work in a room: use its Prefect server, mock API and inbox (the instructor gives the line)")
    join.add_argument("room", help="the room's address, http://HOST:PORT (it asks for the password; or give it in "
                                   "WORKSHOP_ROOM_PASSWORD, or in the address: http://workshop:PASSWORD@HOST:PORT)")
    join.add_argument("--as", dest="name", required=True, help="your name in the room: lowercase letters and digits")
    join.add_argument("--mock-port", type=int, help="the room's mock API port, if not 4280")
    join.add_argument("--inbox-port", type=int, help="the room's inbox port, if not 4281")
    join.set_defaults(run=cmd_join)
    commands.add_parser("leave", help="leave the room: this course folder uses its own services again").set_defaults(run=cmd_leave)
    return top


def main(argv: list[str] | None = None) -> int:
    top = parser()
    args, others = top.parse_known_args(argv)
    if others and args.command != "lab":  # JupyterLab's options pass through `lab`; elsewhere they are mistakes
        top.error(f"unrecognized arguments: {' '.join(others)}")
    args.jupyterlab_options = others
    try:
        return args.run(args, settings_module.load())
    except WorkshopError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
