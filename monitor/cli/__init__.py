"""The ``lakewarden`` command line.

Errors a user can hit end in one message that names what and where, and a documented exit code
(``monitor.cli.exitcodes``); ``--debug`` adds the traceback.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence

from config import ConfigError
from monitor.cli import exitcodes


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lakewarden", description="Keeps ML models on Databricks healthy.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the daemon until SIGTERM or SIGINT")
    run.add_argument("--config", required=True, help="path to the YAML config")

    check = sub.add_parser("check", help="run one cycle for every model; exit code by worst severity")
    check.add_argument("--config", required=True, help="path to the YAML config")

    demo = sub.add_parser("demo", help="the daemon on the embedded default, with simulated drifting traffic")
    demo.add_argument("--workdir", default=".lakewarden/demo", help="where the demo keeps its state and tables")
    demo.add_argument("--windows", type=int, default=None, help="number of hourly windows to simulate")
    demo.add_argument("--no-retrain", action="store_true", help="leave the lifecycle (retraining) out")

    cfg = sub.add_parser("config", help="configuration commands")
    cfg_sub = cfg.add_subparsers(dest="config_command", required=True, metavar="SUBCOMMAND")
    validate = cfg_sub.add_parser("validate", help="check a config file and print a summary")
    validate.add_argument("file")

    health = sub.add_parser("health", help="GET the daemon's /healthz; exit 0 when healthy (the container check)")
    health.add_argument("--url", default="http://127.0.0.1:8080/healthz")
    health.add_argument("--timeout", type=float, default=3.0)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from monitor.logs import configure_logging  # noqa: PLC0415 - keep --help fast

    configure_logging(level="debug" if args.debug else "info")
    try:
        return _dispatch(args)
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return exitcodes.CONFIG_ERROR
    except KeyboardInterrupt:
        return exitcodes.OK
    except Exception as exc:
        if args.debug:
            traceback.print_exc()
        else:
            print(f"lakewarden: error: {exc}\n(run with --debug for the traceback)", file=sys.stderr)
        return exitcodes.ERROR


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "config":
        from config import load_settings  # noqa: PLC0415
        from monitor.cli.config_cmd import summary  # noqa: PLC0415

        print(summary(load_settings(args.file), args.file))
        return exitcodes.OK
    if args.command == "health":
        from monitor.cli.service_cmd import health  # noqa: PLC0415

        return health(args.url, args.timeout)
    if args.command == "run":
        from monitor.cli.service_cmd import run  # noqa: PLC0415

        return run(args.config)
    if args.command == "check":
        from monitor.cli.service_cmd import check  # noqa: PLC0415

        return check(args.config)
    if args.command == "demo":
        from monitor.demo.data import DemoScenario  # noqa: PLC0415
        from monitor.demo.runner import run_demo  # noqa: PLC0415

        scenario = DemoScenario() if args.windows is None else DemoScenario(windows=args.windows)
        return run_demo(args.workdir, scenario, retrain=not args.no_retrain)
    raise AssertionError(args.command)
