"""Drift bench: lakewarden on local Spark against NannyML, Evidently and a numpy floor, in one run.

    make bench                                     # 1M + 1M rows
    bench/.venv/bin/python bench/drift.py --sizes 1000000,10000000

Data: seeded reference and current tables (20 numeric + 5 categorical columns) written once as
Parquet (``bench/datagen.py``). Every tool runs in its own fresh process so that its peak memory is
its own; a peer that has not finished within ``--timeout`` seconds (20 minutes) is stopped and
reported as skipped. The lakewarden worker runs in the project's environment (``--project-python``,
default ``.venv/bin/python``); the peers in this one (``bench/.venv``, ``bench/requirements.txt``).

Reported per tool: seconds (load, fit, calculate), cells per second (rows x 25 columns of both
tables over fit + calculate), peak RSS of the Python process, of Spark's JVM and of Spark's Python
workers, the peer's time divided by lakewarden's (``x ours``: fit + calculate; ``calc x``: calculate
alone; ``c+ld x``: calculate plus reading the current window into pandas, half of ``load``, since
lakewarden's calculate reads its window from Parquet too), and the largest difference between statistics
both compute (after putting them on the same scale: JS base 2, Wasserstein normed by the reference
standard deviation where the peer norms it).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import datagen  # noqa: E402 - bench/ is not a package
from workers import WORKERS  # noqa: E402

TOOLS = ("numpy", "lakewarden", "nannyml", "nannyml-js", "evidently")


def _run_worker(tool: str, rows: int, data: Path, timeout: float, python: str) -> dict[str, Any]:
    env = {**os.environ, "NML_DISABLE_USAGE_LOGGING": "1", "DO_NOT_TRACK": "1", "MLFLOW_DISABLE_TELEMETRY": "true",
           "SPARK_LOCAL_IP": "127.0.0.1", "PYTHONPATH": str(ROOT), "PYSPARK_PYTHON": python}
    args = [python, str(HERE / "workers.py"), tool, str(rows), str(data)]
    began = time.monotonic()
    try:
        done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"tool": tool, "skipped": f"did not finish within {timeout / 60:.0f} minutes"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return {"tool": tool, "skipped": f"failed (exit {done.returncode}): {' | '.join(tail)}"}
    result: dict[str, Any] = json.loads(lines[-1])
    result["wall"] = time.monotonic() - began
    return result


def _projection(everything: dict[int, list[dict[str, Any]]], tool: str, rows: int) -> float | None:
    """Seconds ``tool`` would need for ``rows``, scaled linearly from the largest smaller size it ran."""
    for smaller in sorted((n for n in everything if n < rows), reverse=True):
        for r in everything[smaller]:
            if r["tool"] == tool and "skipped" not in r:
                return float(r.get("load", 0.0) + r["fit"] + r["calculate"]) * rows / smaller
            if r["tool"] == tool and str(r["skipped"]).startswith(("did not finish", "not run")):
                return float("inf")
    return None


def _diff(ours: dict[str, dict[str, float]], theirs: dict[str, dict[str, float]]) -> dict[str, float]:
    """Largest absolute difference per statistic over the columns both report."""
    worst: dict[str, float] = {}
    for column, stats in theirs.items():
        for name, value in stats.items():
            mine = ours.get(column, {}).get(name)
            if mine is None or value is None:
                continue
            worst[name] = max(worst.get(name, 0.0), abs(float(mine) - float(value)))
    return worst


def _mb(value: float | None) -> str:
    return "-" if not value else f"{value / 2**20:,.0f}"


def _table(rows: int, results: list[dict[str, Any]]) -> str:
    cells = 2 * rows * (len(datagen.NUMERIC) + len(datagen.CATEGORICAL))
    ours = next((r for r in results if r["tool"] == "lakewarden" and "skipped" not in r), None)
    head = (f"\n{rows:,} + {rows:,} rows x {len(datagen.NUMERIC)} numeric + {len(datagen.CATEGORICAL)} "
            f"categorical columns\n"
            f"{'tool':<11}{'load s':>8}{'fit s':>8}{'calc s':>8}{'fit+calc':>9}{'Mcells/s':>9}"
            f"{'py MB':>8}{'jvm MB':>8}{'wkr MB':>8}{'x ours':>8}{'calc x':>8}{'c+ld x':>8}  largest differences")
    lines = [head]
    for r in results:
        if "skipped" in r:
            lines.append(f"{r['tool']:<11}skipped: {r['skipped']}")
            continue
        total = r["fit"] + r["calculate"]
        ratio = calc_ratio = load_ratio = "-"
        if ours is not None and r is not ours and r["tool"] != "numpy":
            ratio = f"{total / (ours['fit'] + ours['calculate']):.1f}"
            if r.get("has_fit"):
                calc_ratio = f"{r['calculate'] / ours['calculate']:.1f}"
                load_ratio = f"{(r['calculate'] + r.get('load', 0.0) / 2) / ours['calculate']:.1f}"
        elif ours is not None and r["tool"] == "numpy":
            ratio = f"{total / (ours['fit'] + ours['calculate']):.2f}"
        diffs = "" if ours is None or r is ours else ", ".join(
            f"{k} {v:.3g}" for k, v in sorted(_diff(ours.get("stats", {}), r.get("stats", {})).items()))
        lines.append(f"{r['tool']:<11}{r.get('load', 0.0):>8.2f}{r['fit']:>8.2f}{r['calculate']:>8.2f}{total:>9.2f}"
                     f"{cells / total / 1e6:>9.1f}{_mb(r.get('python_rss')):>8}{_mb(r.get('jvm_rss')):>8}"
                     f"{_mb(r.get('worker_rss')):>8}{ratio:>8}{calc_ratio:>8}{load_ratio:>8}  {diffs}")
    if ours is not None and "timings" in ours:
        parts = ", ".join(f"{k} {v:.2f}" for k, v in ours["timings"].items())
        lines.append(f"lakewarden calculate breakdown (s): {parts}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000", help="comma-separated row counts per table")
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--data", default=str(HERE / "data"))
    parser.add_argument("--timeout", type=float, default=1200.0, help="seconds per tool and size (20 minutes)")
    parser.add_argument("--project-python", default=str(ROOT / ".venv" / "bin" / "python"))
    parser.add_argument("--json", help="also write the raw results here")
    args = parser.parse_args(argv)
    data = Path(args.data)
    tools = [t for t in args.tools.split(",") if t]
    unknown = sorted(set(tools) - set(WORKERS))
    if unknown:
        parser.error(f"unknown tools {unknown}; choose from {sorted(WORKERS)}")
    print(f"drift bench on {os.cpu_count()} cores, {time.strftime('%Y-%m-%d %H:%M %Z')}", flush=True)
    everything: dict[int, list[dict[str, Any]]] = {}
    for rows in (int(s) for s in args.sizes.split(",")):
        began = time.monotonic()
        datagen.generate(data, rows)
        print(f"data for {rows:,} rows ready ({time.monotonic() - began:.0f} s)", flush=True)
        results = []
        for tool in tools:
            python = args.project_python if tool == "lakewarden" else sys.executable
            projected = _projection(everything, tool, rows)
            if projected is not None and projected > args.timeout:
                result = {"tool": tool, "skipped": f"not run: {projected / 60:.0f} minutes projected from the "
                                                   f"smaller size (time grows at least linearly with rows), "
                                                   f"over the {args.timeout / 60:.0f}-minute limit"}
            else:
                result = _run_worker(tool, rows, data, args.timeout, python)
            state = result.get("skipped") or f"{result['fit'] + result['calculate']:.2f} s"
            print(f"  {tool}: {state}", flush=True)
            results.append(result)
        print(_table(rows, results), flush=True)
        everything[rows] = results
    if args.json:
        Path(args.json).write_text(json.dumps(everything, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
