"""Typed settings for lakewarden: the YAML schema, loading, ``${ENV}`` and secret references, errors.

This package imports no other lakewarden package.
"""

from config.errors import ConfigError, ConfigIssue
from config.loader import load_settings, parse_settings
from config.settings import Settings

__all__ = ["ConfigError", "ConfigIssue", "Settings", "load_settings", "parse_settings"]
