"""``lakewarden lifecycle list|show|start|cancel|pause|resume``: lifecycle runs in the state database.

Nothing here runs a job or touches a registry: a start is a ``pending`` run (through the same
guardrails as an automatic trigger), a cancel is a request recorded on the run, and the kill switch
is a row; a running daemon acts on each at its next lifecycle tick (``service.lifecycle_interval``).
A run is named by its id or a unique prefix of it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from monitor.cli import exitcodes
from monitor.cli.common import WHO_HELP, add_config, who_is_asking

if TYPE_CHECKING:
    from config import Settings
    from monitor.state import StateStore
    from retrain import RunBook, RunRecord
    from retrain.runs import LifecycleEvent

_RESERVED_BY = ("policy", "schedule", "emergency")  # what automatic triggers name themselves
_SHORT = 12  # characters of a run id in tables; any unique prefix names a run


def register(sub: Any) -> None:
    life = sub.add_parser("lifecycle", help="lifecycle runs: list, show, start, cancel; the kill switch")
    cmds = life.add_subparsers(dest="lifecycle_command", required=True, metavar="SUBCOMMAND")

    show_list = cmds.add_parser("list", help="runs, newest first (and whether the lifecycle is paused)")
    add_config(show_list)
    show_list.add_argument("--model", help="only this model's runs")
    show_list.add_argument("--json", action="store_true", help="JSON instead of a table")
    show_list.set_defaults(handler=_list)

    show = cmds.add_parser("show", help="one run: state, step, plan, trigger, external ids, and its audit trail")
    show.add_argument("run", metavar="RUN", help="the run id (a unique prefix is enough)")
    add_config(show)
    show.add_argument("--json", action="store_true", help="JSON instead of text")
    show.set_defaults(handler=_show)

    start = cmds.add_parser("start", help="ask for a run of MODEL now, through the guardrails "
                                          f"(exit {exitcodes.BLOCKED} when one blocks it)")
    start.add_argument("model", metavar="MODEL", help="the model's name in the config")
    add_config(start)
    start.add_argument("--reason", required=True, help="why (shown in the run's trigger and notifications)")
    start.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                       help="an extra job parameter for this run, over the configured ones (repeatable)")
    _by(start)
    start.set_defaults(handler=_start)

    cancel = cmds.add_parser("cancel", help="ask a run to stop; the daemon cancels its jobs and rolls back "
                                            "what it changed")
    cancel.add_argument("run", metavar="RUN", help="the run id (a unique prefix is enough)")
    add_config(cancel)
    cancel.add_argument("--reason", required=True, help="why")
    _by(cancel)
    cancel.set_defaults(handler=_cancel)

    for name, verb in (("pause", "no run starts and no run takes a step (rollbacks go on)"),
                       ("resume", "lift a pause")):
        switch = cmds.add_parser(name, help=f"the kill switch: {verb}")
        add_config(switch)
        switch.add_argument("--reason", required=True, help="why")
        _by(switch)
        switch.set_defaults(handler=_switch, paused=name == "pause")


def _by(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--by", default=None, help=WHO_HELP.replace("who", "who asks", 1))


def _open(path: str) -> tuple[Settings, StateStore, RunBook]:
    """The config, its state database (every package's tables brought up to date) and a RunBook on
    it, built as the daemon builds them (``monitor.app``)."""
    from config import load_settings  # noqa: PLC0415 - keep --help fast
    from config.basics.clock import utc_now  # noqa: PLC0415
    from monitor.app import build_runbook, open_state  # noqa: PLC0415

    settings = load_settings(path)
    store = open_state(settings)
    return settings, store, build_runbook(settings, store, utc_now)


def _who(args: argparse.Namespace) -> str | None:
    """The --by name, or None after printing why it cannot be used."""
    by = (args.by if args.by is not None else who_is_asking()).strip()
    if not by:
        _error("say who asks with --by NAME ($USER and $LOGNAME are not set and the uid has no name)")
        return None
    if by in _RESERVED_BY:
        _error(f"--by {by!r} is how automatic triggers name themselves; give a person's name")
        return None
    return by


def _error(message: str) -> None:
    print(f"lakewarden: error: {message}", file=sys.stderr)


def _resolve(book: RunBook, text: str) -> RunRecord:
    """The run with this id, or the one run whose id starts with it; KeyError says what went wrong."""
    run = book.get(text)
    if run is not None:
        return run
    found = [r for r in book.runs() if r.run_id.startswith(text)] if text else []
    if len(found) == 1:
        return found[0]
    if found:
        ids = ", ".join(r.run_id[:_SHORT] for r in found[:5])
        raise KeyError(f"run id prefix {text!r} is ambiguous ({ids}...): give more of the id")
    raise KeyError(f"no lifecycle run {text!r} (`lakewarden lifecycle list` shows the runs)")


def _when(value: datetime | None) -> str:
    return "-" if value is None else f"{value:%Y-%m-%d %H:%M:%S}Z"


def _short(text: str | None, width: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _run_json(run: RunRecord) -> dict[str, Any]:
    return {
        "run_id": run.run_id, "model": run.model, "registered_model": run.registered_model,
        "state": run.state.value, "step": run.step.value, "plan": [s.value for s in run.plan],
        "attempts": run.attempts, "model_version": run.model_version, "trigger": run.trigger.to_json(),
        "external": dict(run.external), "decision": run.decision, "cancel_requested": run.cancel_requested,
        "created_at": run.created_at.isoformat(), "updated_at": run.updated_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }


def _event_json(event: LifecycleEvent) -> dict[str, Any]:
    return {"at": event.at.isoformat(), "kind": event.kind, "message": event.message}


def _list(args: argparse.Namespace) -> int:
    settings, _, book = _open(args.config)
    if args.model is not None:
        try:
            settings.model(args.model)
        except KeyError as exc:
            _error(exc.args[0])
            return exitcodes.CONFIG_ERROR
    runs, switch = book.runs(args.model), book.switch()
    if args.json:
        paused = {"paused": switch.paused, "reason": switch.reason, "by": switch.by,
                  "at": switch.at.isoformat() if switch.at else None}
        print(json.dumps({"switch": paused, "runs": [_run_json(r) for r in runs]}, indent=2, default=str))
        return exitcodes.OK
    if switch.paused:
        print(f"PAUSED since {_when(switch.at)} by {switch.by}: {switch.reason}  "
              "(no run starts or steps; `lakewarden lifecycle resume --reason ...` lifts it)")
    if not runs:
        print("no lifecycle runs" + (f" of {args.model}" if args.model else ""))
        return exitcodes.OK
    print(f"{'RUN':<{_SHORT}}  {'MODEL':<16} {'STATE':<11} {'STEP':<15} {'VERSION':<8} {'CREATED':<20} DECISION")
    for run in runs:
        print(f"{run.run_id[:_SHORT]:<{_SHORT}}  {run.model:<16} {run.state.value:<11} {run.step.value:<15} "
              f"{run.model_version or '-':<8} {_when(run.created_at):<20} {_short(run.decision, 60) or '-'}")
    return exitcodes.OK


def _external_lines(external: Mapping[str, Any]) -> list[str]:
    lines = []
    for key, value in external.items():
        if key == "plan":
            continue
        shown = value if isinstance(value, str) else json.dumps(value, default=str, separators=(",", ":"))
        lines.append(f"  {key:<28} {_short(str(shown), 100)}")
    return lines


def _job_lines(external: Mapping[str, Any]) -> list[str]:
    """One line per job: its last status (running, started and died...), adoptions, outliving a stop."""
    lines = []
    for prefix, name in (("", "job"), ("validate_", "validate"), ("batch_", "batch job")):
        if (external_id := external.get(f"{prefix}job_external_id")) is None:
            continue
        notes = [str(external.get(f"{prefix}job_status") or "status not read yet")]
        if outlived := external.get(f"{prefix}job_outlived_daemon"):
            notes.append(f"outlived the lakewarden stopped at {outlived.get('at')}")
        for adoption in external.get(f"{prefix}job_adoptions") or []:
            notes.append(f"adopted at {adoption.get('at')} by {adoption.get('by')}")
        lines.append(f"{name:<10} {external_id}: " + "; ".join(notes))
    return lines


def _show(args: argparse.Namespace) -> int:
    _, _, book = _open(args.config)
    try:
        run = _resolve(book, args.run)
    except KeyError as exc:
        _error(exc.args[0])
        return exitcodes.ERROR
    history = book.history(run.run_id)
    if args.json:
        print(json.dumps({**_run_json(run), "history": [_event_json(e) for e in history]}, indent=2, default=str))
        return exitcodes.OK
    t = run.trigger
    window = f"{_when(t.window_start)} .. {_when(t.window_end)}" if t.window_start or t.window_end else "none"
    labels = {True: "yes", False: "no", None: "unknown"}[t.labels_present]
    plan = " -> ".join(s.value for s in run.plan)
    params = ", ".join(f"{k}={v}" for k, v in t.parameters)
    lines = [
        f"run        {run.run_id}",
        f"model      {run.model} (registered model {run.registered_model})",
        f"state      {run.state.value}" + (f", finished {_when(run.finished_at)}" if run.finished_at else ""),
        f"step       {run.step.value} (attempt {run.attempts}; plan {plan})",
        f"version    {run.model_version or '-'}",
        f"trigger    {t.reason}",
        f"           by {t.requested_by}, severity {t.severity}, window {window}, "
        f"data to {_when(t.data_end)}, labels {labels}" + (f"; job parameters {params}" if params else ""),
        f"created    {_when(run.created_at)}, updated {_when(run.updated_at)}",
        f"decision   {run.decision or '-'}",
    ]
    lines += _job_lines(run.external)
    if run.cancel_requested and not run.state.final:
        lines.append(f"cancel     asked: {run.cancel_requested} (the daemon acts at its next lifecycle tick)")
    external = _external_lines(run.external)
    lines += ["", "recorded (external ids and side effects done)", *(external or ["  nothing yet"])]
    lines += ["", "audit trail"]
    lines += [f"  {_when(e.at)}  {e.kind:<12} {e.message}" for e in history] or ["  no events"]
    print("\n".join(lines))
    return exitcodes.OK


def _start(args: argparse.Namespace) -> int:
    from monitor.app import build_assessments  # noqa: PLC0415 - keep --help fast
    from monitor.lifecycle_triggers import manual_trigger  # noqa: PLC0415

    by = _who(args)
    reason = " ".join(str(args.reason).split())
    if by is None:
        return exitcodes.CONFIG_ERROR
    if not reason:
        _error("--reason must say why (it goes into the run's trigger and its notifications)")
        return exitcodes.CONFIG_ERROR
    pairs = []
    for item in args.param:
        key, sep, value = str(item).partition("=")
        if not sep or not key.strip():
            _error(f"--param {item!r} is not KEY=VALUE")
            return exitcodes.CONFIG_ERROR
        pairs.append((key.strip(), value))
    settings, store, book = _open(args.config)
    try:
        model = settings.model(args.model)
    except KeyError as exc:
        _error(exc.args[0])
        return exitcodes.CONFIG_ERROR
    trigger = manual_trigger(model, build_assessments(store, book.clock), reason, by)
    try:
        trigger = dataclasses.replace(trigger, parameters=tuple(pairs))
    except ValueError as exc:  # a reserved or malformed parameter name
        _error(f"--param: {exc}")
        return exitcodes.CONFIG_ERROR
    decision = book.consider(trigger)
    if not decision.started:
        print(f"not started: guardrail {decision.reason.value}: {decision.message}")
        return exitcodes.BLOCKED
    print(f"started run {decision.run_id} for {model.name} ({trigger.reason}, by {by}); a running daemon "
          "takes its first step at its next lifecycle tick")
    return exitcodes.OK


def _who_and_why(args: argparse.Namespace) -> tuple[str, str] | None:
    """``--by`` (or the user) and ``--reason``, or None after saying what is wrong."""
    by = _who(args)
    reason = " ".join(str(args.reason).split())
    if not reason:
        _error("--reason must say why")
    return None if by is None or not reason else (by, reason)


def _cancel(args: argparse.Namespace) -> int:
    asked = _who_and_why(args)
    if asked is None:
        return exitcodes.CONFIG_ERROR
    by, reason = asked
    _, _, book = _open(args.config)
    try:
        run = book.cancel(_resolve(book, args.run).run_id, reason, by)
    except (KeyError, ValueError) as exc:
        _error(exc.args[0])
        return exitcodes.ERROR
    print(f"cancel asked for run {run.run_id} ({run.model}, {run.state.value} at {run.step.value}); a running "
          "daemon cancels its jobs and rolls back what it changed at its next lifecycle tick")
    return exitcodes.OK


def _switch(args: argparse.Namespace) -> int:
    asked = _who_and_why(args)
    if asked is None:
        return exitcodes.CONFIG_ERROR
    by, reason = asked
    _, _, book = _open(args.config)
    before = book.switch()
    if args.paused:
        book.pause(reason, by)
        again = " (it was already paused)" if before.paused else ""
        print(f"lifecycle paused by {by}: {reason}{again}; no run starts and no run takes a step (rollbacks go "
              "on) until `lakewarden lifecycle resume`")
    else:
        book.resume(reason, by)
        again = "" if before.paused else " (it was not paused)"
        print(f"lifecycle resumed by {by}: {reason}{again}; runs start and step again at the daemon's next tick")
    return exitcodes.OK
