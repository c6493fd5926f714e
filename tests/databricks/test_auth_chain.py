"""databricks-sdk's own credential chain, with lakewarden passing only what the config says.

Credentials from the environment (``DATABRICKS_TOKEN``), a ``~/.databrickscfg`` profile, or OAuth M2M
in the config all reach the emulator through the real SDK; ``lakewarden workspace whoami`` names the
identity and the auth type, never a secret.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from emu_oauth import CLIENT_ID, CLIENT_SECRET

from config.service import WorkspaceSettings
from monitor.cli import exitcodes, main
from retrain.databricks.client import configured_auth
from tests.databricks.dbx_support import COMMON, TOKEN, WAREHOUSE_ID

pytestmark = pytest.mark.integration

_SDK_ENV = ("DATABRICKS_HOST", "DATABRICKS_TOKEN", "DATABRICKS_CLIENT_ID", "DATABRICKS_CLIENT_SECRET",
            "DATABRICKS_CONFIG_PROFILE", "DATABRICKS_CONFIG_FILE", "DATABRICKS_AUTH_TYPE", "ARM_CLIENT_ID",
            "ARM_CLIENT_SECRET", "ARM_TENANT_ID", "DATABRICKS_DISCOVERY_URL")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for name in _SDK_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(tmp_path / "no-databrickscfg"))
    return monkeypatch


def _config(tmp_path: Path, workspace: str) -> str:
    path = tmp_path / "lakewarden.yaml"
    path.write_text(f"engine: {{kind: sql_warehouse, warehouse_id: {WAREHOUSE_ID}}}\n"
                    f"workspace: {{kind: databricks, {workspace}, retry_timeout: 5s}}\n"
                    + COMMON.format(work=tmp_path, table="main.ml.inference", extra=""), encoding="utf-8")
    return str(path)


@pytest.mark.usefixtures("restore_logging")
def test_whoami_with_a_token_from_the_environment(emulator, clean_env, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    clean_env.setenv("DATABRICKS_TOKEN", TOKEN)
    assert main(["workspace", "whoami", "--config", _config(tmp_path, f'host: "{emulator.url}"')]) == exitcodes.OK
    out = capsys.readouterr().out
    assert f"host:      {emulator.url}" in out and "auth type: pat" in out
    assert "user:      emulator@example.com (Emulator User)" in out and TOKEN not in out
    # --json, with the config from LAKEWARDEN_CONFIG
    clean_env.setenv("LAKEWARDEN_CONFIG", _config(tmp_path, f'host: "{emulator.url}"'))
    assert main(["workspace", "whoami", "--json"]) == exitcodes.OK
    shown = json.loads(capsys.readouterr().out)
    assert (shown["host"], shown["auth_type"], shown["user_name"]) == (emulator.url, "pat", "emulator@example.com")


@pytest.mark.usefixtures("restore_logging")
def test_whoami_with_a_databrickscfg_profile(emulator, clean_env, tmp_path: Path,  # type: ignore[no-untyped-def]
                                             capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "databrickscfg"
    cfg.write_text(f"[DEFAULT]\nhost = https://not-this.example\ntoken = wrong\n\n"
                   f"[emu]\nhost = {emulator.url}\ntoken = {TOKEN}\n", encoding="utf-8")
    clean_env.setenv("DATABRICKS_CONFIG_FILE", str(cfg))
    assert main(["workspace", "whoami", "--config", _config(tmp_path, "profile: emu")]) == exitcodes.OK
    out = capsys.readouterr().out
    assert f"host:      {emulator.url}" in out and "auth type: pat" in out and TOKEN not in out


@pytest.mark.usefixtures("restore_logging")
def test_whoami_as_a_service_principal_over_oauth_m2m(emulator, clean_env, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    workspace = f'host: "{emulator.url}", client_id: {CLIENT_ID}, client_secret: {CLIENT_SECRET}'
    assert main(["workspace", "whoami", "--config", _config(tmp_path, workspace)]) == exitcodes.OK
    captured = capsys.readouterr()
    assert "auth type: oauth-m2m" in captured.out
    assert f"service principal: {CLIENT_ID} (lakewarden-sp)" in captured.out
    assert CLIENT_SECRET not in captured.out + captured.err
    assert emulator.router.requests("POST", "/oidc/v1/token$")


@pytest.mark.usefixtures("restore_logging")
def test_whoami_without_any_credentials_says_what_to_do(emulator, clean_env, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    clean_env.setenv("PATH", str(tmp_path))  # no Azure CLI, no databricks CLI to fall back on
    assert main(["workspace", "whoami", "--config", _config(tmp_path, f'host: "{emulator.url}"')]) == exitcodes.ERROR
    err = capsys.readouterr().err
    assert "cannot authenticate to the Databricks workspace" in err and "docs/databricks-auth.md" in err


def test_only_what_is_configured_reaches_the_sdk() -> None:
    azure = WorkspaceSettings.model_validate({
        "kind": "databricks", "host": "https://adb-1.azuredatabricks.net", "azure_client_id": "app-id",
        "azure_client_secret": "azure-secret-value", "azure_tenant_id": "tenant-id"})
    assert configured_auth(azure) == {"host": "https://adb-1.azuredatabricks.net", "azure_client_id": "app-id",
                                      "azure_client_secret": "azure-secret-value", "azure_tenant_id": "tenant-id"}
    assert "azure-secret-value" not in repr(azure)
    bare = WorkspaceSettings.model_validate({"kind": "databricks", "host": "https://adb-1.azuredatabricks.net"})
    assert configured_auth(bare) == {"host": "https://adb-1.azuredatabricks.net"}  # no auth_type: the chain picks
    wif = WorkspaceSettings.model_validate({"kind": "databricks", "host": "https://h.example", "client_id": "sp",
                                            "auth_type": "env-oidc"})
    assert configured_auth(wif) == {"host": "https://h.example", "client_id": "sp", "auth_type": "env-oidc"}
