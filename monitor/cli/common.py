"""What every ``lakewarden`` command shares: the config file, who is asking, JSON output.

The config: ``add_config(parser)`` gives a command ``--config FILE``; when it is not given,
``LAKEWARDEN_CONFIG`` is used (``resolve_config``, called by ``monitor.cli.main`` after parsing, so
every command gets the same rule and the same message when neither is there). A new command adopts it
with one line and reads ``args.config``; nothing else to do.

Who: ``who_is_asking()`` is the author of a silence, an acknowledgement or a lifecycle request when
none is given: ``$USER``, then ``$LOGNAME``, then the name of the process's uid (``kubectl exec`` shells
often set neither variable).

JSON: ``add_json(parser)`` adds ``--json`` (every command that lists or shows has it, and prints one
JSON document to stdout); ``print_json(value)`` prints it with times as ISO 8601.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from alerts import AlertStore
    from config import Settings

CONFIG_ENV = "LAKEWARDEN_CONFIG"
CONFIG_HELP = f"path to the YAML config (default: ${CONFIG_ENV})"


def add_config(parser: argparse.ArgumentParser, *, required: bool = True, help_text: str = CONFIG_HELP) -> None:
    """``--config FILE``, defaulting to ``$LAKEWARDEN_CONFIG``; ``required``: the command cannot run without one."""
    parser.add_argument("--config", metavar="FILE", default=None, help=help_text)
    parser.set_defaults(config_parser=parser, config_required=required, config_from_env=False)


def resolve_config(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> None:
    """Fill ``args.config`` from ``LAKEWARDEN_CONFIG`` when ``--config`` was not given; a usage error
    (exit 2) when the command needs a config and neither is there."""
    if not hasattr(args, "config_parser"):
        return
    env = os.environ if environ is None else environ
    if args.config is None and env.get(CONFIG_ENV):
        args.config, args.config_from_env = env[CONFIG_ENV], True
    if args.config is None and args.config_required:
        args.config_parser.error(f"no config: give --config FILE or set {CONFIG_ENV}")


def who_is_asking(environ: Mapping[str, str] | None = None) -> str:
    """``$USER``, else ``$LOGNAME``, else the login name of the process's uid ("" if none is known)."""
    env = os.environ if environ is None else environ
    for name in ("USER", "LOGNAME"):
        if env.get(name, "").strip():
            return env[name].strip()
    try:
        return getpass.getuser()  # the uid's name from the password database when the variables are unset
    except (KeyError, OSError):
        return ""


WHO_HELP = "who (default: $USER, else $LOGNAME, else the login name of this uid)"


def add_json(parser: argparse.ArgumentParser, what: str = "the same, as one JSON document") -> None:
    parser.add_argument("--json", action="store_true", help=f"print {what}")


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if hasattr(value, "value"):  # enums
        return value.value
    return str(value)


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=_default))


def plural(count: int, word: str, many: str | None = None) -> str:
    return f"{count} {word if count == 1 else (many or word + 's')}"


def open_alert_state(path: str) -> tuple[Settings, AlertStore]:
    """The config and the alerts' view of its state database, built as the daemon builds them
    (``monitor.app``: every package's tables brought up to date)."""
    from config import load_settings  # noqa: PLC0415 - keep --help fast
    from config.basics.clock import utc_now  # noqa: PLC0415
    from monitor.app import build_alert_store, open_state  # noqa: PLC0415

    settings = load_settings(path)
    return settings, build_alert_store(open_state(settings), utc_now)
