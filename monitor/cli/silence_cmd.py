"""``lakewarden silence add|update|list|expire``: silences in the state database, seen by a running daemon
at its next flush.

``add`` prints the new silence's id alone on stdout (so ``id=$(lakewarden silence add ...)`` works, as
with ``amtool``), then on stderr the alerts firing now that it mutes and a warning for each label name
that no alert, route or inhibit rule uses. ``--dry-run`` writes nothing and prints the same on stdout.
``--json`` prints one document: the silence, what it mutes now, the warnings.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any

from config.basics.clock import utc, utc_now
from monitor.cli import exitcodes
from monitor.cli.common import WHO_HELP, add_config, add_json, plural, print_json, who_is_asking

if TYPE_CHECKING:
    from alerts import AlertStore
    from alerts.silences import Silence
    from config import Settings
    from monitor.cli.silence_preview import Preview


def register(sub: Any) -> None:
    silence = sub.add_parser("silence", help="mute alerts matching some labels for a while")
    cmds = silence.add_subparsers(dest="silence_command", required=True, metavar="SUBCOMMAND")

    add = cmds.add_parser("add", help='add a silence: lakewarden silence add \'model="churn"\' --duration 2h ...')
    add.add_argument("matchers", nargs="+", metavar="MATCHER", help='such as model="churn" or severity=~"high|medium"')
    add_config(add)
    when = add.add_mutually_exclusive_group(required=True)
    when.add_argument("--duration", help="how long from the start, such as 2h or 1d")
    when.add_argument("--end", help="when it ends (ISO 8601, e.g. 2025-03-01T18:00:00Z)")
    add.add_argument("--start", help="when it starts (ISO 8601; default now)")
    add.add_argument("--comment", required=True, help="why")
    add.add_argument("--author", default=None, help=WHO_HELP)
    add.add_argument("--dry-run", action="store_true",
                     help="write nothing: print the alerts it would mute now and the warnings")
    add_json(add, "the silence, the alerts it mutes now and the warnings as one JSON document")
    add.set_defaults(handler=_add)

    update = cmds.add_parser("update", help="change a pending or active silence's end, start or comment "
                                            "(like amtool silence update; its matchers stay)")
    update.add_argument("id", help="the silence id (a unique prefix is enough)")
    add_config(update)
    when = update.add_mutually_exclusive_group()
    when.add_argument("--duration", help="a new end this long after its start, such as 4h")
    when.add_argument("--end", help="a new end (ISO 8601)")
    update.add_argument("--start", help="a new start (ISO 8601; a pending silence only)")
    update.add_argument("--comment", help="a new comment")
    update.add_argument("--author", default=None, help=WHO_HELP + "; recorded as the silence's author")
    add_json(update, "the updated silence as JSON")
    update.set_defaults(handler=_update)

    show = cmds.add_parser("list", help="pending and active silences (--expired: expired ones, --all: every one)")
    add_config(show)
    which = show.add_mutually_exclusive_group()
    which.add_argument("--expired", action="store_true", help="only expired silences (kept for audit a while)")
    which.add_argument("--all", action="store_true", help="every silence, whatever its state")
    add_json(show, "the silences as a JSON list")
    show.set_defaults(handler=_list)

    expire = cmds.add_parser("expire", help="end a silence now (it is kept for audit)")
    expire.add_argument("id", help="the silence id (a unique prefix is enough)")
    add_config(expire)
    expire.set_defaults(handler=_expire)


def _time(text: str, what: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--{what}: {text!r} is not an ISO 8601 time such as 2025-03-01T18:00:00Z") from None
    return utc(value)


def _open(path: str) -> tuple[Settings, AlertStore]:
    from monitor.cli.common import open_alert_state  # noqa: PLC0415

    return open_alert_state(path)


def _error(message: str) -> None:
    print(f"lakewarden: error: {message}")


def silence_json(s: Silence, now: datetime) -> dict[str, Any]:
    return {"id": s.id, "state": s.state(now).value, "matchers": [str(m) for m in s.matchers],
            "starts_at": s.starts_at, "ends_at": s.ends_at, "created_by": s.created_by, "comment": s.comment,
            "updated_at": s.updated_at}


def _add(args: argparse.Namespace) -> int:
    from config.durations import parse_duration  # noqa: PLC0415
    from config.matchers import Matcher  # noqa: PLC0415
    from monitor.cli.alert_query import current_alerts  # noqa: PLC0415
    from monitor.cli.silence_preview import preview  # noqa: PLC0415

    author = (args.author if args.author is not None else who_is_asking()).strip()
    try:
        matchers = [Matcher.parse(text) for text in args.matchers]
        start = _time(args.start, "start") if args.start else utc_now()
        end = _time(args.end, "end") if args.end else start + parse_duration(args.duration)
    except ValueError as exc:
        _error(str(exc))
        return exitcodes.CONFIG_ERROR
    if not author:
        _error("say who adds the silence with --author NAME ($USER and $LOGNAME are not set and the uid has no name)")
        return exitcodes.CONFIG_ERROR
    settings, store = _open(args.config)
    silences = store.silences(settings.alerting.silence_retention)
    seen = preview(matchers, settings, current_alerts(store, settings))  # as things stand before it is added
    try:
        from alerts.silences import check_matchers  # noqa: PLC0415

        check_matchers(matchers)
        if args.dry_run:
            now = utc_now()
            if end <= start or end <= now:
                raise ValueError(f"a silence must end after it starts and in the future (ends {end.isoformat()})")
            if not args.comment.strip():
                raise ValueError("a silence needs a comment saying why")
            silence = None
        else:
            silence = silences.add(matchers, end, created_by=author, comment=args.comment,
                                   starts_at=start if args.start else None)
    except ValueError as exc:
        _error(str(exc))
        return exitcodes.CONFIG_ERROR
    if args.json:
        print_json({"dry_run": args.dry_run,
                    "silence": silence_json(silence, utc_now()) if silence is not None else {
                        "matchers": [str(m) for m in matchers], "starts_at": start, "ends_at": end,
                        "created_by": author, "comment": args.comment},
                    "mutes_now": [{"labels": dict(a.labels)} for a in seen.mutes],
                    "warnings": list(seen.warnings)})
        return exitcodes.OK
    if silence is None:
        print(f"dry run: would silence {' '.join(str(m) for m in matchers)} from {start:%Y-%m-%d %H:%M}Z "
              f"to {end:%Y-%m-%d %H:%M}Z by {author}: {args.comment} (nothing written)")
        _print_preview(seen, sys.stdout)
    else:
        print(silence.id)
        _print_preview(seen, sys.stderr)
    return exitcodes.OK


def _print_preview(seen: Preview, out: Any) -> None:
    if seen.mutes:
        print(f"mutes {plural(len(seen.mutes), 'alert')} firing now:", file=out)
        for alert in seen.mutes:
            print(f"  {alert.text()}", file=out)
    else:
        print("mutes no alert firing now", file=out)
    for warning in seen.warnings:
        print(f"warning: {warning}", file=out)


def _update(args: argparse.Namespace) -> int:
    from config.durations import parse_duration  # noqa: PLC0415

    if args.duration is None and args.end is None and args.start is None and args.comment is None:
        _error("nothing to change: give --end, --duration, --start or --comment")
        return exitcodes.CONFIG_ERROR
    settings, store = _open(args.config)
    silences = store.silences(settings.alerting.silence_retention)
    try:
        current = silences.get(args.id)
        start = _time(args.start, "start") if args.start else None
        end = (_time(args.end, "end") if args.end else
               (start or current.starts_at) + parse_duration(args.duration) if args.duration else None)
        silence = silences.update(current.id, ends_at=end, starts_at=start, comment=args.comment,
                                  updated_by=args.author if args.author is not None else who_is_asking())
    except KeyError as exc:
        _error(exc.args[0])
        return exitcodes.ERROR
    except ValueError as exc:
        _error(str(exc))
        return exitcodes.CONFIG_ERROR
    if args.json:
        print_json(silence_json(silence, utc_now()))
    else:
        print(f"updated {silence.id}: {silence.starts_at:%Y-%m-%d %H:%M}Z .. {silence.ends_at:%Y-%m-%d %H:%M}Z  "
              f"by {silence.created_by}: {silence.comment}")
    return exitcodes.OK


def _list(args: argparse.Namespace) -> int:
    from alerts import SilenceState  # noqa: PLC0415

    states = (None if args.all else [SilenceState.EXPIRED] if args.expired
              else [SilenceState.PENDING, SilenceState.ACTIVE])
    now = utc_now()
    settings, store = _open(args.config)
    silences = store.silences(settings.alerting.silence_retention).list(states)
    if args.json:
        print_json([silence_json(s, now) for s in silences])
        return exitcodes.OK
    if not silences:
        print("no silences")
    for s in silences:
        print(f"{s.id}  {s.state(now).value:<8} {s.starts_at:%Y-%m-%d %H:%M}Z .. {s.ends_at:%Y-%m-%d %H:%M}Z  "
              f"{' '.join(str(m) for m in s.matchers)}  by {s.created_by}: {s.comment}")
    return exitcodes.OK


def _expire(args: argparse.Namespace) -> int:
    settings, store = _open(args.config)
    try:
        silence = store.silences(settings.alerting.silence_retention).expire(args.id)
    except (KeyError, ValueError) as exc:
        _error(exc.args[0])
        return exitcodes.ERROR
    print(f"expired {silence.id} at {silence.ends_at:%Y-%m-%d %H:%M:%S}Z")
    return exitcodes.OK
