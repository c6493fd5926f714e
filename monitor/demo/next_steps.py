"""The end of ``lakewarden demo``: its config written out, and the commands to try next on its state."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from importlib import resources
from pathlib import Path


def write_demo_config(root: Path) -> Path:
    """The demo's config with its folder written in, so the commands below read the demo's state."""
    text = resources.files("config").joinpath("examples/local.yaml").read_text(encoding="utf-8")
    path = root / "lakewarden.yaml"
    path.write_text(text.replace("${LAKEWARDEN_HOME:-.lakewarden/demo}", str(root)), encoding="utf-8")
    return path


def next_steps(config: Path) -> str:
    """What to try next, on the state the demo left (each command is run by tests/monitor/test_demo.py)."""
    return "\n".join([
        "\n  try next:",
        f"    export LAKEWARDEN_CONFIG={shlex.quote(str(config))}",
        *(f"    {command}" for command in NEXT_COMMANDS),
        "  docs: README.md, then docs/README.md (configuration, operations, Databricks)",
    ])


NEXT_COMMANDS = (
    "lakewarden explain churn --history        # every judged window, newest first",
    "lakewarden explain churn                  # the latest window: findings and why",
    "lakewarden alerts outbox --all            # every notification sent, and why (first, repeat...)",
    "lakewarden lifecycle list                 # the retrain runs",
    "lakewarden alerts routes --tree           # where alerts go",
    "lakewarden silence add 'model=\"churn\"' --duration 1h --comment 'trying silences' --dry-run",
)


def traffic(routes: Mapping[str, int]) -> str:
    """``{'churn-2': 100}`` as people write it: ``100% to churn-2``."""
    shares = sorted(routes.items(), key=lambda kv: -kv[1])
    return ", ".join(f"{share}% to {name}" for name, share in shares) or "nothing"
