"""OAuth M2M (a service principal's client id and secret) against the emulator, through the real databricks-sdk.

The SDK fetches the workspace's OIDC discovery document, then a token from its token endpoint (HTTP
Basic client_id:client_secret, client_credentials, scope all-apis), and sends it as a bearer token.
lakewarden names the discovery document itself, so it works whether or not the workspace serves
host metadata (``/.well-known/databricks-config``). A wrong secret is a clear error without the secret.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pyarrow as pa
import pytest
from emu_oauth import CLIENT_ID, CLIENT_SECRET

from config.service import WorkspaceSettings
from monitor.cli import exitcodes, main
from monitor.engines.local_spark import LocalSparkEngine
from monitor.workspace import export_mlflow_credentials
from retrain.databricks import UnityCatalogRegistry, WorkspaceError, workspace_client
from retrain.registry import MlflowRegistry
from tests.databricks.dbx_support import COMMON, WAREHOUSE_ID
from tests.databricks.dbx_tables import put

pytestmark = pytest.mark.integration

MODEL = "main.ml.churn"
WRONG = "not-the-secret-5f2a9c"  # a wrong secret, which must never show



def m2m(url: str, secret: str = CLIENT_SECRET, **extra: str) -> WorkspaceSettings:
    return WorkspaceSettings.model_validate({"kind": "databricks", "host": url, "client_id": CLIENT_ID,
                                             "client_secret": secret, "retry_timeout": "5s", **extra})


@pytest.mark.parametrize("host_metadata", [False, True], ids=["older-workspace", "host-metadata"])
def test_the_client_gets_a_token_and_calls_with_it(emulator, host_metadata: bool) -> None:  # type: ignore[no-untyped-def]
    emulator.oauth.host_metadata = host_metadata
    emulator.registry.add_version(MODEL)
    registry = UnityCatalogRegistry(workspace_client(m2m(emulator.url)), MlflowRegistry("sqlite:///:memory:"))
    registry.set_alias(MODEL, "champion", "1")
    assert registry.get_alias(MODEL, "champion") == "1"

    (token,) = emulator.router.requests("POST", "/oidc/v1/token$")
    assert token.headers["authorization"] == "Basic " + base64.b64encode(
        f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert (token.body["grant_type"], token.body["scope"]) == ("client_credentials", "all-apis")
    calls = emulator.router.requests(path="/api/2.1/unity-catalog/models/")
    bearers = {call.headers["authorization"] for call in calls}
    (bearer,) = bearers  # one token, reused
    assert bearer.startswith("Bearer emu-oauth-") and bearer.removeprefix("Bearer ") in emulator.router.issued
    assert emulator.oauth.granted == [CLIENT_ID]


def test_a_wrong_secret_is_a_clear_error_without_the_secret(emulator) -> None:  # type: ignore[no-untyped-def]
    emulator.registry.add_version(MODEL)
    settings = m2m(emulator.url, WRONG)
    registry = UnityCatalogRegistry(workspace_client(settings), MlflowRegistry("sqlite:///:memory:"))
    with pytest.raises(WorkspaceError) as caught:
        registry.set_alias(MODEL, "champion", "1")
    message = str(caught.value)
    assert "the workspace's OAuth token endpoint refused the client credentials (invalid_client" in message
    assert "check workspace.client_id and client_secret" in message
    assert WRONG not in message and WRONG not in repr(caught.value.__cause__) and WRONG not in repr(settings)
    assert emulator.registry.aliases(MODEL) == {}
    assert emulator.router.requests(path="/api/2.1/unity-catalog/") == []  # no call went out unauthenticated


def test_an_unknown_token_is_refused_and_a_token_expires(emulator) -> None:  # type: ignore[no-untyped-def]
    import requests

    url = f"{emulator.url}/api/2.1/unity-catalog/models/{MODEL}"
    assert requests.get(url, headers={"Authorization": "Bearer emu-oauth-made-up"}, timeout=5).status_code == 401
    got = requests.post(f"{emulator.url}/oidc/v1/token", data={"grant_type": "client_credentials"},
                        auth=(CLIENT_ID, CLIENT_SECRET), timeout=5).json()
    emulator.registry.add_version(MODEL)
    assert requests.get(url, headers={"Authorization": f"Bearer {got['access_token']}"}, timeout=5).ok
    emulator.clock.advance(got["expires_in"] + 1)
    assert requests.get(url, headers={"Authorization": f"Bearer {got['access_token']}"}, timeout=5).status_code == 401


@pytest.mark.usefixtures("restore_logging")
def test_monitors_status_from_a_config_with_client_id_and_secret(tmp_path: Path, emulator,  # type: ignore[no-untyped-def]
                                                                 spark_engine: LocalSparkEngine,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    table = "main.dbx_oauth.inference"
    put(spark_engine.root, table, pa.table({"prediction": [0.5]}))
    emulator.monitors.add(table, "main.dbx_oauth_out", pending_seconds=0)

    def config(secret: str) -> Path:
        path = tmp_path / f"{secret}.yaml"
        path.write_text(
            f"engine: {{kind: sql_warehouse, warehouse_id: {WAREHOUSE_ID}}}\n"
            f'workspace: {{kind: databricks, host: "{emulator.url}", client_id: {CLIENT_ID}, '
            f"client_secret: {secret}, retry_timeout: 5s}}\n" + COMMON.format(work=tmp_path, table=table, extra=""),
            encoding="utf-8")
        return path

    assert main(["monitors", "status", "--config", str(config(CLIENT_SECRET))]) == exitcodes.OK
    assert "-> main.dbx_oauth_out.inference_profile_metrics" in capsys.readouterr().out
    assert main(["monitors", "status", "--config", str(config(WRONG))]) == exitcodes.INCOMPLETE
    out = capsys.readouterr()
    assert "refused the client credentials" in out.out and WRONG not in out.out + out.err


def test_mlflow_authenticates_with_the_exported_client_credentials(emulator, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    for name in ("DATABRICKS_HOST", "DATABRICKS_TOKEN", "DATABRICKS_CLIENT_ID", "DATABRICKS_CLIENT_SECRET",
                 "DATABRICKS_DISCOVERY_URL", "DATABRICKS_CONFIG_PROFILE", "DATABRICKS_AUTH_TYPE"):
        monkeypatch.setenv(name, "")  # recorded, so the teardown removes what the test set
        monkeypatch.delenv(name)
    export_mlflow_credentials(m2m(emulator.url, mlflow_tracking_uri="databricks", mlflow_registry_uri="databricks-uc"))
    assert os.environ["DATABRICKS_DISCOVERY_URL"] == f"{emulator.url}/oidc/.well-known/oauth-authorization-server"
    version = emulator.registry.add_version(MODEL, run_metrics={"f1": 0.9}, tags={"lakewarden.run_id": "lc-3"})
    versions = MlflowRegistry("databricks", "databricks-uc")
    assert versions.find_version_by_tag(MODEL, "lakewarden.run_id", "lc-3") == str(version)
    assert versions.version_metrics(MODEL, str(version)) == {"f1": 0.9}
    assert emulator.router.requests("POST", "/oidc/v1/token$")
    assert all(r.headers["authorization"].startswith("Bearer emu-oauth-")
               for r in emulator.router.requests(path="/api/2.0/mlflow/"))
