"""The ``lakewarden`` command line.

Each command group lives in its own module with a ``register(subparsers)`` function that adds its
parsers and sets ``handler`` to a function taking the parsed arguments and returning an exit code.
Command modules import only what ``--help`` needs at module level; the work's imports (Spark,
MLflow, SQLAlchemy) happen inside the handlers.

Errors a user can hit end in one message that names what and where, and a documented exit code
(``monitor.cli.exitcodes``); ``--debug`` adds the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from collections.abc import Sequence

from config import ConfigError
from monitor.cli import exitcodes

COMMAND_MODULES: tuple[str, ...] = (
    "monitor.cli.service_cmd",   # run, check, health
    "monitor.cli.demo_cmd",      # demo
    "monitor.cli.config_cmd",    # config validate
    "monitor.cli.explain_cmd",   # explain MODEL
    "monitor.cli.alerts_cmd",    # alerts routes|test|outbox|escalations|ack
    "monitor.cli.silence_cmd",   # silence add|list|expire
    "monitor.cli.profile_cmd",   # profile (metric tables)
    "monitor.cli.monitors_cmd",  # monitors status|refresh (Databricks Lakehouse monitors)
    "monitor.cli.lifecycle_cmd",  # lifecycle list|show|start|cancel|pause|resume
    "monitor.cli.workspace_cmd",  # workspace whoami
    "monitor.cli.state_cmd",     # state upgrade [--sql]
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lakewarden", description="Keeps ML models on Databricks healthy.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from monitor.logs import configure_logging  # noqa: PLC0415 - keep --help fast

    configure_logging(level="debug" if args.debug else "info")
    try:
        code: int = args.handler(args)
        return code
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
