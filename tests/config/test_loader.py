"""Config loading: a table of bad configs, each with the YAML path and line it must name."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import ConfigError, load_settings, parse_settings
from config.errors import format_path
from tests.config.config_support import MINIMAL


def problems(text: str, env: dict[str, str] | None = None) -> list[tuple[str, int | None, str]]:
    with pytest.raises(ConfigError) as caught:
        parse_settings(text, "test.yaml", env or {})
    return [(format_path(i.path), i.line, i.render("test.yaml")) for i in caught.value.issues]


def test_minimal_config_loads_with_documented_defaults() -> None:
    settings = parse_settings(MINIMAL, "test.yaml", {})
    model = settings.model("churn")
    assert model.poll_interval.total_seconds() == 300
    assert model.sources.lakehouse is not None
    assert model.sources.lakehouse.drift_table == "main.ml.churn_inference_drift_metrics"
    assert model.sources.lakehouse.profile_table == "main.ml.churn_inference_profile_metrics"
    assert settings.engine.kind == "local_spark"
    assert settings.state.url.startswith("sqlite:///")


@pytest.mark.parametrize(
    ("replace", "by", "path", "line", "says"),
    [
        ("name: churn", "name: Churn", "models[0].name", 2, "lowercase name"),
        ("name: churn", "name: churn\n    poll_interval: 5 minutes", "models[0].poll_interval", 3, "duration"),
        ("{table: main.ml.churn_inference}", "{table: main.churn}", "models[0].sources.lakehouse.table", 4,
         "three-part table name"),
        ("{table: main.ml.churn_inference}", "{table: main.ml.t, granularity: hourly}",
         "models[0].sources.lakehouse.granularity", 4, "'1 hour'"),
        ("  receiver: log\n", "  receiver: log\n  recevier: x\n", "route.recevier", 7, "did you mean 'receiver'"),
        ("  receiver: log\n", "  receiver: pager\n", "route.receiver", 6, "receiver 'pager'"),
        ("  receiver: log\n", "  receiver: log\n  routes:\n    - matchers: ['severity=~\"(x\"']\n",
         "route.routes[0].matchers[0]", 8, "invalid regular expression"),
        ("    file_configs: [{path: /tmp/alerts.jsonl}]", "    file_configs: [{path: /tmp/a, mode: x}]",
         "receivers[0].file_configs[0].mode", 9, "unknown key 'mode'"),
        ("models:\n", "engine: {kind: duckdb}\nmodels:\n", "engine", 1, "local_spark"),
    ],
)
def test_bad_config_names_path_line_and_what_is_allowed(replace: str, by: str, path: str, line: int,
                                                        says: str) -> None:
    assert replace in MINIMAL
    found = problems(MINIMAL.replace(replace, by, 1))
    assert any(p == path and ln == line and says in text for p, ln, text in found), found


def test_every_problem_is_reported_not_just_the_first() -> None:
    text = MINIMAL.replace("name: churn", "name: Churn\n    poll_interval: soon")
    paths = {p for p, _, _ in problems(text)}
    assert {"models[0].name", "models[0].poll_interval"} <= paths


def test_env_references_are_substituted_with_defaults() -> None:
    # inside a YAML flow mapping ({...}) a reference needs quotes; in block style it does not
    text = MINIMAL.replace("/tmp/alerts.jsonl", "'${ALERT_DIR:-/var/log}/alerts.jsonl'")
    settings = parse_settings(text, "t.yaml", {})
    assert str(settings.receivers[0].file_configs[0].path) == "/var/log/alerts.jsonl"
    settings = parse_settings(text, "t.yaml", {"ALERT_DIR": "/data"})
    assert str(settings.receivers[0].file_configs[0].path) == "/data/alerts.jsonl"
    assert str(parse_settings(MINIMAL.replace("{path: /tmp/alerts.jsonl}", "{path: '$${literal}.jsonl'}"), "t.yaml", {})
               .receivers[0].file_configs[0].path) == "${literal}.jsonl"


def test_unset_env_variable_behind_a_secret_is_named_without_its_value() -> None:
    text = MINIMAL + "workspace:\n  kind: databricks\n  host: https://h\n  token: ${DATABRICKS_TOKEN}\n"
    found = problems(text)
    assert any(p == "workspace.token" and ln == 13 and "DATABRICKS_TOKEN" in t for p, ln, t in found), found


def test_secret_values_never_appear_in_errors() -> None:
    text = MINIMAL + "workspace:\n  kind: databricks\n  host: https://h\n  token: ${TOK}\n  client_id: abc\n"
    with pytest.raises(ConfigError) as caught:
        parse_settings(text, "t.yaml", {"TOK": "dapi-very-secret-123"})
    assert "dapi-very-secret-123" not in str(caught.value)
    assert "not both" in str(caught.value)


def test_secret_file_twin_is_read_and_masked_in_repr(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("dapi-from-file\n")
    text = MINIMAL + f"workspace:\n  kind: databricks\n  host: https://h\n  token_file: {secret}\n"
    settings = parse_settings(text, "t.yaml", {})
    assert settings.workspace.token is not None
    assert settings.workspace.token.get_secret_value() == "dapi-from-file"
    assert "dapi-from-file" not in repr(settings) and "dapi-from-file" not in str(settings.workspace)


def test_unreadable_secret_file_is_an_error_naming_the_key(tmp_path: Path) -> None:
    text = MINIMAL + f"workspace:\n  kind: databricks\n  host: https://h\n  token_file: {tmp_path}/missing\n"
    found = problems(text)
    assert any(p == "workspace.token_file" and ln == 13 and "no such file" in t for p, ln, t in found), found


@pytest.mark.parametrize(("text", "says"), [
    ("models: [\n", "invalid YAML"),
    ("- just\n- a list\n", "a mapping with models"),
    ("", "a mapping with models"),
])
def test_unusable_documents(text: str, says: str) -> None:
    assert any(says in t for _, _, t in problems(text))


def test_missing_file_says_where_to_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path / "nope.yaml")
    assert "no such file" in str(caught.value) and "config/examples/local.yaml" in str(caught.value)


@pytest.mark.parametrize("name", ["local.yaml", "databricks.yaml"])
def test_shipped_examples_are_valid(name: str, tmp_path: Path) -> None:
    token = tmp_path / "webhook_token"  # databricks.yaml reads the webhook token from a mounted file
    token.write_text("0123456789abcdef0123", encoding="utf-8")
    env = {"DATABRICKS_HOST": "https://adb-1.azuredatabricks.net", "DATABRICKS_TOKEN": "dapi-x",
           "DATABRICKS_WAREHOUSE_ID": "abc123", "SLACK_WEBHOOK_URL": "https://hooks.example/x",
           "ONCALL_WEBHOOK_URL": "https://hooks.example/y", "ONCALL_HMAC_SECRET": "s",
           "LAKEWARDEN_WEBHOOK_TOKEN_FILE": str(token)}
    path = Path(__file__).resolve().parents[2] / "config" / "examples" / name
    settings = load_settings(path, env)
    assert settings.service.webhooks.enabled == (name == "databricks.yaml")
