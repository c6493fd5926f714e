"""``lakewarden silence add|list|expire``: silences in the state database, seen by a running daemon
at its next flush."""

from __future__ import annotations

import argparse
import os
from datetime import datetime
from typing import Any

from config.basics.clock import utc, utc_now
from monitor.cli import exitcodes


def register(sub: Any) -> None:
    silence = sub.add_parser("silence", help="mute alerts matching some labels for a while")
    cmds = silence.add_subparsers(dest="silence_command", required=True, metavar="SUBCOMMAND")

    add = cmds.add_parser("add", help='add a silence: lakewarden silence add \'model="churn"\' --duration 2h ...')
    add.add_argument("matchers", nargs="+", metavar="MATCHER", help='such as model="churn" or severity=~"high|medium"')
    add.add_argument("--config", required=True, help="path to the YAML config")
    when = add.add_mutually_exclusive_group(required=True)
    when.add_argument("--duration", help="how long from the start, such as 2h or 1d")
    when.add_argument("--end", help="when it ends (ISO 8601, e.g. 2025-03-01T18:00:00Z)")
    add.add_argument("--start", help="when it starts (ISO 8601; default now)")
    add.add_argument("--comment", required=True, help="why")
    add.add_argument("--author", default=os.environ.get("USER") or os.environ.get("LOGNAME", ""),
                     help="who (default: $USER)")
    add.set_defaults(handler=_add)

    show = cmds.add_parser("list", help="pending and active silences (--expired: expired ones, --all: every one)")
    show.add_argument("--config", required=True, help="path to the YAML config")
    which = show.add_mutually_exclusive_group()
    which.add_argument("--expired", action="store_true")
    which.add_argument("--all", action="store_true")
    show.set_defaults(handler=_list)

    expire = cmds.add_parser("expire", help="end a silence now (it is kept for audit)")
    expire.add_argument("id", help="the silence id (a unique prefix is enough)")
    expire.add_argument("--config", required=True, help="path to the YAML config")
    expire.set_defaults(handler=_expire)


def _time(text: str, what: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--{what}: {text!r} is not an ISO 8601 time such as 2025-03-01T18:00:00Z") from None
    return utc(value)


def _store(path: str) -> Any:
    from monitor.cli.alerts_cmd import open_alert_state  # noqa: PLC0415 - keep --help fast

    settings, store = open_alert_state(path)
    return store.silences(settings.alerting.silence_retention)


def _add(args: argparse.Namespace) -> int:
    from config.durations import parse_duration  # noqa: PLC0415
    from config.matchers import Matcher  # noqa: PLC0415

    try:
        matchers = [Matcher.parse(text) for text in args.matchers]
        start = _time(args.start, "start") if args.start else utc_now()
        end = _time(args.end, "end") if args.end else start + parse_duration(args.duration)
        silence = _store(args.config).add(matchers, end, created_by=args.author, comment=args.comment,
                                          starts_at=start if args.start else None)
    except ValueError as exc:
        print(f"lakewarden: error: {exc}")
        return exitcodes.CONFIG_ERROR
    print(silence.id)
    return exitcodes.OK


def _list(args: argparse.Namespace) -> int:
    from alerts import SilenceState  # noqa: PLC0415

    states = (None if args.all else [SilenceState.EXPIRED] if args.expired
              else [SilenceState.PENDING, SilenceState.ACTIVE])
    now = utc_now()
    silences = _store(args.config).list(states)
    if not silences:
        print("no silences")
    for s in silences:
        print(f"{s.id}  {s.state(now).value:<8} {s.starts_at:%Y-%m-%d %H:%M}Z .. {s.ends_at:%Y-%m-%d %H:%M}Z  "
              f"{' '.join(str(m) for m in s.matchers)}  by {s.created_by}: {s.comment}")
    return exitcodes.OK


def _expire(args: argparse.Namespace) -> int:
    try:
        silence = _store(args.config).expire(args.id)
    except (KeyError, ValueError) as exc:
        print(f"lakewarden: error: {exc.args[0]}")
        return exitcodes.ERROR
    print(f"expired {silence.id} at {silence.ends_at:%Y-%m-%d %H:%M:%S}Z")
    return exitcodes.OK
