"""Test-wide set-up: a quiet, offline, loopback-only environment.

Tests that start Spark share one session for the whole run (``spark_engine`` below).
"""

from __future__ import annotations

import os
import sys

os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
os.environ["PYSPARK_PYTHON"] = sys.executable
os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
os.environ["DO_NOT_TRACK"] = "1"
for _name in [n for n in os.environ if n.startswith("DATABRICKS_")]:
    del os.environ[_name]
