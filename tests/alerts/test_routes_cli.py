"""``lakewarden alerts routes --tree`` and ``--verify-receivers`` on a real config file."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.cli import main

CONFIG = """\
models: [{name: churn, sources: {lakehouse: {table: main.ml.churn}}}]
route:
  receiver: chat
  group_by: ['...']
  group_wait: 10s
  routes:
    - matchers: ['{severity="critical", team=~"ml-.*"}']
      receiver: pager
      continue: true
      group_by: []
      repeat_interval: 1h
    - matchers: ['model="churn"']
      group_by: [model]
      routes:
        - matchers: ['env!~"dev|test"']
          receiver: oncall
receivers: [{name: chat}, {name: pager}, {name: oncall}]
"""


@pytest.fixture
def config(tmp_path: Path) -> str:
    path = tmp_path / "lakewarden.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    return str(path)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().out


def test_tree_prints_every_route_with_what_it_inherits(capsys: pytest.CaptureFixture[str], config: str) -> None:
    code, out = run(capsys, "alerts", "routes", "--tree", "--config", config)
    assert code == 0
    assert out.splitlines() == [
        "root  {}  receiver: chat  group_by: [...]  group_wait: 10s  group_interval: 5m  repeat_interval: 4h",
        '├── 0  {severity="critical",team=~"ml-.*"}  receiver: pager  group_by: [...]  group_wait: 10s  '
        "group_interval: 5m  repeat_interval: 1h  continue: true",
        '└── 1  {model="churn"}  receiver: chat  group_by: [model]  group_wait: 10s  group_interval: 5m  '
        "repeat_interval: 4h",
        '    └── 1.0  {env!~"dev|test"}  receiver: oncall  group_by: [model]  group_wait: 10s  group_interval: 5m  '
        "repeat_interval: 4h",
    ]


def test_tree_with_labels_marks_the_routes_the_alert_reaches(capsys: pytest.CaptureFixture[str], config: str) -> None:
    code, out = run(capsys, "alerts", "routes", "--tree", "--config", config,
                    "severity=critical", "team=ml-core", "model=churn", "env=")
    assert code == 0
    lines = out.splitlines()
    assert [line.split()[1] for line in lines if line.endswith("<- match")] == ["0", "1.0"]
    assert lines[-1] == "pager,oncall"


@pytest.mark.parametrize(("expected", "labels", "code"), [
    ("pager,oncall", ["severity=critical", "team=ml-core", "model=churn"], 0),
    ("pager, oncall", ["severity=critical", "team=ml-core", "model=churn"], 0),
    ("oncall,pager", ["severity=critical", "team=ml-core", "model=churn"], 1),  # order matters
    ("chat", ["model=churn", "env=dev"], 0),
    ("oncall", ["model=churn", "env=dev"], 1),
    ("chat", ['model="churn"', 'env="dev"'], 0),
])
def test_verify_receivers_exits_non_zero_on_a_mismatch(
    capsys: pytest.CaptureFixture[str], config: str, expected: str, labels: list[str], code: int
) -> None:
    got, out = run(capsys, "alerts", "routes", "--verify-receivers", expected, "--config", config, *labels)
    assert got == code
    if code:
        assert "receivers differ: expected" in out


@pytest.mark.parametrize("label", ["severity", 'team=~"ml-.*"', 'a=="x"'])
def test_routes_refuses_what_is_not_label_equals_value(
    capsys: pytest.CaptureFixture[str], config: str, label: str
) -> None:
    code, out = run(capsys, "alerts", "routes", "--config", config, label)
    assert code == 2
    assert "is not label=value" in out


def test_routes_without_labels_routes_an_empty_label_set_like_amtool(
    capsys: pytest.CaptureFixture[str], config: str
) -> None:
    code, out = run(capsys, "alerts", "routes", "--config", config)
    assert code == 0
    assert out.splitlines()[0] == "chat"
