"""The ``lakewarden`` command line.

Each command group lives in its own module with a ``register(subparsers)`` function that adds its
parsers and sets ``handler`` to a function taking the parsed arguments and returning an exit code.
Command modules import only what ``--help`` needs at module level; the work's imports (Spark,
MLflow, SQLAlchemy) happen inside the handlers.

Every command that needs the config takes ``--config FILE`` or, without it, ``$LAKEWARDEN_CONFIG``
(``monitor.cli.common.add_config``: a new command adopts it with one line). Every command that lists or
shows takes ``--json``.

Errors a user can hit end in one message that names what and where, and a documented exit code
(``monitor.cli.exitcodes``); ``--debug`` adds the traceback. Output into a pipe that closed early
(``lakewarden explain churn --json | head``) ends quietly with exit code 141, as a process killed by
SIGPIPE would.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Sequence

from config import ConfigError
from monitor.cli import exitcodes
from monitor.cli.common import resolve_config

COMMAND_MODULES: tuple[str, ...] = (
    "monitor.cli.service_cmd",   # run, check, health
    "monitor.cli.demo_cmd",      # demo
    "monitor.cli.config_cmd",    # config validate
    "monitor.cli.explain_cmd",   # explain MODEL
    "monitor.cli.alerts_cmd",    # alerts list|routes|test|outbox [retry]|escalations|ack
    "monitor.cli.silence_cmd",   # silence add|update|list|expire
    "monitor.cli.profile_cmd",   # profile (metric tables)
    "monitor.cli.monitors_cmd",  # monitors status|refresh (Databricks Lakehouse monitors)
    "monitor.cli.lifecycle_cmd",  # lifecycle list|show|start|cancel|pause|resume
    "monitor.cli.workspace_cmd",  # workspace whoami
    "monitor.cli.state_cmd",     # state upgrade [--sql]
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lakewarden", description="Keeps ML models on Databricks healthy.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    parser.add_argument("--version", action="version", version=f"lakewarden {version()}",
                        help="print lakewarden's version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def version() -> str:
    from importlib.metadata import PackageNotFoundError  # noqa: PLC0415
    from importlib.metadata import version as installed  # noqa: PLC0415

    try:
        return installed("lakewarden")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def main(argv: Sequence[str] | None = None) -> int:
    try:
        code = _main(argv)
        sys.stdout.flush()  # a pipe's buffer is written here: a reader gone shows now, not at exit
        return code
    except BrokenPipeError:
        # The reader went away (`| head`): no traceback, no "Exception ignored" at exit either.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return exitcodes.BROKEN_PIPE


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    resolve_config(args)
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
    except BrokenPipeError:
        raise
    except Exception as exc:
        if args.debug:
            traceback.print_exc()
        else:
            print(f"lakewarden: error: {exc}\n(run with --debug for the traceback)", file=sys.stderr)
        return exitcodes.ERROR
