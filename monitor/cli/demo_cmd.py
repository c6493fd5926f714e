"""``lakewarden demo``: the daemon on the embedded default with simulated drifting traffic."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    demo = sub.add_parser("demo", help="the daemon on the embedded default, with simulated drifting traffic")
    demo.add_argument("--workdir", default=".lakewarden/demo", help="where the demo keeps its state and tables")
    demo.add_argument("--windows", type=int, default=None, help="number of hourly windows to simulate")
    demo.add_argument("--no-retrain", action="store_true", help="leave the lifecycle (retraining) out")
    demo.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    from monitor.demo.data import DemoScenario  # noqa: PLC0415 - imports Spark helpers
    from monitor.demo.runner import run_demo  # noqa: PLC0415

    scenario = DemoScenario() if args.windows is None else DemoScenario(windows=args.windows)
    return run_demo(args.workdir, scenario, retrain=not args.no_retrain)
