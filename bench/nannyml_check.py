"""lakewarden's findings per window against NannyML's, on NannyML's own synthetic datasets.

Run with the bench environment (it has NannyML; lakewarden runs in the project's venv):

    NML_DISABLE_USAGE_LOGGING=1 bench/.venv/bin/python bench/nannyml_check.py [--datasets car_loan,...]

For each dataset: the reference period becomes the baseline table and the analysis period (with
its targets joined) the inference table, as Parquet under ``bench/data/nannyml/``. NannyML's
``UnivariateDriftCalculator`` (JS and KS for continuous columns, JS and chi-square for categorical
ones, default thresholds) and ``PerformanceCalculator`` run on calendar chunks of the same length as
lakewarden's windows. lakewarden, in a subprocess of the project's interpreter, writes the metric
tables with ``write_profile``, reads them with the Lakehouse source and judges every window with its
default signals and persistence. The script prints, per window, each column both tools flag and
where they disagree, and a summary; ``bench/RESULTS.md`` discusses the outcome.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DATA = HERE / "data" / "nannyml"

# dataset -> (loader, label column, prediction, probability, problem type, NannyML period, lakewarden granularity)
DATASETS: dict[str, dict[str, Any]] = {
    "car_loan": {"loader": "load_synthetic_car_loan_dataset", "label": "repaid", "prediction": "y_pred",
                 "proba": "y_pred_proba", "problem": "classification", "period": "M", "granularity": "1 month"},
    "binary_wfh": {"loader": "load_synthetic_binary_classification_dataset", "label": "work_home_actual",
                   "prediction": "y_pred", "proba": "y_pred_proba", "problem": "classification", "period": "M",
                   "granularity": "1 month"},
    "car_price": {"loader": "load_synthetic_car_price_dataset", "label": "y_true", "prediction": "y_pred",
                  "proba": None, "problem": "regression", "period": "D", "granularity": "1 day"},
}
SKIP_COLUMNS = {"id", "timestamp", "period"}


# -- the NannyML side (bench/.venv) -------------------------------------------------------------------

def prepare(name: str) -> tuple[Path, dict[str, Any]]:
    """Write baseline and inference tables for lakewarden; return NannyML's findings per chunk."""
    import nannyml as nml  # noqa: PLC0415 - only in the bench environment
    import pandas as pd  # noqa: PLC0415

    spec = DATASETS[name]
    reference, analysis, targets = getattr(nml, spec["loader"])()
    analysis = analysis.merge(targets, on="id")
    # car_loan's targets are integers where its reference labels are floats (1.0), and its predictions
    # integers: one type for label and prediction in both periods, or "1" and "1.0" are different classes.
    label_type = reference[spec["prediction"]].dtype if spec["problem"] == "classification" else "float64"
    for frame in (reference, analysis):
        frame[spec["label"]] = frame[spec["label"]].astype(label_type)
    features = [c for c in reference.columns if c not in SKIP_COLUMNS | {spec["label"], spec["prediction"],
                                                                            spec["proba"]}]
    root = DATA / name / "lakehouse"
    if root.exists():
        shutil.rmtree(root)  # metric tables of an earlier run would be kept by the incremental writer
    for table, frame in (("baseline", reference), ("inference", analysis)):
        out = frame.drop(columns=[c for c in ("period",) if c in frame.columns]).copy()
        out["timestamp"] = pd.to_datetime(out["timestamp"]).dt.tz_localize("UTC").astype("datetime64[us, UTC]")
        folder = root / "main" / "nml" / table
        folder.mkdir(parents=True, exist_ok=True)
        out.to_parquet(folder / "part-00000.parquet", index=False)
    outputs = [c for c in (spec["prediction"], spec["proba"]) if c]
    categorical = [c for c in features if str(reference[c].dtype) in ("object", "bool")]
    if spec["problem"] == "classification":
        categorical.append(spec["prediction"])
    drift = nml.UnivariateDriftCalculator(
        column_names=[*features, *outputs], treat_as_categorical=categorical, timestamp_column_name="timestamp",
        continuous_methods=["jensen_shannon", "kolmogorov_smirnov"], categorical_methods=["jensen_shannon", "chi2"],
        chunk_period=spec["period"]).fit(reference)
    drift_df = drift.calculate(analysis).filter(period="analysis").to_df()
    if spec["problem"] == "classification":
        perf = nml.PerformanceCalculator(
            y_pred_proba=spec["proba"], y_pred=spec["prediction"], y_true=spec["label"],
            timestamp_column_name="timestamp", problem_type="classification_binary", metrics=["f1", "roc_auc"],
            chunk_period=spec["period"]).fit(reference)
        metrics = ["f1", "roc_auc"]
    else:
        perf = nml.PerformanceCalculator(
            y_pred=spec["prediction"], y_true=spec["label"], timestamp_column_name="timestamp",
            problem_type="regression", metrics=["rmse", "mae"], chunk_period=spec["period"]).fit(reference)
        metrics = ["rmse", "mae"]
    perf_df = perf.calculate(analysis).filter(period="analysis").to_df()
    chunks = []
    for i in range(len(drift_df)):
        row = drift_df.iloc[i]
        found: dict[str, Any] = {}
        for column in [*features, *outputs]:
            for method in ("jensen_shannon", "kolmogorov_smirnov", "chi2"):
                if (column, method, "alert") in drift_df.columns:
                    found.setdefault(column, {})[method] = {"value": _num(row[(column, method, "value")]),
                                                            "alert": bool(row[(column, method, "alert")])}
        start = pd.Timestamp(row[("chunk", "chunk", "start_date")])
        chunks.append({"key": str(row[("chunk", "chunk", "key")]), "start": start.isoformat(),
                       "rows": int(row[("chunk", "chunk", "end_index")] - row[("chunk", "chunk", "start_index")] + 1),
                       "drift": found, "performance": {}})
    for i in range(min(len(perf_df), len(chunks))):
        row = perf_df.iloc[i]
        chunks[i]["performance"] = {m: {"value": _num(row[(m, "value")]), "alert": bool(row[(m, "alert")])}
                                    for m in metrics}
    return root, {"features": features, "outputs": outputs, "chunks": chunks}


def _num(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


# -- the lakewarden side (the project's .venv) ----------------------------------------------------------

def lakewarden_side(name: str, root: Path, features: list[str]) -> dict[str, Any]:
    """Profile the tables, read every window, judge it with the default signals and persistence."""
    from datetime import UTC, datetime  # noqa: PLC0415

    from config.models import ModelSettings  # noqa: PLC0415
    from monitor.engines.local_spark import LocalSparkEngine  # noqa: PLC0415
    from monitor.profile import ProfileSpec, write_profile  # noqa: PLC0415
    from monitor.risk import PriorWindow, judge, replay_states  # noqa: PLC0415
    from monitor.sources import LakehouseMetricsSource, Stream  # noqa: PLC0415

    spec = DATASETS[name]
    engine = LocalSparkEngine(root)
    write_profile(engine, ProfileSpec(
        table="main.nml.inference", baseline_table="main.nml.baseline", timestamp_col="timestamp",
        granularity=spec["granularity"], feature_cols=tuple(features) + ((spec["proba"],) if spec["proba"] else ()),
        prediction_col=spec["prediction"],
        label_col=spec["label"], prediction_proba_col=spec["proba"], problem_type=spec["problem"]))
    model = ModelSettings.model_validate({"name": name, "sources": {"lakehouse": {
        "table": "main.nml.inference", "granularity": spec["granularity"], "lookback": "36500d",
        "prediction_column": spec["prediction"], "prediction_proba_column": spec["proba"],
        "label_column": spec["label"]}}})
    now = datetime(2030, 1, 1, tzinfo=UTC)  # every window of the datasets (2014-2021) ended before, within lookback
    windows = LakehouseMetricsSource(engine, lambda: now).read(
        model, Stream("lakehouse", spec["granularity"]))
    history: list[PriorWindow] = []
    out = []
    for window in windows:
        a = judge(model, window, history)
        history.append(PriorWindow(a.window_start, a.window_end, a.severity,
                                   frozenset(f.key for f in a.findings), a.measures, a.row_count))
        out.append({"start": a.window_start.isoformat(), "rows": a.row_count, "risk": a.risk,
                    "severity": a.severity,
                    "findings": [{"signal": f.signal, "column": f.column, "statistic": f.statistic,
                                  "value": f.value, "tier": f.tier, "drift_type": f.drift_type} for f in a.findings],
                    "not_raised": {n.column: n.kind for n in a.not_raised if n.signal.endswith("_drift")},
                    "js": {d.column: d.statistics.get("js_distance") for d in window.drift
                           if d.drift_type == "BASELINE"}})
    states = replay_states([w["severity"] for w in out], model.risk)
    for item, state in zip(out, states, strict=True):
        item["alerting"] = state.severity if state.firing else "ok"
    engine.close()
    return {"windows": out}


# -- comparison -----------------------------------------------------------------------------------------

def compare(name: str, nannyml: dict[str, Any], ours: dict[str, Any]) -> list[str]:
    spec = DATASETS[name]
    by_start = {w["start"][:10]: w for w in ours["windows"]}
    columns = [*nannyml["features"], *nannyml["outputs"]]
    lines = [f"### {name} ({spec['problem']}, {spec['granularity']} windows)", "",
             "| window | rows | NannyML drift alerts | lakewarden drift findings | NannyML perf alerts | "
             "lakewarden quality findings | lakewarden risk, alert |", "|---|---|---|---|---|---|---|"]
    both = only_nml = only_ours = 0
    why: dict[str, int] = {}
    for chunk in nannyml["chunks"]:
        w = by_start.get(chunk["start"][:10])
        nml_cols = {c for c, m in chunk["drift"].items() if any(v["alert"] for v in m.values())}
        our_cols = {f["column"] for f in (w or {}).get("findings", []) if f["signal"].endswith("_drift")}
        for column in columns:
            a, b = column in nml_cols, column in our_cols
            both += a and b
            only_nml += a and not b
            only_ours += b and not a
            if a and not b:
                reason = _why_not(w, column)
                why[reason] = why.get(reason, 0) + 1
        perf = ", ".join(f"{m} {v['value']:.3f}" for m, v in chunk["performance"].items()
                         if v["alert"] and v["value"] is not None) or "-"
        quality = ", ".join(f"{f['statistic']} {f['value']:.3f} ({f['tier']})"
                            for f in (w or {}).get("findings", []) if f["signal"] == "model_quality") or "-"
        ours_text = ", ".join(sorted(f"{f['column']} ({f['tier']})" for f in (w or {}).get("findings", [])
                                     if f["signal"].endswith("_drift"))) or "-"
        risk = f"{w['risk']:.0f} {w['severity']}, {w['alerting']}" if w else "not read"
        lines.append(f"| {chunk['key']} | {chunk['rows']} | {', '.join(sorted(nml_cols)) or '-'} | {ours_text} | "
                     f"{perf} | {quality} | {risk} |")
    lines += ["", f"Column-window pairs flagged by both: {both}; by NannyML only: {only_nml} "
              f"({', '.join(f'{k}: {v}' for k, v in sorted(why.items(), key=lambda kv: -kv[1]))}); "
              f"by lakewarden only: {only_ours} (of {len(columns) * len(nannyml['chunks'])})."]
    return lines


def _why_not(window: dict[str, Any] | None, column: str) -> str:
    """Why lakewarden did not flag a column NannyML flagged in this window."""
    if window is None:
        return "window not read"
    kind = window["not_raised"].get(column)
    js = window["js"].get(column)
    if kind == "skipped":
        return "too few rows for lakewarden (min_count 100)"
    if kind == "not_significant":
        return "effect over a tier, not significant after BH"
    if js is not None and js < 0.1:
        return "JS below 0.1 (lakewarden's lowest tier)"
    return kind or "not judged"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--project-python", default=str(REPO / ".venv" / "bin" / "python"))
    parser.add_argument("--lakewarden-side", nargs=3, metavar=("DATASET", "ROOT", "FEATURES_JSON"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.lakewarden_side:
        name, root, features = args.lakewarden_side
        print(json.dumps(lakewarden_side(name, Path(root), json.loads(features))))
        return 0
    env = {**os.environ, "PYSPARK_PYTHON": args.project_python, "SPARK_LOCAL_IP": "127.0.0.1",
           "PYTHONPATH": str(REPO)}
    for name in args.datasets.split(","):
        root, nannyml = prepare(name)
        done = subprocess.run([args.project_python, __file__, "--lakewarden-side", name, str(root),
                               json.dumps(nannyml["features"])], capture_output=True, text=True, env=env,
                              check=False, cwd=REPO)
        if done.returncode != 0:
            print(done.stderr[-3000:], file=sys.stderr)
            return 1
        ours = json.loads(done.stdout.strip().splitlines()[-1])
        (DATA / name / "result.json").write_text(json.dumps({"nannyml": nannyml, "lakewarden": ours}, indent=1))
        print("\n".join(compare(name, nannyml, ours)) + "\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
