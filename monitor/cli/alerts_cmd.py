"""``lakewarden alerts list|routes|test|outbox|escalations|ack``: look into and exercise the alert path.

``alerts outbox retry ID...|--dead`` puts dead notifications back in the outbox once their receiver is
fixed (``alerts.requeue``: one transaction, the daemon sends them as any other row, the row keeps who
requeued it).
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Any

from monitor.cli import alerts_list, exitcodes
from monitor.cli.common import WHO_HELP, add_config, add_json, open_alert_state, print_json, who_is_asking

if TYPE_CHECKING:
    pass


def register(sub: Any) -> None:
    alerts = sub.add_parser("alerts", help="alert routing, test notifications, the outbox, escalations")
    cmds = alerts.add_subparsers(dest="alerts_command", required=True, metavar="SUBCOMMAND")
    alerts_list.register(cmds)

    routes = cmds.add_parser("routes", help="which receivers an alert with these labels reaches, in order "
                                            "(like amtool config routes test); --tree: the whole routing tree")
    add_config(routes)
    routes.add_argument("--tree", action="store_true",
                        help="print every route with its effective receiver, group_by and timers (like amtool "
                             "config routes show); with labels, mark the routes the alert reaches")
    routes.add_argument("--verify-receivers", metavar="R1,R2",
                        help="exit 1 unless the alert reaches exactly these receivers, in this order (for CI)")
    routes.add_argument("labels", nargs="*", metavar="label=value", help="the alert's labels, such as severity=high")
    add_json(routes, "the routes the alert reaches as JSON: receiver, group_by, timers, group key")
    routes.set_defaults(handler=_routes)

    test = cmds.add_parser("test", help="send a marked test notification to every channel of RECEIVER now")
    test.add_argument("receiver", help="a receiver's name in the config")
    add_config(test)
    test.set_defaults(handler=_test)

    outbox = cmds.add_parser("outbox", help="pending, retrying, in-flight and dead notifications, with why each "
                                            "was sent (first, repeat, changed...); `outbox retry` requeues dead ones")
    add_config(outbox)
    outbox.add_argument("--all", action="store_true", help="also list delivered rows")
    outbox.add_argument("--limit", type=int, default=50, help="at most this many rows (newest first)")
    add_json(outbox, "the counts and the rows as one JSON document")
    outbox.set_defaults(handler=_outbox)
    outbox_cmds = outbox.add_subparsers(dest="outbox_command", required=False, metavar="[retry]")
    retry = outbox_cmds.add_parser("retry", help="send dead notifications again (after fixing their receiver)")
    retry.add_argument("ids", nargs="*", type=int, metavar="ID", help="the row ids shown by `alerts outbox`")
    retry.add_argument("--dead", action="store_true", help="every dead notification")
    retry.add_argument("--by", default=None, help=WHO_HELP.replace("who", "who requeues", 1))
    add_config(retry)
    retry.set_defaults(handler=_retry, parser=retry)

    esc = cmds.add_parser("escalations", help="open escalations (with --all, closed ones too)")
    add_config(esc)
    esc.add_argument("--all", action="store_true", help="closed escalations too")
    add_json(esc, "the escalations as a JSON list")
    esc.set_defaults(handler=_escalations)

    ack = cmds.add_parser("ack", help="acknowledge the escalation of a group (stops its steps; PagerDuty follows)")
    ack.add_argument("group", help="the group id shown by `alerts escalations` (a unique prefix is enough)")
    add_config(ack)
    ack.add_argument("--by", default=None, help=WHO_HELP.replace("who", "who acknowledges", 1))
    ack.add_argument("--comment", default="", help="a note kept with the acknowledgement")
    ack.set_defaults(handler=_ack)


def _routes(args: argparse.Namespace) -> int:
    from alerts import resolve_routes  # noqa: PLC0415
    from alerts.model import without_empty  # noqa: PLC0415
    from alerts.routetree import render_tree  # noqa: PLC0415
    from config import load_settings  # noqa: PLC0415
    from config.durations import format_duration  # noqa: PLC0415
    from config.matchers import Matcher, Op  # noqa: PLC0415

    given: dict[str, str] = {}
    for item in args.labels:
        try:
            label = Matcher.parse(item)
        except ValueError:
            label = None
        if label is None or label.op is not Op.EQ:
            print(f'lakewarden: error: {item!r} is not label=value (for example severity=critical or model="a b")',
                  flush=True)
            return exitcodes.CONFIG_ERROR
        given[label.name] = label.value
    labels = without_empty(given)  # Alertmanager drops labels with an empty value
    settings = load_settings(args.config)
    if args.tree and not args.json:
        print(render_tree(settings.route, labels if given else None))
        if not given:
            return exitcodes.OK
    found = resolve_routes(settings.route, labels)
    reached = ",".join(route.receiver for route in found)
    if args.json:
        print_json([{"receiver": r.receiver, "route": r.key, "group": r.group_key(labels),
                     "group_by": ["..."] if r.group_by_all else list(r.group_by),
                     "group_wait": format_duration(r.timers.group_wait),
                     "group_interval": format_duration(r.timers.group_interval),
                     "repeat_interval": format_duration(r.timers.repeat_interval),
                     "mute_time_intervals": list(r.mute_time_intervals),
                     "active_time_intervals": list(r.active_time_intervals), "escalation": r.escalation}
                    for r in found])
    else:
        print(reached)
    if not args.tree and not args.json:
        for number, route in enumerate(found, 1):
            group_by = "..." if route.group_by_all else ",".join(route.group_by)
            t = route.timers
            extra = [f"mute={','.join(route.mute_time_intervals)}" if route.mute_time_intervals else "",
                     f"active={','.join(route.active_time_intervals)}" if route.active_time_intervals else "",
                     f"escalation={route.escalation}" if route.escalation else ""]
            print(f"  {number}. {route.receiver:<16} group_by=[{group_by}] group_wait={format_duration(t.group_wait)} "
                  f"group_interval={format_duration(t.group_interval)} "
                  f"repeat_interval={format_duration(t.repeat_interval)} {' '.join(e for e in extra if e)}".rstrip())
            print(f"     route {route.key}  group {route.group_key(labels)}")
    if args.verify_receivers is not None:
        expected = ",".join(name.strip() for name in args.verify_receivers.split(","))
        if expected != reached:
            print(f"lakewarden: receivers differ: expected {expected}, the alert reaches {reached}", flush=True)
            return exitcodes.ERROR
    return exitcodes.OK


def _test(args: argparse.Namespace) -> int:
    from alerts.testsend import send_test  # noqa: PLC0415
    from monitor.app import build_notifier  # noqa: PLC0415

    settings, store = open_alert_state(args.config)
    try:
        receiver = settings.receiver(args.receiver)
    except KeyError:
        known = ", ".join(r.name for r in settings.receivers)
        print(f"lakewarden: error: no receiver named {args.receiver!r} (receivers: {known})")
        return exitcodes.CONFIG_ERROR
    delivery = build_notifier(settings, store, worker_id=f"alerts-test-{os.getpid()}")
    results = send_test(store, delivery, receiver)
    if not results:
        print(f"receiver {receiver.name} has no channels: nothing to send")
        return exitcodes.OK
    for line in results:
        print(f"{receiver.name} {line.kind}#{line.index}: {line.outcome}: {line.detail}")
    return exitcodes.OK if all(line.outcome == "delivered" for line in results) else exitcodes.ERROR


def _outbox(args: argparse.Namespace) -> int:
    from alerts.outboxview import describe_outbox, outbox_view  # noqa: PLC0415

    _, store = open_alert_state(args.config)
    if args.json:
        view = outbox_view(store.engine, include_done=args.all, limit=args.limit)
        print_json({"counts": view.counts, "rows": view.rows})
    else:
        print(describe_outbox(store.engine, include_done=args.all, limit=args.limit))
    return exitcodes.OK


def _retry(args: argparse.Namespace) -> int:
    from alerts.requeue import requeue_dead  # noqa: PLC0415
    from config.basics.clock import utc_now  # noqa: PLC0415

    if bool(args.ids) == args.dead:
        args.parser.error("give the ids of dead rows (see `lakewarden alerts outbox`) or --dead for every one")
    by = (args.by if args.by is not None else who_is_asking()).strip()
    _, store = open_alert_state(args.config)
    try:
        result = requeue_dead(store.engine, utc_now(), by=by, ids=None if args.dead else args.ids)
    except ValueError as exc:
        print(f"lakewarden: error: {exc}")
        return exitcodes.CONFIG_ERROR
    for row_id in result.requeued:
        print(f"#{row_id} requeued: a running daemon sends it at its next delivery tick")
    for row_id, why in result.skipped.items():
        print(f"#{row_id} not requeued: {why}")
    if not result.requeued and not result.skipped:
        print("no dead notifications")
    return exitcodes.ERROR if result.skipped and not args.dead else exitcodes.OK


def _escalations(args: argparse.Namespace) -> int:
    _, store = open_alert_state(args.config)
    rows = store.escalations().list(include_closed=args.all)
    if args.json:
        print_json([{"group_id": e.group_id, "group_key": e.group_key, "policy": e.policy, "step": e.step,
                     "round": e.round, "next_at": e.next_at, "opened_at": e.opened_at, "acked_at": e.acked_at,
                     "acked_by": e.acked_by or None, "closed_at": e.closed_at, "notified": list(e.notified)}
                    for e in rows])
        return exitcodes.OK
    if not rows:
        print("no open escalations" if not args.all else "no escalations")
    for e in rows:
        state = ("closed" if e.closed_at else f"acked by {e.acked_by}" if e.acked_at else
                 f"next step {e.step + 1} (round {e.round + 1}) at {e.next_at:%Y-%m-%d %H:%M:%S}Z" if e.next_at
                 else "all steps done")
        print(f"{e.group_id}  {e.policy:<16} {state:<44} opened {e.opened_at:%Y-%m-%d %H:%M:%S}Z  "
              f"notified [{', '.join(e.notified)}]  {e.group_key}")
    return exitcodes.OK


def _ack(args: argparse.Namespace) -> int:
    _, store = open_alert_state(args.config)
    try:
        e = store.escalations().acknowledge(args.group, args.by if args.by is not None else who_is_asking(),
                                            args.comment)
    except (KeyError, ValueError) as exc:
        print(f"lakewarden: error: {exc.args[0]}")
        return exitcodes.ERROR
    print(f"acknowledged {e.group_id} ({e.group_key}) by {e.acked_by}; a running daemon stops its escalation "
          "at its next flush")
    return exitcodes.OK
