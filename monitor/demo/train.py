"""The demo model's training job: a churn classifier, trained and registered in MLflow.

    python -m monitor.demo.train --model_name=churn --lakehouse_root=.lakewarden/lakehouse \\
        [--lakewarden_run_id=ID --reason=TEXT --window_start=ISO --window_end=ISO] \\
        [--training_table=main.demo.churn_training] [--recent_table=main.demo.churn_inference] \\
        [--metric=roc_auc] [--seed=N] [--champion_alias=champion] [--artifact_location=PATH]

It follows lakewarden's job contract (retrain/backends/local.py): it reads the training table and,
given a window, the labelled inference rows inside [window_start, window_end) straight from Parquet
with pyarrow (no Spark); holds out a random 30% of those recent rows (of the training rows when
there are too few recent ones); fits OneHotEncoder + LogisticRegression; registers a new version
of ``model_name`` tagged ``lakewarden.run_id``; and logs ``holdout_<metric>`` and, when a champion
exists, ``champion_holdout_<metric>`` (the champion scored on the same holdout). Without
``--lakewarden_run_id`` (the initial training) the new version also becomes champion.

MLflow comes from ``MLFLOW_TRACKING_URI`` / ``MLFLOW_REGISTRY_URI``. Bad input exits 2 with a
message on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

NUMERIC = ["tenure_months", "monthly_charges", "support_calls", "age"]
CATEGORICAL = ["contract", "payment_method"]
FEATURES = NUMERIC + CATEGORICAL
HOLDOUT_SHARE = 0.3
MIN_RECENT_ROWS = 20  # fewer labelled recent rows than this: hold out training rows instead


class JobError(Exception):
    """Bad input: reported on stderr, exit code 2."""


def _metrics() -> dict[str, tuple[Callable[[Any, Any], float], bool]]:
    """Metric name -> (function of labels and churn probabilities, greater is better)."""
    from sklearn import metrics  # noqa: PLC0415 - sklearn is slow to import; parse arguments first

    return {
        "roc_auc": (lambda y, p: float(metrics.roc_auc_score(y, p)), True),
        "accuracy": (lambda y, p: float(metrics.accuracy_score(y, p >= 0.5)), True),
        "f1": (lambda y, p: float(metrics.f1_score(y, p >= 0.5)), True),
        "log_loss": (lambda y, p: float(metrics.log_loss(y, p, labels=[0, 1])), False),
    }


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="monitor.demo.train", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--model_name", required=True)
    parser.add_argument("--lakehouse_root", required=True, type=Path)
    parser.add_argument("--lakewarden_run_id", default="")
    parser.add_argument("--reason", default="initial training")
    parser.add_argument("--window_start", default="")
    parser.add_argument("--window_end", default="")
    parser.add_argument("--training_table", default="main.demo.churn_training")
    parser.add_argument("--recent_table", default="main.demo.churn_inference")
    parser.add_argument("--metric", default="roc_auc")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--label_noise", type=float, default=0.0,
                        help="share of training labels replaced by coin flips (the demo's bad challenger)")
    parser.add_argument("--champion_alias", default="champion")
    parser.add_argument("--artifact_location", default="")
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        sys.stderr.write(f"train: ignoring unknown arguments {unknown}\n")
    return args


def _utc(text: str, name: str) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise JobError(f"--{name} is not an ISO 8601 time: {text!r}") from None
    if value.tzinfo is None:
        raise JobError(f"--{name} needs a UTC offset (e.g. 2026-01-01T00:00:00+00:00): {text!r}")
    return value


def read_table(root: Path, name: str, columns: list[str]) -> pa.Table:
    """A three-part table name read from ``<root>/<catalog>/<schema>/<table>`` (a folder of Parquet)."""
    parts = name.split(".")
    if len(parts) != 3 or not all(parts):
        raise JobError(f"table name {name!r} is not catalog.schema.table")
    path = root.joinpath(*parts)
    if not path.exists():
        raise JobError(f"table {name} not found: no folder {path}")
    table = pq.read_table(path)
    missing = sorted(set(columns) - set(table.column_names))
    if missing:
        raise JobError(f"table {name} at {path} lacks columns {missing}")
    return table.select(columns)


def recent_rows(table: pa.Table, start: datetime | None, end: datetime | None) -> pa.Table:
    """Labelled rows with ``start <= timestamp < end``."""
    ts = table["timestamp"]

    def bound(value: datetime) -> pa.Scalar:
        utc = value.astimezone(UTC)
        return pa.scalar(utc if getattr(ts.type, "tz", None) else utc.replace(tzinfo=None), type=ts.type)

    mask = pc.is_valid(table["label"])
    if start is not None:
        mask = pc.and_(mask, pc.greater_equal(ts, bound(start)))
    if end is not None:
        mask = pc.and_(mask, pc.less(ts, bound(end)))
    return table.filter(mask)


def split(rows: int, rng: np.random.Generator) -> tuple[Any, Any]:
    """Indices of a random 70/30 split: (kept for training, held out)."""
    order = rng.permutation(rows)
    cut = round(rows * HOLDOUT_SHARE)
    return order[cut:], order[:cut]


def _pipeline(seed: int) -> Any:
    from sklearn.compose import ColumnTransformer  # noqa: PLC0415 - see _metrics
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415
    from sklearn.pipeline import Pipeline  # noqa: PLC0415
    from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: PLC0415

    features = ColumnTransformer(
        [("num", StandardScaler(), NUMERIC), ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL)]
    )
    return Pipeline([("features", features), ("model", LogisticRegression(max_iter=1000, random_state=seed))])


def _artifact_location(given: str) -> str | None:
    if given:
        return str(Path(given).resolve())
    uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    if uri.startswith("sqlite:///"):
        return str(Path(uri.removeprefix("sqlite:///")).resolve().parent / "mlartifacts")
    return None  # a tracking server decides


def _experiment_id(client: Any, name: str, artifact_location: str | None) -> str:
    from mlflow.exceptions import MlflowException  # noqa: PLC0415 - mlflow is slow to import

    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return str(experiment.experiment_id)
    try:
        return str(client.create_experiment(name, artifact_location=artifact_location))
    except MlflowException:  # created meanwhile by another job
        return str(client.get_experiment_by_name(name).experiment_id)


def _champion_version(client: Any, model_name: str, alias: str) -> str | None:
    from mlflow.exceptions import MlflowException  # noqa: PLC0415

    try:
        aliases = client.get_registered_model(model_name).aliases
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise
    version = aliases.get(alias)
    return None if version is None else str(version)


def load_data(args: argparse.Namespace) -> tuple[pa.Table, pa.Table, str]:
    """(rows to fit on, holdout rows, where the holdout came from: ``recent`` or ``training``)."""
    start, end = _utc(args.window_start, "window_start"), _utc(args.window_end, "window_end")
    columns = [*FEATURES, "label"]
    training = read_table(args.lakehouse_root, args.training_table, columns)
    recent = training.slice(0, 0)
    if start is not None or end is not None:
        inference = read_table(args.lakehouse_root, args.recent_table, [*columns, "timestamp"])
        recent = recent_rows(inference, start, end).select(columns).cast(training.schema)
    rng = np.random.default_rng(args.seed)
    if recent.num_rows >= MIN_RECENT_ROWS:
        keep, held = split(recent.num_rows, rng)
        return pa.concat_tables([training, recent.take(keep)]), recent.take(held), "recent"
    keep, held = split(training.num_rows, rng)
    return pa.concat_tables([training.take(keep), recent]), training.take(held), "training"


def train(args: argparse.Namespace) -> dict[str, Any]:
    """Train, score, log and register; the summary printed on stdout."""
    if "MLFLOW_TRACKING_URI" not in os.environ:
        raise JobError("MLFLOW_TRACKING_URI is not set: say which MLflow to register the model in")
    metrics = _metrics()
    if args.metric not in metrics:
        raise JobError(f"--metric must be one of {sorted(metrics)}, not {args.metric!r}")
    score, _ = metrics[args.metric]
    fit_table, holdout, holdout_source = load_data(args)
    fit_frame, holdout_frame = fit_table.to_pandas(), holdout.to_pandas()
    y_fit, y_holdout = fit_frame["label"].astype(int), holdout_frame["label"].astype(int)
    if args.label_noise > 0:
        rng = np.random.default_rng(args.seed + 1)
        noisy = rng.random(len(y_fit)) < min(args.label_noise, 1.0)
        y_fit = y_fit.where(~noisy, rng.integers(0, 2, len(y_fit)))
    if y_fit.nunique() < 2 or y_holdout.nunique() < 2:
        raise JobError(f"both labels are needed in training and holdout ({holdout_source} rows); got one")

    import mlflow  # noqa: PLC0415 - slow: after the input is known to be good
    import mlflow.sklearn  # noqa: PLC0415

    model = _pipeline(args.seed).fit(fit_frame[FEATURES], y_fit)
    logged = {f"holdout_{args.metric}": score(y_holdout, model.predict_proba(holdout_frame[FEATURES])[:, 1])}
    client = mlflow.MlflowClient()
    champion = _champion_version(client, args.model_name, args.champion_alias)
    if champion is not None:
        champion_model = mlflow.sklearn.load_model(f"models:/{args.model_name}@{args.champion_alias}")
        champion_proba = champion_model.predict_proba(holdout_frame[FEATURES])[:, 1]
        logged[f"champion_holdout_{args.metric}"] = score(y_holdout, champion_proba)

    experiment = _experiment_id(
        client, f"lakewarden/{args.model_name}", _artifact_location(args.artifact_location)
    )
    run_name = f"retrain-{args.lakewarden_run_id}" if args.lakewarden_run_id else "initial-training"
    with mlflow.start_run(experiment_id=experiment, run_name=run_name) as run:
        mlflow.log_params(
            {
                "reason": args.reason[:500],
                "window_start": args.window_start,
                "window_end": args.window_end,
                "rows_fit": fit_table.num_rows,
                "rows_holdout": holdout.num_rows,
                "holdout_source": holdout_source,
                "champion_version": champion or "",
                "seed": args.seed,
            }
        )
        mlflow.log_metrics(logged)
        info = mlflow.sklearn.log_model(
            model, name="model", pip_requirements=["scikit-learn", "skops"], serialization_format="skops"
        )
    tags = {"lakewarden.reason": args.reason[:500]}
    if args.lakewarden_run_id:
        tags["lakewarden.run_id"] = args.lakewarden_run_id
    else:
        tags["lakewarden.initial"] = "true"
    version = str(mlflow.register_model(info.model_uri, args.model_name, tags=tags).version)
    if not args.lakewarden_run_id:
        client.set_registered_model_alias(args.model_name, args.champion_alias, version)
    return {"model_name": args.model_name, "version": version, "mlflow_run_id": run.info.run_id, **logged}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        summary = train(args)
    except JobError as exc:
        sys.stderr.write(f"monitor.demo.train: error: {exc}\n")
        return 2
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
