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
    """The demo leaves no process behind: on its end or a stop signal (a second one exits at once),
    every child still alive is ended, lifecycle jobs included (unlike ``run``, which leaves them to be
    adopted by its next start): pool workers, the resource tracker, job runners and their jobs."""
    from monitor.children import end_children  # noqa: PLC0415
    from monitor.cli.progress import progress  # noqa: PLC0415
    from monitor.daemon import StopSignals, kill_children  # noqa: PLC0415
    from monitor.demo.data import DemoScenario  # noqa: PLC0415 - imports Spark helpers
    from monitor.demo.runner import run_demo  # noqa: PLC0415
    from monitor.profile import pool  # noqa: PLC0415

    signals = StopSignals(on_force=kill_children(detached=True)).install()
    scenario = DemoScenario() if args.windows is None else DemoScenario(windows=args.windows)
    try:
        # On a terminal a spinner stays below the timeline while Spark starts and the champion trains.
        with progress("lakewarden demo: local Spark, the champion's training, then one simulated hour per "
                      "window (Ctrl-C stops it)"):
            return run_demo(args.workdir, scenario, retrain=not args.no_retrain, signals=signals)
    finally:
        pool.terminate()
        end_children(grace=5.0, detached=True)
