"""``lakewarden explain MODEL``: a stored assessment, its findings, and why each was or was not raised;
``--history``: the judged windows over time, newest first."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from config.basics.clock import utc
from config.urls import redacted_database_url
from monitor.cli import as_of, exitcodes
from monitor.cli.common import add_config

if TYPE_CHECKING:
    from config import Settings


def register(sub: Any) -> None:
    parser = sub.add_parser("explain", help="print a model's assessment, its findings and why each was or was not "
                                            "raised")
    parser.add_argument("model", help="the model's name in the config")
    add_config(parser)
    parser.add_argument("--window", help="the window's start, ISO 8601 (UTC unless an offset is given); "
                                         "default: the latest window of each stream")
    parser.add_argument("--stream", help="one stream, e.g. 'lakehouse:1 hour' or 'inference:1 hour'")
    as_of.add_argument(parser, as_of.HELP + ": the latest window of each stream that ended by then")
    parser.add_argument("--all", action="store_true", help="also list every metric below its lowest tier")
    parser.add_argument("--replay", action="store_true",
                        help="judge the stored inputs again with the current config and show what changes")
    parser.add_argument("--json", action="store_true", help="print the stored rows as JSON")
    parser.add_argument("--history", action="store_true",
                        help="list the judged windows, newest first: severity, risk, top finding and the alert "
                             "as it stood then (with --stream: that stream only)")
    parser.add_argument("--limit", type=_positive, default=20, help="with --history: at most this many windows "
                                                                     "(default 20)")
    parser.set_defaults(handler=_explain)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"a whole number of windows, 1 or more, not {text!r}")
    return value


def _when(text: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return utc(value)


def _times(args: argparse.Namespace) -> tuple[datetime | None, datetime | None] | None:
    """(``--window``'s start, ``--as-of``'s time), or None after saying what is wrong with them."""
    start = _when(args.window) if args.window else None
    if args.window and start is None:
        print(f"lakewarden explain: --window {args.window!r} is not an ISO 8601 time such as 2025-03-03T05:00")
        return None
    when = as_of.parse_time(args.as_of) if args.as_of else None
    if args.as_of and when is None:
        print(as_of.not_a_time("explain", "--as-of", args.as_of))
        return None
    if when is not None and start is not None:
        print("lakewarden explain: give --window or --as-of, not both")
        return None
    return start, when


def _explain(args: argparse.Namespace) -> int:
    from config import load_settings  # noqa: PLC0415 - keep --help fast
    from config.basics.clock import utc_now  # noqa: PLC0415
    from monitor.app import build_assessments, open_state  # noqa: PLC0415
    from monitor.risk import history_needed  # noqa: PLC0415
    from monitor.risk.explain import render, replay  # noqa: PLC0415

    times = _times(args)
    if times is None:
        return exitcodes.CONFIG_ERROR
    start, when = times
    settings = load_settings(args.config)
    try:
        model = settings.model(args.model)
    except KeyError as exc:
        print(f"lakewarden explain: {exc.args[0]}")
        return exitcodes.CONFIG_ERROR
    if args.history:
        return _history(args, settings, model.name)
    state = open_state(settings)
    try:
        store = build_assessments(state, utc_now)
        if start is not None:
            rows = store.window(model.name, start, args.stream)
        else:
            streams = [args.stream] if args.stream else store.streams(model.name)
            rows = [r for s in streams for r in store.history(model.name, limit=1, stream=s, until=when)]
        if not rows:
            where = (f" for the window starting {args.window}" if args.window
                     else f" with a window that ended by {when.isoformat()}" if when else "")
            print(f"no assessment of {model.name}{where} in {redacted_database_url(settings.state.url)} yet")
            return exitcodes.ERROR
        if args.json:
            print(json.dumps([row.as_json() for row in rows], indent=2))
            return exitcodes.OK
        alert = store.model_alert(model.name)
        texts = []
        for row in rows:
            replayed = None
            if args.replay:
                from monitor.observations_codec import window_from_json  # noqa: PLC0415

                window = window_from_json(row.inputs["window"]) if "window" in row.inputs else None
                history = (store.prior(model.name, row.stream, row.window_start,
                                       history_needed(model, window)) if window is not None else [])
                replayed = replay(model, row, history)
                if replayed is None:
                    texts.append("(this assessment was stored without its inputs: it cannot be replayed)")
            texts.append(render(row, alert, show_below=args.all, replayed=replayed))
        print("\n\n".join(texts))
    finally:
        state.close()
    return exitcodes.OK


def _history(args: argparse.Namespace, settings: Settings, model: str) -> int:
    from config.basics.clock import utc_now  # noqa: PLC0415
    from monitor.app import build_assessments, open_state  # noqa: PLC0415
    from monitor.risk.explain import history_json, render_history  # noqa: PLC0415

    if args.window or args.replay or args.all:
        print("lakewarden explain: --history lists windows; --window, --replay and --all explain one window each")
        return exitcodes.CONFIG_ERROR
    state = open_state(settings)
    try:
        store = build_assessments(state, utc_now)
        rows = store.history(model, limit=args.limit, stream=args.stream)
        if not rows:
            print(f"no assessment of {model} in {redacted_database_url(settings.state.url)} yet")
            return exitcodes.ERROR
        if args.json:
            print(json.dumps([history_json(row) for row in rows], indent=2))
        else:
            print(render_history(model, rows, store.model_alert(model)))
    finally:
        state.close()
    return exitcodes.OK
