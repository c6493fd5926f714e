"""One bench measurement per process: ``python bench/workers.py TOOL ROWS DATA_DIR`` prints one JSON line.

``lakewarden`` runs under the project's interpreter (pyspark, lakewarden); the others under the
bench environment's (NannyML, Evidently, pandas < 3). Peak memory is read from /proc: this process,
and for lakewarden also Spark's JVM and its Python workers, sampled every 0.1 s.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import datagen  # noqa: E402

# bench/ holds other benches too (bench/alerts.py): keep it off the path so that `import alerts`
# finds the package, not a bench script
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

Stats = dict[str, dict[str, float]]
COLUMNS = (*datagen.NUMERIC, *datagen.CATEGORICAL)


def _rss(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    match = re.search(r"VmRSS:\s+(\d+) kB", text)
    return int(match.group(1)) * 1024 if match else 0


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


class Sampler:
    """Peak RSS of this process, of one other process (the JVM) and of the workers: the JVM's children
    (Spark's Python workers) and this process's other children (lakewarden's local scan pool)."""

    def __init__(self) -> None:
        self.jvm: int | None = None
        self._workers: list[int] = []
        self.peak = {"python_rss": 0, "jvm_rss": 0, "worker_rss": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _sample(self, ticks: int = 0) -> None:
        self.peak["python_rss"] = max(self.peak["python_rss"], _rss(os.getpid()))
        if self.jvm is None:
            return
        self.peak["jvm_rss"] = max(self.peak["jvm_rss"], _rss(self.jvm))
        if ticks % 10 == 0:  # the JVM has ~100 threads to look through: refresh the worker list once a second
            workers = list(_children(self.jvm)) + [c for c in _children(os.getpid()) if c != self.jvm]
            self._workers = workers + [g for c in workers for g in _children(c)]
        self.peak["worker_rss"] = max(self.peak["worker_rss"], sum(_rss(w) for w in self._workers))

    def _run(self) -> None:
        ticks = 0
        while not self._stop.wait(0.1):
            self._sample(ticks)
            ticks += 1

    def stop(self) -> dict[str, int]:
        self._sample()
        self._stop.set()
        self._thread.join()
        return self.peak


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    began = time.perf_counter()
    value = fn()
    return time.perf_counter() - began, value


# -- numpy floor ----------------------------------------------------------------------------------

def run_numpy(rows: int, data: Path) -> dict[str, Any]:
    """A single pass per table: 10 fixed bins per numeric column, counts per category; nothing else."""
    import numpy as np  # noqa: PLC0415
    import pyarrow.compute as pc  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415

    reference, current = datagen.table_dir(data, rows, "reference"), datagen.table_dir(data, rows, "current")

    def one_pass(folder: Path, edges: dict[str, Any] | None) -> dict[str, Any]:
        counts: dict[str, Any] = {}
        found_edges: dict[str, Any] = dict(edges or {})
        for path in sorted(folder.glob("*.parquet")):
            table = pq.read_table(path, columns=list(COLUMNS))
            for name in datagen.NUMERIC:
                values = table.column(name).to_numpy()
                if name not in found_edges:  # the first row group's deciles stand in for the reference's
                    found_edges[name] = np.quantile(values[:100_000], np.arange(1, 10) / 10)
                index = np.searchsorted(found_edges[name], values)
                counts[name] = counts.get(name, 0) + np.bincount(index, minlength=10)
            for name in datagen.CATEGORICAL:
                vc = pc.value_counts(table.column(name))
                for value, n in zip(vc.field("values").to_pylist(), vc.field("counts").to_pylist(), strict=True):
                    counts.setdefault(name, {})[value] = counts.get(name, {}).get(value, 0) + n
        return {"edges": found_edges, "counts": counts}

    sampler = Sampler()
    fit, ref = _timed(lambda: one_pass(reference, None))
    calc, _ = _timed(lambda: one_pass(current, ref["edges"]))
    return {"tool": "numpy", "load": 0.0, "fit": fit, "calculate": calc, "has_fit": True, **sampler.stop()}


# -- lakewarden -----------------------------------------------------------------------------------

def run_lakewarden(rows: int, data: Path) -> dict[str, Any]:
    """Fit (reference statistics) then calculate (one window: scan + statistics), warm Spark session."""
    import sqlalchemy as sa  # noqa: PLC0415

    from monitor.app import package_migrations  # noqa: PLC0415
    from monitor.engines.local_spark import LocalSparkEngine  # noqa: PLC0415
    from monitor.profile import ProfileSpec, ProfileStore  # noqa: PLC0415
    from monitor.profile.compare import column_drift  # noqa: PLC0415
    from monitor.profile.compute import compute  # noqa: PLC0415
    from monitor.profile.reference import compute_reference  # noqa: PLC0415
    from monitor.profile.spec import column_infos  # noqa: PLC0415
    from monitor.profile.writer import window_counts  # noqa: PLC0415
    from monitor.state import open_store  # noqa: PLC0415

    sampler = Sampler()
    engine = LocalSparkEngine(data / str(rows), {"spark.driver.memory": "1g"})
    spark = engine.spark
    sampler.jvm = spark.sparkContext._gateway.proc.pid
    spec = ProfileSpec(table="main.bench.current", baseline_table="main.bench.reference", timestamp_col="timestamp",
                       granularity="1 day", feature_cols=COLUMNS)
    infos, _ = column_infos(spec, engine.columns(spec.table))
    with tempfile.TemporaryDirectory() as tmp:
        state = open_store(f"sqlite:///{tmp}/state.db", package_migrations())  # type: ignore[arg-type]
        store = ProfileStore(state.engine)
        candidates = window_counts(engine, spec, None)
        targets = sorted(candidates)
        # warm-up: both steps once, on a store that is thrown away (JIT, generated code, Python workers)
        open_store(f"sqlite:///{tmp}/warm.db", package_migrations())  # type: ignore[arg-type]
        warm = ProfileStore(sa.create_engine(f"sqlite:///{tmp}/warm.db"))
        compute(engine, spec, infos, targets, candidates, explicit=False, store=warm, version=0, baseline_rows=False)
        fit, ref = _timed(lambda: compute_reference(engine, spec, infos, store))
        calc, done = _timed(lambda: compute(engine, spec, infos, targets, candidates, explicit=False, store=store,
                                            version=0, baseline_rows=False))
        state.close()
    stats: Stats = {}
    window = done.groups
    ref_group = ref.stats.groups[(1, "*", None, None)]
    cur_group = window[(done.index[targets[0]], "*", None, None)]
    for info in infos:
        drift = column_drift(ref_group.columns[info.stats_key], cur_group.columns[info.stats_key])
        stats[info.name] = {k: v for k, v in {
            "js": drift.js_distance, "hellinger": drift.hellinger, "ks": drift.ks.statistic if drift.ks else None,
            "wasserstein": drift.wasserstein, "wasserstein_normed": drift.wasserstein_normed,
            "chi2": drift.chi_square.statistic if drift.chi_square else None,
            "l_infinity": drift.l_infinity}.items() if v is not None}
    engine.close()
    return {"tool": "lakewarden", "load": 0.0, "fit": fit, "calculate": calc, "has_fit": True,
            "timings": {k: round(v, 3) for k, v in done.timings.items()}, "stats": stats, **sampler.stop()}


# -- peers ----------------------------------------------------------------------------------------

def _frames(rows: int, data: Path) -> tuple[Any, Any]:
    import pandas as pd  # noqa: PLC0415

    ref = pd.read_parquet(datagen.table_dir(data, rows, "reference"), columns=list(COLUMNS))
    cur = pd.read_parquet(datagen.table_dir(data, rows, "current"), columns=list(COLUMNS))
    return ref, cur


def run_nannyml(rows: int, data: Path, default_methods: bool = False) -> dict[str, Any]:
    """NannyML with the methods lakewarden also computes, or (``default_methods``) its default: JS only."""
    import nannyml as nml  # noqa: PLC0415

    sampler = Sampler()
    load, (ref, cur) = _timed(lambda: _frames(rows, data))
    methods: dict[str, Any] = {} if default_methods else {
        "continuous_methods": ["kolmogorov_smirnov", "jensen_shannon", "wasserstein", "hellinger"],
        "categorical_methods": ["chi2", "jensen_shannon", "l_infinity", "hellinger"]}
    calculator = nml.UnivariateDriftCalculator(
        column_names=list(COLUMNS), treat_as_categorical=list(datagen.CATEGORICAL), chunk_number=1, **methods)
    fit, _ = _timed(lambda: calculator.fit(ref))
    calc, results = _timed(lambda: calculator.calculate(cur))
    frame = results.filter(period="analysis").to_df()
    names = {"kolmogorov_smirnov": "ks", "jensen_shannon": "js", "wasserstein": "wasserstein",
             "hellinger": "hellinger", "chi2": "chi2", "l_infinity": "l_infinity"}
    stats: Stats = {}
    for column, method, field in frame.columns:
        if field == "value" and method in names:
            stats.setdefault(column, {})[names[method]] = float(frame[(column, method, field)].iloc[-1])
    return {"tool": "nannyml-js" if default_methods else "nannyml", "load": load, "fit": fit, "calculate": calc,
            "has_fit": True, "stats": stats,
            **sampler.stop()}


def run_evidently(rows: int, data: Path) -> dict[str, Any]:
    from evidently import Report  # noqa: PLC0415
    from evidently.presets import DataDriftPreset  # noqa: PLC0415

    sampler = Sampler()
    load, (ref, cur) = _timed(lambda: _frames(rows, data))
    calc, snapshot = _timed(lambda: Report([DataDriftPreset()]).run(current_data=cur, reference_data=ref))
    stats: Stats = {}
    for metric in snapshot.dict().get("metrics", []):
        config = metric.get("config", {})
        if not str(config.get("type", "")).endswith("ValueDrift") or not isinstance(metric.get("value"), float):
            continue
        column, method, value = config["column"], str(config["method"]), float(metric["value"])
        if method.startswith("Wasserstein distance (normed)"):
            stats.setdefault(column, {})["wasserstein_normed"] = value
        elif method.startswith("Jensen-Shannon"):  # natural log: base 2 is this / sqrt(ln 2)
            stats.setdefault(column, {})["js"] = value / 0.6931471805599453 ** 0.5
    return {"tool": "evidently", "load": load, "fit": 0.0, "calculate": calc, "has_fit": False, "stats": stats,
            **sampler.stop()}


def run_nannyml_js(rows: int, data: Path) -> dict[str, Any]:
    return run_nannyml(rows, data, default_methods=True)


WORKERS: dict[str, Callable[[int, Path], dict[str, Any]]] = {
    "numpy": run_numpy, "lakewarden": run_lakewarden, "nannyml": run_nannyml, "nannyml-js": run_nannyml_js,
    "evidently": run_evidently}


if __name__ == "__main__":
    tool, size, folder = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    print(json.dumps(WORKERS[tool](size, folder), default=float), flush=True)
