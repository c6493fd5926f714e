"""Lakehouse monitor discovery and refresh through the workspace's monitor API (legacy or data-quality).

For the lakehouse source: ``MonitorDiscovery(client, api).resolve`` is a ``TableResolver`` (the
monitor's metric table names, or None to keep the configured ones); it never raises, and a missing
or failed monitor becomes a ``MonitorProblem`` (``problems()``). ``refresh``, ``refresh_status`` and
``wait_for_refresh`` start and track a refresh.
"""

from monitor.discovery.model import MonitorInfo, MonitorProblem, MonitorRefreshState, MonitorState, RefreshInfo
from monitor.discovery.service import DiscoveryError, MonitorDiscovery

__all__ = ["DiscoveryError", "MonitorDiscovery", "MonitorInfo", "MonitorProblem", "MonitorRefreshState",
           "MonitorState", "RefreshInfo"]
