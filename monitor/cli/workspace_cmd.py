"""``lakewarden workspace whoami``: who lakewarden is authenticated as on the Databricks workspace.

Prints the host, the auth type databricks-sdk's credential chain chose, and the user or service
principal behind it; never a token or secret. Exits 0 when the workspace answered, 1 when it did not
(the message says what to check), 2 when the config has no Databricks workspace.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from monitor.cli import exitcodes
from monitor.cli.common import add_config, add_json, print_json


def register(sub: Any) -> None:
    parser = sub.add_parser("workspace", help="the Databricks workspace lakewarden talks to")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    whoami = actions.add_parser("whoami", help="who lakewarden is authenticated as (no secrets shown)")
    add_config(whoami)
    add_json(whoami, "the identity as JSON: host, auth type, user name, display name, id, service principal")
    whoami.set_defaults(handler=_whoami)


def _whoami(args: argparse.Namespace) -> int:
    from config import load_settings  # noqa: PLC0415 - keep --help fast
    from retrain.databricks import WorkspaceError, workspace_client  # noqa: PLC0415
    from retrain.databricks.identity import whoami  # noqa: PLC0415

    settings = load_settings(args.config)
    if settings.workspace.kind != "databricks":
        print(f"lakewarden workspace: {args.config} has workspace kind {settings.workspace.kind}; whoami needs "
              "workspace kind: databricks", file=sys.stderr)
        return exitcodes.CONFIG_ERROR
    try:
        identity = whoami(workspace_client(settings.workspace))
    except WorkspaceError as exc:
        print(f"lakewarden workspace whoami: {exc}", file=sys.stderr)
        return exitcodes.ERROR
    if args.json:
        print_json(dataclasses.asdict(identity))
    else:
        print("\n".join(identity.lines()))
    return exitcodes.OK
