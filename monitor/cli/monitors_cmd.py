"""``lakewarden monitors status|refresh``: the models' Lakehouse monitors on the Databricks workspace.

``status`` prints one line per model (its monitor's state, the API that answered and the metric
tables it writes, or the problem) and exits 0 when every monitor is active and its newest finished
refresh did not fail, 3 otherwise.
``refresh MODEL`` starts a refresh of the model's monitor; with ``--wait`` it tracks it to the end
and exits 0 on SUCCESS, 1 on FAILED or CANCELED or when the timeout passes first.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from monitor.cli import exitcodes
from monitor.cli.common import add_config, add_json, print_json
from monitor.cli.progress import progress

if TYPE_CHECKING:
    from config import Settings
    from monitor.discovery import MonitorDiscovery


def register(sub: Any) -> None:
    parser = sub.add_parser("monitors", help="Lakehouse monitors of the models (workspace kind databricks)")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    status = actions.add_parser("status", help="each model's monitor: state, API, metric tables or the problem")
    add_config(status)
    add_json(status, "one JSON object per model: state, API, metric tables, problem")
    status.set_defaults(handler=_status)
    refresh = actions.add_parser("refresh", help="start a refresh of a model's monitor")
    refresh.add_argument("model", help="the model's name in the config")
    add_config(refresh)
    refresh.add_argument("--wait", action="store_true", help="track the refresh until it ends")
    refresh.add_argument("--timeout", default="30m", help="with --wait: give up after this long (default 30m)")
    refresh.set_defaults(handler=_refresh)


def _discovery(path: str) -> tuple[Settings, MonitorDiscovery] | None:
    from config import load_settings  # noqa: PLC0415 - keep --help fast
    from monitor.discovery import MonitorDiscovery  # noqa: PLC0415
    from retrain.databricks import workspace_client  # noqa: PLC0415

    settings = load_settings(path)
    if settings.workspace.kind != "databricks":
        print(f"lakewarden monitors: {path} has workspace kind {settings.workspace.kind}; Lakehouse monitors "
              "live on a Databricks workspace (workspace kind: databricks)", file=sys.stderr)
        return None
    client = workspace_client(settings.workspace)
    return settings, MonitorDiscovery(client, settings.workspace.monitor_api)


def _status(args: argparse.Namespace) -> int:
    found = _discovery(args.config)
    if found is None:
        return exitcodes.CONFIG_ERROR
    settings, discovery = found
    problems, models = 0, []
    for model in settings.models:
        if model.sources.lakehouse is None:
            continue
        info, problem = discovery.check(model)
        tables = info.metric_tables if info is not None else None
        api = f"({info.api})" if info is not None else ""
        if problem is not None:
            problems += 1
            state = f"refresh {problem.refresh.state.value}" if problem.refresh else problem.state.value
            line = f"{model.name:<24} {state:<10} {problem.table} {api}: {problem.message}"
        else:
            state = "active"
            line = (f"{model.name:<24} {'active':<10} {model.sources.lakehouse.table} {api} -> "
                    f"{', '.join(tables) if tables else 'no metric tables named'}")
        models.append({"model": model.name, "state": state, "table": model.sources.lakehouse.table,
                      "api": info.api if info is not None else None, "metric_tables": list(tables or ()),
                      "problem": problem.message if problem is not None else None})
        if not args.json:
            print(line)
    if args.json:
        print_json(models)
    return exitcodes.INCOMPLETE if problems else exitcodes.OK


def _refresh(args: argparse.Namespace) -> int:
    from config.durations import parse_duration  # noqa: PLC0415
    from monitor.discovery import MonitorRefreshState  # noqa: PLC0415

    found = _discovery(args.config)
    if found is None:
        return exitcodes.CONFIG_ERROR
    settings, discovery = found
    model = settings.model(args.model)
    if model.sources.lakehouse is None:
        print(f"lakewarden monitors: model {model.name} has no lakehouse source", file=sys.stderr)
        return exitcodes.CONFIG_ERROR
    table = model.sources.lakehouse.table
    started = discovery.refresh(table)
    print(f"{model.name}: refresh {started.refresh_id} of the monitor on {table} is {started.state.value}")
    if not args.wait:
        return exitcodes.OK
    with progress(f"waiting for refresh {started.refresh_id} of {table} (at most {args.timeout})..."):
        info = discovery.wait_for_refresh(table, started.refresh_id, parse_duration(args.timeout))
    detail = f": {info.message}" if info.message else ""
    print(f"{model.name}: refresh {info.refresh_id} ended {info.state.value}{detail}"
          if info.state.final else f"{model.name}: refresh {info.refresh_id} still {info.state.value} "
                                   f"after {args.timeout}")
    return exitcodes.OK if info.state is MonitorRefreshState.SUCCESS else exitcodes.ERROR
