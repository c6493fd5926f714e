"""``lakewarden alerts list``: what is firing now, with its status, like ``amtool alert query``.

The alerts and their status come from ``alerts.listing`` (the same query the HTTP API answers): an
alert is ``active``, or ``suppressed`` by silences (their ids) and/or inhibiting alerts (their
alertname and labels). Filters are amtool's: label matchers (``model="churn"``, ``severity=~"high|critical"``
or ``{a="x",b="y"}``), ``--receiver REGEX``, and the state flags. Without a flag only active alerts are
listed, as ``amtool alert query`` does; ``--silenced`` / ``--inhibited`` / ``--active`` list the states
asked for (any of them); a first filter that is a bare word is the alertname (``alerts list ModelAtRisk``),
as in amtool. Two differences, on purpose: without a flag a line on stderr counts the suppressed alerts
left out (stdout is the table alone, as amtool's); and there is no ``--unprocessed`` (an Alertmanager
alert not yet through its pipeline): a lakewarden alert's status is computed when it is listed.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from monitor.cli import exitcodes
from monitor.cli.common import add_config, add_json, plural, print_json

if TYPE_CHECKING:
    from alerts.listing import ListedAlert


def register(cmds: Any) -> None:
    show = cmds.add_parser("list", help="the alerts firing now with their status (active, silenced, inhibited); "
                                        "like amtool alert query")
    show.add_argument("matchers", nargs="*", metavar="MATCHER",
                      help='only alerts matching these, such as model="churn" or severity=~"high|critical"; '
                           "a bare first word is the alertname, as in amtool")
    add_config(show)
    show.add_argument("--active", action="store_true", help="alerts neither silenced nor inhibited (the default "
                                                            "when no state flag is given)")
    show.add_argument("--silenced", action="store_true", help="alerts a silence mutes (with the silence ids)")
    show.add_argument("--inhibited", action="store_true", help="alerts another firing alert inhibits")
    show.add_argument("--receiver", metavar="REGEX", help="only alerts routed to a receiver matching this regex")
    add_json(show, "the alerts as a JSON list: labels, annotations, start, state, silenced_by, inhibited_by, "
                   "receivers")
    show.set_defaults(handler=_list)


def _list(args: argparse.Namespace) -> int:
    from alerts.listing import AlertFilter, AlertListing  # noqa: PLC0415 - keep --help fast
    from config.basics.clock import utc_now  # noqa: PLC0415
    from monitor.cli.common import open_alert_state  # noqa: PLC0415

    flags = args.active or args.silenced or args.inhibited
    args.matchers = alertname_shorthand(args.matchers)
    try:
        where = AlertFilter.parse(args.matchers, receiver=args.receiver, active=args.active or not flags,
                                  silenced=args.silenced, inhibited=args.inhibited)
        everything = AlertFilter.parse(args.matchers, receiver=args.receiver)
    except ValueError as exc:
        print(f"lakewarden: error: {exc}")
        return exitcodes.CONFIG_ERROR
    settings, store = open_alert_state(args.config)
    listing = AlertListing(store.engine, settings.route, settings.inhibit_rules, utc_now)
    found = listing.query(where)
    if args.json:
        print_json([alert_json(item) for item in found])
        return exitcodes.OK
    every = listing.query(everything)
    print(render(found, {item.fingerprint: item for item in listing.query()}))
    if not flags:
        hidden = len(every) - len(found)
        if hidden:
            print(f"({plural(hidden, 'suppressed alert')} not listed: --silenced, --inhibited)", file=sys.stderr)
    return exitcodes.OK


def alertname_shorthand(matchers: list[str]) -> list[str]:
    """amtool's rule: a first filter with no matcher operator (a bare word) means ``alertname="WORD"``."""
    if matchers and re.fullmatch(r"[^=~!{}\s\"]+", matchers[0]):
        return [f'alertname="{matchers[0]}"', *matchers[1:]]
    return matchers


def alert_json(item: ListedAlert) -> dict[str, Any]:
    alert = item.alert
    return {"fingerprint": item.fingerprint, "labels": dict(alert.labels), "annotations": dict(alert.annotations),
            "starts_at": alert.starts_at, "state": item.status.state.value,
            "silenced_by": list(item.status.silenced_by), "inhibited_by": list(item.status.inhibited_by),
            "receivers": list(item.receivers), "scope": item.scope}


def _state(item: ListedAlert, firing: Mapping[str, ListedAlert]) -> str:
    parts = []
    if item.status.silenced_by:
        parts.append("silenced by " + ",".join(sid[:8] for sid in item.status.silenced_by))
    if item.status.inhibited_by:
        names = [_short(firing[fp]) if fp in firing else fp[:8] for fp in item.status.inhibited_by]
        parts.append("inhibited by " + ",".join(names))
    return "; ".join(parts) or "active"


def _short(item: ListedAlert) -> str:
    labels = item.alert.labels
    keys = ("model", "severity")
    return f"{labels.get('alertname', '')}{{{','.join(f'{k}={labels[k]}' for k in keys if k in labels)}}}"


def render(found: list[ListedAlert], firing: Mapping[str, ListedAlert]) -> str:
    if not found:
        return "no alerts"
    rows = [("ALERTNAME", "STARTS (UTC)", "STATE", "LABELS", "SUMMARY")]
    for item in found:
        labels = item.alert.labels
        rest = " ".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "alertname")
        rows.append((labels.get("alertname", ""), f"{item.alert.starts_at:%Y-%m-%d %H:%M}", _state(item, firing), rest,
                     str(item.alert.annotations.get("summary", ""))[:80]))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join("  ".join(cell.ljust(widths[i]) if i < 4 else cell for i, cell in enumerate(row)).rstrip()
                     for row in rows)
