"""``lakewarden config validate [--offline] [--config FILE]``: every problem with its line, or a one-screen
summary (with warnings: settings that load but likely do not do what was meant).

The file comes as for every command: ``--config FILE``, else ``$LAKEWARDEN_CONFIG``. ``config validate
FILE`` (positional) stays accepted without a warning: it is how linters are called (``promtool check
config FILE``, ``amtool check-config FILE``) and CI scripts use it; it wins over ``$LAKEWARDEN_CONFIG``.

``--offline`` is for CI: it checks everything that needs neither secrets nor the environment. Unset
``${VARS}`` and ``*_file`` paths that cannot be read there are listed as warnings, not errors.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

from config import ConfigIssue, Settings
from config.durations import format_duration
from config.loader import check_file
from config.routing import Route
from config.service import LocalSparkSettings, SparkConnectSettings, SqlWarehouseSettings
from monitor.cli.common import CONFIG_ENV, add_config, add_json, print_json


def register(sub: Any) -> None:
    cfg = sub.add_parser("config", help="configuration commands")
    cfg_sub = cfg.add_subparsers(dest="config_command", required=True, metavar="SUBCOMMAND")
    validate = cfg_sub.add_parser("validate", help="check a config file and print a summary")
    validate.add_argument("file", nargs="?", help="path to the YAML config (same as --config FILE; kept for CI "
                                                  "scripts that pass it this way)")
    add_config(validate, required=False)
    validate.add_argument("--offline", action="store_true",
                          help="check without secrets or the environment (CI): unset ${VARS} and unreadable "
                               "*_file paths are warnings")
    add_json(validate, "the result as JSON: valid, warnings, models, receivers")
    validate.set_defaults(handler=_validate, parser=validate)


def _validate(args: argparse.Namespace) -> int:
    if args.file is not None and args.config is not None and not args.config_from_env:
        args.parser.error("give the config file once: `config validate --config FILE` or `config validate FILE`")
    file = args.file or args.config
    if file is None:
        args.parser.error(f"no config: give --config FILE or set {CONFIG_ENV}")
    checked = check_file(file, offline=args.offline)
    if args.json:
        settings = checked.settings
        print_json({"file": file, "valid": True, "checked_offline": args.offline,
                    "warnings": [w.render(file) for w in checked.warnings]
                    + ([w for w in (_watchdog_warning(settings),) if w] if settings is not None else []),
                    "models": [m.name for m in settings.models] if settings is not None else None,
                    "receivers": [r.name for r in settings.receivers] if settings is not None else None})
        return 0
    if checked.settings is None:  # offline: nothing wrong, but a required value is only known where it runs
        count = len(checked.warnings)
        print(f"{file}: valid offline ({count} value{'s' if count != 1 else ''} not checked; no summary: a "
              "required value is unknown here)")
        print("\n".join(["", f"warnings ({len(checked.warnings)})",
                         *(f"  {w.render(file)}" for w in checked.warnings)]))
        return 0
    print(summary(checked.settings, file, checked.warnings))
    return 0


def summary(settings: Settings, file: str, offline_warnings: tuple[ConfigIssue, ...] = ()) -> str:
    head = f"{file}: valid"
    if offline_warnings:
        head += (f" offline ({len(offline_warnings)} value{'s' if len(offline_warnings) != 1 else ''} not checked: "
                 "see warnings; unset variables hold placeholders below)")
    lines = [head, ""]
    engine = settings.engine
    if isinstance(engine, LocalSparkSettings):
        where = f"local Spark over {engine.lakehouse_root}"
    elif isinstance(engine, SqlWarehouseSettings):
        where = f"SQL warehouse {engine.warehouse_id}"
    elif isinstance(engine, SparkConnectSettings):
        where = f"Spark Connect {engine.remote}"
    ws = settings.workspace
    lines += [
        f"engine      {where}",
        f"workspace   {ws.kind}" + (f" {ws.host}" if ws.host else f" (MLflow {ws.mlflow_tracking_uri})"),
        f"state       {_hide_password(settings.state.url)}",
        f"http        {settings.service.http.host}:{settings.service.http.port}",
        "",
        f"models ({len(settings.models)})",
    ]
    for m in settings.models:
        src = m.sources.lakehouse
        source = f"lakehouse {src.table} ({src.granularity}, {src.drift_type})" if src else "no source"
        life = f"lifecycle {m.lifecycle.retrain.backend}" if m.lifecycle.enabled else "lifecycle off"
        lines.append(f"  {m.name:<20} env={m.env} every {format_duration(m.poll_interval)}; {source}; "
                     f"alerts from {m.risk.alert_from}; {life}")
    lines += ["", f"receivers ({len(settings.receivers)})"]
    for r in settings.receivers:
        channels = [f"{kind.removesuffix('_configs')} x{len(getattr(r, kind))}"
                    for kind in type(r).model_fields if kind.endswith("_configs") and getattr(r, kind)]
        lines.append(f"  {r.name:<20} {', '.join(channels) or 'no channels (alerts routed here are dropped)'}")
    lines += ["", "routes"]
    lines.extend(_routes(settings.route, 1, root=True))
    if settings.inhibit_rules:
        lines.append(f"inhibit rules: {len(settings.inhibit_rules)}")
    if settings.time_intervals:
        lines.append("time intervals: " + ", ".join(t.name for t in settings.time_intervals))
    lines += ["", _self_alerts(settings)]
    warnings = [w for w in (_watchdog_warning(settings),) if w is not None]
    warnings += [issue.render(file) for issue in offline_warnings]
    if warnings:
        lines += ["", f"warnings ({len(warnings)})", *(f"  {w}" for w in warnings)]
    return "\n".join(lines)


def _watchdog_warning(settings: Settings) -> str | None:
    from monitor.self_watch import watchdog_route_warning  # noqa: PLC0415 - the alerts package, for routing

    return watchdog_route_warning(settings)


def _self_alerts(settings: Settings) -> str:
    cfg = settings.service.self_alerts
    parts = [f"watchdog {'on' if cfg.watchdog else 'off'}"]
    if cfg.polls_failing.enabled:
        parts.append(f"polls failing {cfg.polls_failing.after}x ({cfg.polls_failing.severity})")
    if cfg.outbox_backlog.enabled:
        parts.append(f"outbox backlog > {format_duration(cfg.outbox_backlog.older_than)} "
                     f"({cfg.outbox_backlog.severity})")
    if cfg.dead_letters.enabled:
        parts.append(f"dead letters within {format_duration(cfg.dead_letters.within)} ({cfg.dead_letters.severity})")
    return "self alerts " + ", ".join(parts)


def _routes(route: Route, depth: int, root: bool = False) -> Iterator[str]:
    match = "(root, every alert)" if root else ", ".join(str(m) for m in route.matchers) or "(every alert)"
    extra = []
    if route.receiver:
        extra.append(f"-> {route.receiver}")
    if route.group_by is not None:
        extra.append(f"group_by [{', '.join(route.group_by)}]")
    if route.continue_:
        extra.append("continue")
    yield "  " * depth + f"{match} {' '.join(extra)}".rstrip()
    for child in route.routes:
        yield from _routes(child, depth + 1)


def _hide_password(url: str) -> str:
    import sqlalchemy as sa  # noqa: PLC0415 - only this summary needs it

    return sa.make_url(url).render_as_string(hide_password=True)
