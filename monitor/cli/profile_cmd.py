"""``lakewarden profile``: write or refresh Lakehouse-Monitoring-shaped profile and drift metric tables.

Driven by a model's ``sources.lakehouse`` settings (``--config``, ``--model``) or by flags alone
(``--lakehouse-root`` and ``--table``). Incremental: only windows that are new, or whose rows changed
since they were written, are computed; running it again writes nothing.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import TYPE_CHECKING, Any

from config.basics.clock import utc, utc_now
from monitor.cli import exitcodes
from monitor.cli.common import add_config
from monitor.cli.progress import progress

if TYPE_CHECKING:
    from monitor.profile import ProfileResult, ProfileSpec


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "profile", help="write or refresh <table>_profile_metrics and <table>_drift_metrics (incremental)",
        description="Compute Lakehouse-Monitoring-shaped profile and drift metrics with Spark, for the windows "
                    "that are new or changed. Give --config (every model with a lakehouse source, or --model) "
                    "or --lakehouse-root with --table and the column flags.")
    add_config(parser, required=False, help_text="YAML config: models' sources.lakehouse, engine and state database "
               "(default: $LAKEWARDEN_CONFIG, unless --lakehouse-root is given)")
    parser.add_argument("--model", action="append", default=[], help="only this model (repeatable)")
    parser.add_argument("--lakehouse-root", help="without --config: local lakehouse folder (local Spark)")
    parser.add_argument("--state", help="state database URL (default: the config's state.url; none without config)")
    parser.add_argument("--table", help="monitored table catalog.schema.table (without --config)")
    parser.add_argument("--baseline-table", help="baseline table catalog.schema.table (drift against a baseline)")
    parser.add_argument("--timestamp-column", default="timestamp", help="the time column that places rows in windows "
                                                                          "(default timestamp)")
    parser.add_argument("--granularity", action="append", default=[], help="e.g. '1 hour' (repeatable)")
    parser.add_argument("--prediction-column", help="the model's prediction column (prediction drift)")
    parser.add_argument("--label-column", help="the ground-truth column (quality metrics)")
    parser.add_argument("--proba-column", help="score of the positive class (ROC AUC; profiled, prediction drift)")
    parser.add_argument("--score-column", action="append", default=[], dest="score_columns",
                        help="another score column of the model: profiled, prediction drift (repeatable)")
    parser.add_argument("--model-id-column", help="the column naming the model version (one slice each)")
    parser.add_argument("--output-schema", help="catalog.schema for the metric tables (default: the table's)")
    parser.add_argument("--features", help="comma-separated feature columns (default: every other column)")
    parser.add_argument("--slice", action="append", default=None, dest="slices", help="slicing expression")
    parser.add_argument("--custom-metric", action="append", default=[],
                        help="NAME=SQL aggregate, or NAME[col,...]=SQL using {{input_column}} (repeatable)")
    parser.add_argument("--problem-type", choices=["classification", "regression"],
                        help="which quality metrics to compute (default: classification)")
    parser.add_argument("--positive-label", help="positive class for ROC AUC (default: the larger label)")
    parser.add_argument("--skip-unsupported", action="store_true",
                        help="skip listed features of unsupported types instead of failing")
    parser.add_argument("--refresh", action="store_true", help="recompute every window, even unchanged ones")
    parser.add_argument("--now", help="ISO time: windows ending after it are still open (default: now)")
    parser.set_defaults(handler=_profile)


def _now(text: str | None) -> datetime:
    if text is None:
        return utc_now()
    return utc(datetime.fromisoformat(text))


def _overrides(args: argparse.Namespace) -> Any:
    from monitor.profile.from_config import Overrides, parse_custom_metric  # noqa: PLC0415

    features = tuple(f.strip() for f in (args.features or "").split(",") if f.strip())
    return Overrides(features=features, slicing_exprs=None if args.slices is None else tuple(args.slices),
                     custom_metrics=tuple(parse_custom_metric(m) for m in args.custom_metric),
                     problem_type=args.problem_type, positive_label=args.positive_label,
                     skip_unsupported=args.skip_unsupported)


def _flag_source(args: argparse.Namespace) -> Any:
    from types import SimpleNamespace  # noqa: PLC0415

    return SimpleNamespace(table=args.table, baseline_table=args.baseline_table, timestamp_column=args.timestamp_column,
                           granularity=(args.granularity or ["1 hour"])[0],
                           all_granularities=tuple(args.granularity or ["1 hour"]),
                           prediction_column=args.prediction_column, label_column=args.label_column,
                           prediction_proba_column=args.proba_column, score_columns=tuple(args.score_columns),
                           model_id_column=args.model_id_column,
                           output_schema=args.output_schema, slices=())


def _print(name: str, spec: ProfileSpec, result: ProfileResult) -> None:
    rewritten = f" ({len(result.windows_rewritten)} rewritten)" if result.windows_rewritten else ""
    baseline = ", baseline rows written" if result.baseline_written else ""
    reused = ", reference reused" if result.reference_reused else ""
    print(f"{name} [{spec.granularity}]: {len(result.windows_written)} windows written{rewritten}{baseline}{reused}, "
          f"monitor_version {result.monitor_version}, {result.timings.get('total', 0.0):.1f} s "
          f"-> {result.profile_table}, {result.drift_table}")
    for column, reason in result.skipped_columns:
        print(f"  skipped {column}: {reason}")


def _profile(args: argparse.Namespace) -> int:
    from monitor.profile import ProfileError, ProfileStore, write_profile  # noqa: PLC0415 - Spark loads here
    from monitor.profile.from_config import granularities_of, spec_from_source  # noqa: PLC0415

    if args.lakehouse_root is not None and args.config_from_env:
        args.config = None  # flags alone: $LAKEWARDEN_CONFIG is only the default of --config
    if (args.config is None) == (args.lakehouse_root is None):
        raise ProfileError("give either --config (a model's lakehouse source) or --lakehouse-root with --table")
    overrides = _overrides(args)
    now = _now(args.now)
    engine, state = _engine_and_state(args)
    store = None if state is None else ProfileStore(state.engine)
    try:
        for name, source in _sources(args):
            with progress(f"reading the columns of {source.table} (Spark starts the first time)...") as shown:
                columns = list(engine.columns(source.table))
                grans = tuple(args.granularity) if args.granularity and args.config else granularities_of(source)
                for granularity in grans:
                    spec = spec_from_source(source, columns, overrides, granularity)
                    shown.update(f"profiling {source.table} [{granularity}]...")
                    _print(name, spec, write_profile(engine, spec, now=now, store=store, refresh=args.refresh))
    finally:
        if state is not None:
            state.close()
        engine.close()
    return exitcodes.OK


def _engine_and_state(args: argparse.Namespace) -> tuple[Any, Any]:
    """The engine and the state database (``--state`` over the config's ``state.url``), the latter
    opened as the daemon opens it (``monitor.app.open_state``: every package's migrations)."""
    if args.config is None:
        from monitor.app import open_state  # noqa: PLC0415
        from monitor.engines.local_spark import LocalSparkEngine  # noqa: PLC0415

        state = None if args.state is None else open_state(None, args.state)
        return LocalSparkEngine(args.lakehouse_root), state
    from config import load_settings  # noqa: PLC0415
    from monitor.app import build_engine, open_state  # noqa: PLC0415

    settings = load_settings(args.config)
    state = open_state(settings, args.state)
    return build_engine(settings), state


def _sources(args: argparse.Namespace) -> list[tuple[str, Any]]:
    from monitor.profile import ProfileError  # noqa: PLC0415

    if args.config is None:
        if not args.table:
            raise ProfileError("--table is required with --lakehouse-root")
        return [(args.table, _flag_source(args))]
    from config import load_settings  # noqa: PLC0415

    settings = load_settings(args.config)
    models = [m for m in settings.models if not args.model or m.name in args.model]
    unknown = sorted(set(args.model) - {m.name for m in settings.models})
    if unknown:
        raise ProfileError(f"no model named {unknown} in {args.config} (it has {[m.name for m in settings.models]})")
    found = [(m.name, m.sources.lakehouse) for m in models if m.sources.lakehouse is not None]
    if not found:
        raise ProfileError(f"no model in {args.config} has a sources.lakehouse section to profile")
    return found
