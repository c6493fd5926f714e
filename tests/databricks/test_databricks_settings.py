"""Engine and workspace settings for Databricks: what validates, what is refused and how it reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import ConfigError, parse_settings
from config.service import WorkspaceSettings
from monitor.workspace import export_mlflow_credentials

TAIL = """\
models:
  - name: churn
    sources:
      lakehouse: {table: main.ml.churn_inference}
route: {receiver: log}
receivers:
  - name: log
    file_configs: [{path: /tmp/alerts.jsonl}]
"""
WORKSPACE = "workspace: {kind: databricks, host: 'https://adb-1.azuredatabricks.net', token: dapi-x}\n"


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_settings(text + TAIL, "test.yaml", {})
    return [issue.render("test.yaml") for issue in caught.value.issues]


def test_a_complete_warehouse_config_reads_with_its_defaults() -> None:
    settings = parse_settings("engine: {kind: sql_warehouse, warehouse_id: abc123}\n" + WORKSPACE + TAIL,
                              "test.yaml", {})
    assert settings.engine.kind == "sql_warehouse"
    # The server-side wait stays well below the client's http_timeout and half the shutdown deadline.
    assert settings.engine.wait_timeout.total_seconds() == 10
    assert settings.workspace.http_timeout.total_seconds() >= 10 + 10
    assert settings.engine.wait_timeout * 2 <= settings.service.shutdown_deadline
    assert settings.engine.query_timeout.total_seconds() == 180
    assert settings.workspace.retry_timeout.total_seconds() == 30
    assert settings.workspace.monitor_api == "auto"


@pytest.mark.parametrize(("text", "says"), [
    ("engine: {kind: sql_warehouse, warehouse_id: abc, wait_timeout: 60s}\n" + WORKSPACE, "5s to 50s"),
    ("engine: {kind: sql_warehouse, warehouse_id: 'a b'}\n" + WORKSPACE, "engine.warehouse_id"),
    ("engine: {kind: sql_warehouse, warehouse_id: abc}\n", "needs workspace kind databricks"),
    ("engine: {kind: spark_connect, remote: 'sc://h:443/;token=dapi-secret'}\n", "must not carry a token"),
    ("engine: {kind: spark_connect, remote: 'http://h:443'}\n", "engine.remote"),
    ("engine: {kind: spark_connect, remote: 'sc://h:15002', lakehouse_root: rel/dir}\n", "absolute path"),
    ("workspace: {kind: databricks, host: adb-1.azuredatabricks.net, token: x}\n", "must be a URL"),
    (WORKSPACE.replace("}", ", monitor_api: newest}"), "workspace.monitor_api"),
    ("engine: {kind: sql_warehouse, warehouse_id: abc, wait_timeout: 30s}\n" + WORKSPACE,
     "workspace.http_timeout (30s) must be at least engine.wait_timeout (30s) + 10s"),
    ("engine: {kind: sql_warehouse, warehouse_id: abc, wait_timeout: 20s}\n"
     + WORKSPACE.replace("}", ", http_timeout: 1m}") + "service: {shutdown_deadline: 20s}\n",
     "engine.wait_timeout (20s) must be at most half of service.shutdown_deadline (20s)"),
    ("workspace: {kind: databricks, host: 'https://h.net', token: dapi-secret, client_id: a, client_secret: b}\n",
     "give token or client_id/client_secret, not both"),
    ("workspace: {kind: databricks, host: 'https://h.net', azure_client_secret: dapi-secret}\n",
     "azure_client_secret needs azure_client_id and azure_tenant_id"),
    ("workspace: {kind: databricks}\n", "host (or a profile that names one) is required"),
])
def test_bad_databricks_settings_are_refused_with_the_reason(text: str, says: str) -> None:
    found = problems(text)
    assert any(says in line for line in found), found
    assert not any("dapi-secret" in line for line in found)


def test_a_spark_connect_token_comes_from_its_file(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("dapi-from-file\n", encoding="utf-8")
    settings = parse_settings(f"engine: {{kind: spark_connect, remote: 'sc://h:443', token_file: {secret}}}\n"
                              + TAIL, "test.yaml", {})
    assert settings.engine.token is not None and settings.engine.token.get_secret_value() == "dapi-from-file"
    assert "dapi-from-file" not in repr(settings.engine)


def _workspace(**values: object) -> WorkspaceSettings:
    return WorkspaceSettings.model_validate({"kind": "databricks", "host": "https://adb-1.net", **values})


def test_mlflow_gets_the_workspace_credentials_only_for_databricks_uris_and_never_over_the_environment() -> None:
    env: dict[str, str] = {}
    export_mlflow_credentials(_workspace(token="dapi-1", mlflow_tracking_uri="databricks",
                                         mlflow_registry_uri="databricks-uc"), env)
    assert env == {"DATABRICKS_HOST": "https://adb-1.net", "DATABRICKS_TOKEN": "dapi-1"}

    env = {}
    export_mlflow_credentials(_workspace(token="dapi-1"), env)  # MLflow on SQLite: nothing to give
    assert env == {}

    env = {"DATABRICKS_CLIENT_ID": "sp"}
    export_mlflow_credentials(_workspace(token="dapi-1", mlflow_tracking_uri="databricks"), env)
    assert env == {"DATABRICKS_CLIENT_ID": "sp"}  # two auth methods at once would be an error
