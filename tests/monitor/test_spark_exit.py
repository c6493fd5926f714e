"""A process that ends its children (``lakewarden run``, the demo) first shuts py4j's gateway to Spark's
JVM: nothing talks to the JVM as it dies, so py4j logs no "Exception while sending command" traceback
(it did, now and then, when its finalizer thread was waiting for a reply at the kill)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent("""
    import gc, json, logging, sys, threading, time
    from pathlib import Path
    from monitor.children import children, end_children
    from monitor.engines.local_spark import LocalSparkEngine
    from monitor.logs import configure_logging

    configure_logging(level="info", fmt="json")
    engine = LocalSparkEngine(Path(sys.argv[1]))
    engine.query("SELECT 1 AS one")
    from pyspark import SparkContext
    client = SparkContext._gateway._gateway_client
    held = [engine.spark._jvm.java.lang.StringBuilder(str(i)) for i in range(200)]  # Java objects
    jvm = children()
    engine.close()
    ended = end_children(grace=10.0)
    held.clear()
    gc.collect()  # their releases are queued for py4j's finalizer thread, the JVM gone
    time.sleep(2.5)  # that thread looks at its queue every second
    workers = [t.name for t in threading.enumerate() if type(t).__name__ == "FinalizerWorker"]
    print(json.dumps({"jvm": jvm, "ended": ended, "connected": client.is_connected, "workers": workers}))
""")


def test_ending_the_children_shuts_the_gateway_first_and_py4j_says_nothing(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable}
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["jvm"] and set(result["jvm"]) <= set(result["ended"])  # the JVM was ended
    assert result["connected"] is False and result["workers"] == []  # py4j let go of it first (its thread ended)
    assert "spark_gateway_closed" in done.stderr
    assert "Traceback" not in done.stderr and "Exception while sending command" not in done.stderr, done.stderr
