"""``lakewarden explain MODEL``: a stored assessment, its findings, and why each was or was not raised."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any

from config.basics.clock import utc
from monitor.cli import exitcodes


def register(sub: Any) -> None:
    parser = sub.add_parser("explain", help="print a model's assessment, its findings and why each was or was not "
                                            "raised")
    parser.add_argument("model", help="the model's name in the config")
    parser.add_argument("--config", required=True, help="path to the YAML config")
    parser.add_argument("--window", help="the window's start, ISO 8601 (UTC unless an offset is given); "
                                         "default: the latest window of each stream")
    parser.add_argument("--stream", help="one stream, e.g. 'lakehouse:1 hour' or 'inference:1 hour'")
    parser.add_argument("--all", action="store_true", help="also list every metric below its lowest tier")
    parser.add_argument("--replay", action="store_true",
                        help="judge the stored inputs again with the current config and show what changes")
    parser.add_argument("--json", action="store_true", help="print the stored rows as JSON")
    parser.set_defaults(handler=_explain)


def _when(text: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return utc(value)


def _explain(args: argparse.Namespace) -> int:
    from config import load_settings  # noqa: PLC0415 - keep --help fast
    from config.basics.clock import utc_now  # noqa: PLC0415
    from monitor.app import build_assessments, open_state  # noqa: PLC0415
    from monitor.risk import history_needed  # noqa: PLC0415
    from monitor.risk.explain import render, replay  # noqa: PLC0415

    start = _when(args.window) if args.window else None
    if args.window and start is None:
        print(f"lakewarden explain: --window {args.window!r} is not an ISO 8601 time such as 2025-03-03T05:00")
        return exitcodes.CONFIG_ERROR
    settings = load_settings(args.config)
    try:
        model = settings.model(args.model)
    except KeyError as exc:
        print(f"lakewarden explain: {exc.args[0]}")
        return exitcodes.CONFIG_ERROR
    state = open_state(settings)
    try:
        store = build_assessments(state, utc_now)
        if start is not None:
            rows = store.window(model.name, start, args.stream)
        else:
            streams = [args.stream] if args.stream else store.streams(model.name)
            rows = [r for s in streams for r in store.history(model.name, limit=1, stream=s)]
        if not rows:
            where = f" for the window starting {args.window}" if args.window else ""
            print(f"no assessment of {model.name}{where} in {settings.state.url} yet")
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
