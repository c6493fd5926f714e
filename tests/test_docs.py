"""Every example in the README and docs/*.md is checked, so none goes stale.

- ```` ```yaml lakewarden-config ````: a whole config, checked as `config validate --offline` checks it.
- ```` ```yaml lakewarden-fragment=PATH ````: part of a config, merged at PATH (``.`` the top,
  ``models[0]``, ``models[0].signals``...) into a small base config, then checked the same way.
- Any other ```` ```yaml ```` block fails: mark it.
- Every ``lakewarden ...`` command line (in ``sh``/``console`` blocks, or after ``$ `` in any block)
  is parsed by the real command-line parser: a renamed command or flag fails here; and every console
  example runs in a prepared world, exits as the doc implies and prints the output lines the doc shows
  (tests/docs_examples.py says how blocks are marked: ``world=demo``, ``not-run="why"``).
- ```` ```python ```` blocks must compile.
- The reference of every setting in docs/configuration.md is what ``config.reference`` generates.

docs/external/ is left out: it quotes other tools' configs and payloads, not lakewarden's.
"""

from __future__ import annotations

import ast
import copy
import re
import shlex
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from alerts import Alert
from config import load_settings
from config.basics.clock import SimulatedClock, utc_now
from config.loader import check_file
from config.reference import embed
from monitor.app import build_alert_store, build_notifier, open_state
from monitor.cli import build_parser, main
from tests.docs_examples import DOCS, REPO, Block, Runner, blocks, commands, run_block

BASE = """
models:
  - name: churn
    sources: {lakehouse: {table: main.ml.churn_inference}}
route: {receiver: team-channel}
receivers: [{name: team-channel}, {name: pager}, {name: ml-lead}, {name: ml-head}]
"""

BLOCKS = blocks()
YAML = [b for b in BLOCKS if b.language == "yaml"]
COMMANDS = [(b, c) for b in BLOCKS for c in commands(b)]


def test_the_pages_have_examples_to_check() -> None:
    assert len(YAML) >= 7 and len(COMMANDS) >= 10


@pytest.mark.parametrize("block", YAML, ids=str)
def test_every_yaml_example_is_a_valid_config_or_fragment(block: Block, tmp_path: Path) -> None:
    mark = block.info.split(" ", 1)[1] if " " in block.info else ""
    if mark == "lakewarden-config":
        config = block.text
    elif mark.startswith("lakewarden-fragment="):
        config = yaml.safe_dump(merged(yaml.safe_load(BASE), mark.split("=", 1)[1], yaml.safe_load(block.text)))
    else:
        pytest.fail(f"{block}: mark the block `yaml lakewarden-config` or `yaml lakewarden-fragment=PATH`")
    path = tmp_path / "example.yaml"
    path.write_text(config, encoding="utf-8")
    checked = check_file(path, offline=True)  # raises ConfigError with every problem and its line
    assert checked is not None


def merged(base: dict[str, Any], where: str, fragment: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    target: Any = out
    for part in [p for p in re.split(r"\.|(?=\[)", where) if p and p != "."]:
        index = re.fullmatch(r"\[(\d+)\]", part)
        target = target[int(index.group(1))] if index else target.setdefault(part, {})
    _deep_update(target, fragment)
    return out


def _deep_update(target: dict[str, Any], new: dict[str, Any]) -> None:
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _deep_update(target[key], value)
        else:
            target[key] = value


@pytest.mark.parametrize(("block", "command"), COMMANDS, ids=[f"{b}: {c[:60]}" for b, c in COMMANDS])
def test_every_command_line_in_the_docs_parses(block: Block, command: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = shlex.split(re.sub(r"\$(\w+)", "x", command), comments=True)[1:]
    try:
        build_parser().parse_args(argv)
    except SystemExit as exc:
        pytest.fail(f"{block}: `{command}` does not parse (exit {exc.code}): {capsys.readouterr().err}")


RUNNABLE = [b for b in BLOCKS if commands(b)]
STATE_WORLD = [b for b in RUNNABLE if b.world == "state"]
NOT_RUN = [b for b in RUNNABLE if b.world is None]

# The three lines `config validate` reports for bad.yaml (docs/configuration.md, its first example).
BAD_CONFIG = """\
engine:
  kind: local_spark
  lakehouse_rot: lake
models:
  - name: churn
    sources:
      lakehouse:
        table: main.ml.churn_inference
        baseline_table: main.ml.churn_baseline
        prediction_column: prediction
        label_column: label
        timestamp_column: ts
        drift_type: BASELINE
        granularity: hourly
route:
  receiver: alert-log
  group_by: [model]
  group_wait: 30s
  routes:
    - matchers: ['severity="critical"']
      receiver: pager
receivers:
  - name: alert-log
  - name: on-call
"""


def prepare_world(home: Path) -> None:
    """A folder as a reader's would be: the shipped local config under the names the docs use, a bad.yaml,
    and a state database where the daemon's own notifier has ``churn`` firing at ``critical``."""
    local = (REPO / "config" / "examples" / "local.yaml").read_text(encoding="utf-8")
    (home / "config" / "examples").mkdir(parents=True)
    for name in ("config/examples/local.yaml", "lakewarden.yaml", "config.yaml"):
        (home / name).write_text(local, encoding="utf-8")
    shutil.copy(REPO / "config" / "examples" / "databricks.yaml", home / "config" / "examples")
    (home / "bad.yaml").write_text(BAD_CONFIG, encoding="utf-8")
    settings = load_settings(home / "lakewarden.yaml", {"LAKEWARDEN_HOME": str(home)})
    clock = SimulatedClock(utc_now())
    pipeline = build_notifier(settings, build_alert_store(open_state(settings), clock), worker_id="docs")
    pipeline.service.sync("churn", [Alert({"alertname": "ModelAtRisk", "model": "churn", "severity": "critical"},
                                          {"summary": "prediction drift"}, clock())])
    pipeline.run_once()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("world")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LAKEWARDEN_HOME", str(home))
        prepare_world(home)
    return home


def in_process(where: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Runner:
    """``main(argv)`` from ``where`` with the example's environment; (exit code, stdout, stderr)."""
    def run(argv: list[str], env: Mapping[str, str]) -> tuple[int, str, str]:
        monkeypatch.chdir(where)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        capsys.readouterr()
        code = main(argv)
        out, err = capsys.readouterr()
        return code, out, err
    return run


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize("block", STATE_WORLD, ids=str)
def test_every_command_example_runs_as_documented(block: Block, world: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("LAKEWARDEN_CONFIG", raising=False)
    env = {"USER": "alice", "LAKEWARDEN_HOME": str(world), "LAKEWARDEN_CONFIG": "lakewarden.yaml",
           "DATABRICKS_HOST": "https://example.cloud.databricks.com"}
    problems = run_block(block, in_process(world, monkeypatch, capsys), env)
    assert problems == [], f"{block}:\n" + "\n".join(problems)


def test_few_examples_are_left_unrun_and_each_says_why() -> None:
    """Only what needs a live external system (a Databricks workspace) is not run; each says why."""
    assert all(b.options["not-run"].strip() for b in NOT_RUN)
    assert len(NOT_RUN) <= 2, [str(b) for b in NOT_RUN]
    demo = [b for b in RUNNABLE if b.world == "demo"]
    # The world=demo examples (explain after `make demo`, profile on Spark) run in tests/monitor/test_demo.py.
    assert len(STATE_WORLD) >= 5 and 1 <= len(demo) <= 3, [str(b) for b in demo]


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.language == "python"], ids=str)
def test_python_examples_compile(block: Block) -> None:
    ast.parse(block.text)


def test_the_settings_reference_is_generated_from_the_models() -> None:
    doc = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert embed(doc) == doc, "run `python -m config.reference --write` and commit docs/configuration.md"


def test_no_stale_promises() -> None:
    for page in DOCS:
        assert "from the next release" not in page.read_text(encoding="utf-8"), page


# Written on the pgstate and dbx branches (issues 15 and 19); the lead merges them with this one.
ELSEWHERE = {"docs/high-availability.md", "docs/databricks-auth.md"}


def test_every_relative_link_points_to_a_file() -> None:
    broken = []
    for page in DOCS:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            if "://" in target or target.startswith("mailto:"):
                continue
            path = (page.parent / target).resolve()
            if not path.exists() and path.relative_to(REPO).as_posix() not in ELSEWHERE:
                broken.append(f"{page.relative_to(REPO)}: {target}")
    assert broken == []
