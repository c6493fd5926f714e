"""Lakehouse-Monitoring-shaped profile and drift metric tables computed with Spark SQL."""

from monitor.profile.spec import ProfileResult, ProfileSpec
from monitor.profile.writer import write_profile

__all__ = ["ProfileResult", "ProfileSpec", "write_profile"]
