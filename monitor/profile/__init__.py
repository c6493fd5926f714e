"""Lakehouse-Monitoring-shaped profile and drift metric tables, computed inside Spark.

``write_profile(engine, spec)`` writes ``<table>_profile_metrics`` and ``<table>_drift_metrics`` for
the windows that need it; ``ProfileStore`` keeps reference statistics, monitor versions and written
windows in the state database. See the README section "Profiles and drift".

The names below load on first use: Spark's Python workers import ``monitor.profile.kernel`` and
should not pay for the writer's imports (Spark, SQLAlchemy, scipy).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monitor.profile.spec import CustomMetricDefinition, ProfileError, ProfileResult, ProfileSpec
    from monitor.profile.store import ProfileStore
    from monitor.profile.writer import write_profile

_WHERE = {"CustomMetricDefinition": "spec", "ProfileError": "spec", "ProfileResult": "spec", "ProfileSpec": "spec",
          "ProfileStore": "store", "write_profile": "writer"}

__all__ = ["CustomMetricDefinition", "ProfileError", "ProfileResult", "ProfileSpec", "ProfileStore", "write_profile"]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"monitor.profile.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'monitor.profile' has no attribute {name!r}")
