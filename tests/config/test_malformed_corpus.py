"""A corpus of malformed configs through ``lakewarden config validate``: each one exits 2 and names the
file:line, the key path and what is wrong; none hangs, crashes or leaks a secret.

Runs ``monitor.cli.main`` in-process (no subprocess); the alias bomb is timed and its memory traced.
"""

from __future__ import annotations

import os
import time
import tracemalloc
from pathlib import Path

import pytest

from config import ConfigError, parse_settings
from config.errors import format_path
from config.loader import check_text
from config.yamlsource import MAX_FILE_BYTES, MAX_NODES
from monitor.cli import exitcodes, main
from tests.config.config_support import MINIMAL

WEBHOOK = "    file_configs: [{path: /tmp/alerts.jsonl}]\n"
MODEL_LINE = "  - name: churn\n"
SOURCE = "      lakehouse: {table: main.ml.churn_inference}\n"

pytestmark = pytest.mark.usefixtures("restore_logging")

BOMB = "\n".join([
    "models: []", "route: {receiver: log}", "receivers: [{name: log}]",
    "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]",
    *(f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]" for i in range(8)),
]) + "\n"


def with_(old: str, new: str) -> str:
    assert old in MINIMAL
    return MINIMAL.replace(old, new, 1)


def model_key(text: str) -> str:
    """MINIMAL with ``text`` added to the model (line 3 onwards)."""
    return with_(MODEL_LINE, MODEL_LINE + text)


# (case, config text, line, key path, words the message must hold)
CORPUS: list[tuple[str, str, int, str, tuple[str, ...]]] = [
    ("duplicate key", with_("  receiver: log\n", "  receiver: log\n  receiver: pager\n"), 7, "route.receiver",
     ("'receiver' a second time", "first on line 6")),
    ("duplicate key in a list item", model_key("    name: fraud\n"), 3, "models[0].name",
     ("a second time", "first on line 2")),
    ("poll_interval 0s", model_key("    poll_interval: 0s\n"), 3, "models[0].poll_interval",
     ("at least 1s", "back to back")),
    ("poll_interval 100ms", model_key("    poll_interval: 100ms\n"), 3, "models[0].poll_interval", ("at least 1s",)),
    ("poll_interval .nan", model_key("    poll_interval: .nan\n"), 3, "models[0].poll_interval", ("not finite",)),
    ("poll_interval .inf", model_key("    poll_interval: .inf\n"), 3, "models[0].poll_interval", ("not finite",)),
    ("lookback overflow", with_("{table: main.ml.churn_inference}",
                                "{table: main.ml.churn_inference, lookback: 99999999999999d}"),
     4, "models[0].sources.lakehouse.lookback", ("at most 3650d",)),
    ("lookback 0s", with_("{table: main.ml.churn_inference}", "{table: main.ml.churn_inference, lookback: 0s}"),
     4, "models[0].sources.lakehouse.lookback", ("at least 1m",)),
    ("risk tier .nan", model_key("    risk: {tiers: {low: .nan, high: 80}}\n"), 3, "models[0].risk.tiers.low",
     ("finite number",)),
    ("risk tier .inf", model_key("    risk: {tiers: {low: 10, critical: .inf}}\n"), 3,
     "models[0].risk.tiers.critical", ("finite number",)),
    ("negative drift threshold", model_key("    signals:\n      feature_drift:\n"
                                           "        thresholds: {low: -0.1, high: 0.3}\n"),
     5, "models[0].signals.feature_drift.thresholds", ("low (-0.1) is negative",)),
    ("weight .nan", model_key("    signals:\n      trend: {weight: .nan}\n"), 4, "models[0].signals.trend.weight",
     ("finite number",)),
    ("feature weight .nan", model_key("    signals:\n      feature_weights: {weights: {age: .nan}}\n"), 4,
     "models[0].signals.feature_weights.weights.age", ("finite number",)),
    ("delivery_interval 0s", MINIMAL + "service: {delivery_interval: 0s}\n", 10, "service.delivery_interval",
     ("at least 100ms", "busy loop")),
    ("lifecycle_interval 0s", MINIMAL + "service:\n  lifecycle_interval: 0s\n", 11, "service.lifecycle_interval",
     ("at least 1s",)),
    ("hmac_secret_file a number", with_(WEBHOOK, "    webhook_configs:\n      - url: https://hooks.example/x\n"
                                                 "        hmac_secret_file: 12345\n"),
     11, "receivers[0].webhook_configs[0].hmac_secret_file", ("a file path", "not a int")),
    ("state.url unparsable", MINIMAL + "state:\n  url: not a database url\n", 11, "state.url",
     ("a database URL", "sqlite:///")),
    ("state.url unknown backend", MINIMAL + "state:\n  url: mysql://h/db\n", 11, "state.url",
     ("sqlite or postgresql", "'mysql'")),
    ("state.url bad port", MINIMAL + "state:\n  url: postgresql://u@h:port/db\n", 11, "state.url",
     ("a database URL",)),
    ("mlflow uri ::::", MINIMAL + "workspace:\n  mlflow_tracking_uri: '::::'\n", 11,
     "workspace.mlflow_tracking_uri", ("known scheme", "databricks")),
    ("mlflow http without host", MINIMAL + "workspace:\n  mlflow_registry_uri: 'http://'\n", 11,
     "workspace.mlflow_registry_uri", ("with a host",)),
    ("webhook url with userinfo", with_(WEBHOOK, "    webhook_configs:\n"
                                                 "      - url: https://ops:hunter2pass@hooks.example/x\n"),
     10, "receivers[0].webhook_configs[0].url", ("without user:password@", "hmac_secret")),
    ("webhook url, password with #", with_(WEBHOOK, "    webhook_configs:\n"
                                                    "      - url: 'https://ops:hun#ter2pass@hooks.example/x'\n"),
     10, "receivers[0].webhook_configs[0].url", ("without user:password@",)),
    ("alertmanager url with userinfo", with_(WEBHOOK, "    alertmanager_configs:\n"
                                                      "      - url: https://am:hunter2pass@am.example\n"),
     10, "receivers[0].alertmanager_configs[0].url", ("without user:password@", "bearer_token")),
    ("workspace host with userinfo", MINIMAL + "workspace:\n  kind: databricks\n"
                                               "  host: https://me:hunter2pass@adb-1.azuredatabricks.net\n"
                                               "  token: dapi-x\n",
     12, "workspace.host", ("without user:password@", "token")),
    ("spark connect remote with userinfo", MINIMAL + "engine: {kind: spark_connect, remote: 'sc://me:hunter2pass@h:15002'}\n",
     10, "engine.remote", ("without user:password@", "token_file")),
    ("unclosed single quote", with_("  receiver: log\n", "  receiver: 'log\n"), 6, "(top level)",
     ("quote that opens on line 6", "never closed")),
    ("unclosed double quote", with_("name: churn", 'name: "churn'), 2, "(top level)",
     ("quote that opens on line 2", "never closed")),
    ("unclosed flow mapping", with_(SOURCE, "      lakehouse: {table: main.ml.churn_inference\n"), 5,
     "(top level)", ("invalid YAML", "flow mapping on line 4")),
    ("deep nesting", MINIMAL + "x: " + "[" * 200 + "]" * 200 + "\n", 10, "(top level)",
     ("nested more than 64 deep",)),
    ("alias bomb", BOMB, 9, "(top level)", (f"more than {MAX_NODES} values", "aliases")),
    ("recursive alias", MINIMAL + "x: &loop\n  - *loop\n", 10, "(top level)", ("inside the block its anchor",)),
    ("a date where text goes", with_("name: churn", "name: 2024-01-01"), 2, "models[0].name",
     ("the date 2024-01-01", "quote it")),
    ("a number as a key", MINIMAL + "1: 2\n", 10, "1", ("not text",)),
    ("a scalar where a list goes", with_("receivers:\n  - name: log\n" + WEBHOOK, "receivers: 5\n"), 7, "receivers",
     ("expected a list",)),
    ("a list where a mapping goes", with_("route:\n  receiver: log\n", "route: [log]\n"), 5, "route",
     ("expected a mapping",)),
    ("schema and cross-reference errors together", with_("name: churn", "name: Churn").replace(
        "  receiver: log\n", "  receiver: pager\n"), 6, "route.receiver", ("receiver 'pager'",)),
]


def validate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["config", "validate", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(("text", "line", "where", "words"), [c[1:] for c in CORPUS], ids=[c[0] for c in CORPUS])
def test_each_malformed_config_exits_2_naming_file_line_key_and_problem(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, line: int, where: str,
        words: tuple[str, ...]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    code, out, err = validate(capsys, str(path))
    assert code == exitcodes.CONFIG_ERROR, err
    located = [row for row in err.splitlines() if row.strip().startswith(f"{path}:{line}: {where}: found")]
    assert located, err
    assert any(all(word in row for word in words) for row in located), err
    assert "Traceback" not in err and "valid" not in out
    assert "hunter2pass" not in err  # a password in a URL is never echoed


def test_the_schema_and_the_cross_references_are_reported_in_one_pass() -> None:
    text = with_("name: churn", "name: Churn").replace("  receiver: log\n", "  receiver: pager\n")
    with pytest.raises(ConfigError) as caught:
        parse_settings(text, "t.yaml", {})
    paths = {(i.path, i.line) for i in caught.value.issues}
    assert {(("models", 0, "name"), 2), (("route", "receiver"), 6)} <= paths


def test_a_broken_receiver_still_counts_as_defined_for_the_routes() -> None:
    text = with_(WEBHOOK, "    file_configs: [{path: /tmp/a, colour: red}]\n")
    with pytest.raises(ConfigError) as caught:
        parse_settings(text, "t.yaml", {})
    assert [i.path for i in caught.value.issues] == [("receivers", 0, "file_configs", 0, "colour")]


def test_duplicate_keys_are_reported_with_the_other_problems() -> None:
    text = with_("  receiver: log\n", "  receiver: log\n  receiver: log\n  group_wait: soon\n")
    with pytest.raises(ConfigError) as caught:
        parse_settings(text, "t.yaml", {})
    assert {i.path for i in caught.value.issues} == {("route", "receiver"), ("route", "group_wait")}


def test_the_alias_bomb_is_answered_quickly_in_bounded_memory() -> None:
    # Correctness bounds, not a benchmark: without the node cap this ran for 100 s to 2.8 GB.
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(ConfigError) as caught:
            parse_settings(BOMB, "bomb.yaml", {})
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "alias" in str(caught.value)
    assert elapsed < 5.0, elapsed
    assert peak < 200 * 1024 * 1024, peak


def test_aliases_of_modest_blocks_are_fine() -> None:
    text = MINIMAL.replace("lakehouse: {table: main.ml.churn_inference}",
                           "lakehouse: &src {table: main.ml.churn_inference}") + \
        "  - name: log2\n    file_configs: [{path: /tmp/b}]\n"
    assert parse_settings(text, "t.yaml", {}).models[0].sources.lakehouse is not None


def test_an_aliased_literal_dollar_stays_literal() -> None:
    text = with_(WEBHOOK, "    file_configs: [{path: &p '$${HOME}/a'}, {path: *p}]\n")
    settings = parse_settings(text, "t.yaml", {"HOME": "/root"})
    assert [str(f.path) for f in settings.receivers[0].file_configs] == ["${HOME}/a", "${HOME}/a"]


# -- the file itself ---------------------------------------------------------------------------------


def test_a_symlink_loop_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    loop = tmp_path / "loop.yaml"
    loop.symlink_to(loop)
    code, _, err = validate(capsys, str(loop))
    assert code == exitcodes.CONFIG_ERROR
    assert f"{loop}: (top level): found a symbolic link loop" in err, err


def test_a_secret_file_in_a_symlink_loop_is_named_at_its_key(tmp_path: Path) -> None:
    loop = tmp_path / "token"
    loop.symlink_to(loop)
    text = MINIMAL + f"workspace:\n  kind: databricks\n  host: https://h.example\n  token_file: {loop}\n"
    with pytest.raises(ConfigError) as caught:
        parse_settings(text, "t.yaml", {})
    assert [(i.path, i.line) for i in caught.value.issues] == [(("workspace", "token_file"), 13)]
    assert "symbolic link loop" in str(caught.value)


def test_a_pipe_is_refused_without_reading_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fifo = tmp_path / "config.yaml"
    os.mkfifo(fifo)  # reading it would block for ever: nobody writes
    code, _, err = validate(capsys, str(fifo))
    assert code == exitcodes.CONFIG_ERROR and "a special file" in err, err


def test_a_secret_file_that_is_a_pipe_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "token"
    os.mkfifo(fifo)
    text = MINIMAL + f"workspace:\n  kind: databricks\n  host: https://h.example\n  token_file: {fifo}\n"
    with pytest.raises(ConfigError) as caught:
        parse_settings(text, "t.yaml", {})
    assert "not a regular file" in str(caught.value)


def test_an_oversized_file_is_refused_naming_the_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    big = tmp_path / "big.yaml"
    big.write_text(MINIMAL + "# " + "x" * MAX_FILE_BYTES + "\n", encoding="utf-8")
    code, _, err = validate(capsys, str(big))
    assert code == exitcodes.CONFIG_ERROR and f"at most {MAX_FILE_BYTES} bytes" in err, err


def test_bytes_that_are_not_utf8_are_located(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(MINIMAL.replace("name: log", "name: l\xf6g").encode("latin-1"))
    code, _, err = validate(capsys, str(path))
    assert code == exitcodes.CONFIG_ERROR and f"{path}:8: (top level): found bytes that are not UTF-8" in err, err


def test_config_validate_takes_config_like_every_other_command(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(MINIMAL, encoding="utf-8")
    assert validate(capsys, "--config", str(path))[:2] == (exitcodes.OK, f"{path}: valid\n" +
                                                            validate(capsys, str(path))[1].split("\n", 1)[1])
    with pytest.raises(SystemExit) as both:
        main(["config", "validate", str(path), "--config", str(path)])
    assert both.value.code == exitcodes.CONFIG_ERROR


# -- --offline ----------------------------------------------------------------------------------------

SECRETS_AND_ENV = MINIMAL + """\
workspace:
  kind: databricks
  host: ${DATABRICKS_HOST}
  token: ${DATABRICKS_TOKEN}
state:
  url: ${DATABASE_URL}
service:
  webhooks:
    token_file: /run/secrets/lakewarden-webhook-token
"""


def test_offline_lists_unset_variables_and_unreadable_files_as_warnings(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABRICKS_HOST", "DATABRICKS_TOKEN", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "ci.yaml"
    path.write_text(SECRETS_AND_ENV, encoding="utf-8")
    code, _, err = validate(capsys, str(path))
    assert code == exitcodes.CONFIG_ERROR and "DATABRICKS_TOKEN" in err  # online, these are errors
    code, out, err = validate(capsys, "--offline", str(path))
    assert code == exitcodes.OK, err
    assert f"{path}: valid offline (4 values not checked" in out
    for line, where, what in ((12, "workspace.host", "${DATABRICKS_HOST}"),
                              (13, "workspace.token", "${DATABRICKS_TOKEN}"), (15, "state.url", "${DATABASE_URL}"),
                              (18, "service.webhooks.token_file", "/run/secrets/lakewarden-webhook-token")):
        assert f"{path}:{line}: {where}: found {what}" in out, out


@pytest.mark.parametrize("name", ["local.yaml", "databricks.yaml"])
def test_the_shipped_examples_pass_offline_with_an_empty_environment(name: str) -> None:
    path = Path(__file__).resolve().parents[2] / "config" / "examples" / name
    checked = check_text(path.read_text(encoding="utf-8"), name, {}, offline=True)
    if name == "databricks.yaml":
        assert {format_path(w.path) for w in checked.warnings} >= {
            "workspace.token", "receivers[1].webhook_configs[0].url", "service.webhooks.token_file"}
        lines = [w.line or 0 for w in checked.warnings]
        assert lines == sorted(lines)


def test_offline_still_fails_on_everything_else(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABRICKS_TOKEN", raising=False)
    path = tmp_path / "ci.yaml"
    path.write_text(with_("name: churn", "name: Churn") + "workspace:\n  kind: databricks\n  host: https://h.example\n"
                    "  token: ${DATABRICKS_TOKEN}\n  mlflow_tracking_uri: '::::'\n", encoding="utf-8")
    code, _, err = validate(capsys, "--offline", str(path))
    assert code == exitcodes.CONFIG_ERROR
    assert f"{path}:2: models[0].name" in err and f"{path}:14: workspace.mlflow_tracking_uri" in err, err
    assert "warnings (1)" in err and f"{path}:13: workspace.token: found ${{DATABRICKS_TOKEN}}" in err, err


def test_offline_passes_when_only_a_required_value_is_unknown(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPARK_REMOTE", raising=False)
    path = tmp_path / "ci.yaml"
    path.write_text(MINIMAL + "engine: {kind: spark_connect, remote: '${SPARK_REMOTE}'}\n", encoding="utf-8")
    code, out, err = validate(capsys, "--offline", str(path))
    assert code == exitcodes.OK, err
    assert "valid offline (1 value not checked; no summary" in out
    assert f"{path}:10: engine.remote: found ${{SPARK_REMOTE}}" in out


def test_offline_checks_a_readable_secret_file_as_usual(tmp_path: Path) -> None:
    short = tmp_path / "token"
    short.write_text("too-short", encoding="utf-8")
    text = MINIMAL + f"service:\n  webhooks:\n    token_file: {short}\n"
    with pytest.raises(ConfigError) as caught:
        check_text(text, "t.yaml", {}, offline=True)
    assert "shorter than 16 characters" in str(caught.value)
    assert "too-short" not in str(caught.value)


def test_offline_warns_about_a_ca_file_that_is_not_here() -> None:
    text = with_(WEBHOOK, "    alertmanager_configs: [{url: 'https://am.example', ca_file: /etc/ci/ca.pem}]\n")
    checked = check_text(text, "t.yaml", {}, offline=True)
    assert [(w.path, w.line) for w in checked.warnings] == [
        (("receivers", 0, "alertmanager_configs", 0, "ca_file"), 9)]
    with pytest.raises(ConfigError):
        check_text(text, "t.yaml", {})
