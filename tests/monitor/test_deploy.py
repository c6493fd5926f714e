"""deploy/: the Kubernetes manifests and the compose file parse, hang together, and carry configs that
``lakewarden config validate --offline`` accepts (and that load with their environment set)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from config import load_settings
from monitor.cli import exitcodes, main

ROOT = Path(__file__).resolve().parents[2]
KUBE = ROOT / "deploy" / "kubernetes"
COMPOSE = ROOT / "deploy" / "compose"
ENV = {"DATABRICKS_HOST": "https://adb-1.azuredatabricks.net", "DATABRICKS_TOKEN": "dapi-x",
       "DATABRICKS_WAREHOUSE_ID": "abc123", "SLACK_WEBHOOK_URL": "https://hooks.example/x",
       "ONCALL_WEBHOOK_URL": "https://hooks.example/y", "ONCALL_HMAC_SECRET": "s",
       "LAKEWARDEN_STATE_URL": "postgresql+psycopg://lakewarden:pw@db.internal:5432/lakewarden"}


def manifests() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(KUBE.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            found[doc["kind"]] = doc
    return found


def test_the_kubernetes_pieces_hang_together() -> None:
    docs = manifests()
    assert {"Kustomization", "ConfigMap", "Secret", "Deployment", "Service", "PodDisruptionBudget", "Job"} <= set(docs)
    listed = set(docs["Kustomization"]["resources"])
    assert {"configmap.yaml", "deployment.yaml", "service.yaml", "poddisruptionbudget.yaml"} == listed
    assert all((KUBE / name).is_file() for name in listed)

    deployment = docs["Deployment"]["spec"]
    pod = deployment["template"]["spec"]
    labels = deployment["template"]["metadata"]["labels"]
    assert deployment["replicas"] == 2
    assert deployment["selector"]["matchLabels"].items() <= labels.items()
    assert docs["Service"]["spec"]["selector"].items() <= labels.items()
    assert docs["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert docs["PodDisruptionBudget"]["spec"]["minAvailable"] == 1

    [container] = pod["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["envFrom"] == [{"secretRef": {"name": docs["Secret"]["metadata"]["name"]}}]
    assert "LAKEWARDEN_STATE_URL" in docs["Secret"]["stringData"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounted = {m["mountPath"]: volumes[m["name"]] for m in container["volumeMounts"]}
    assert mounted["/etc/lakewarden"]["configMap"]["name"] == docs["ConfigMap"]["metadata"]["name"]
    assert container["args"][-1] == "/etc/lakewarden/config.yaml"
    assert docs["Job"]["spec"]["template"]["spec"]["containers"][0]["args"][:2] == ["state", "upgrade"]


def test_the_compose_file_runs_two_replicas_on_one_postgresql() -> None:
    compose = yaml.safe_load((COMPOSE / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    replicas = {name: s for name, s in services.items() if name.startswith("lakewarden")}
    assert len(replicas) == 2 and services["postgres"]["image"].startswith("postgres:")
    for service in replicas.values():
        assert service["environment"]["LAKEWARDEN_STATE_URL"].startswith("postgresql+psycopg://")
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert "./config.yaml:/etc/lakewarden/config.yaml:ro" in service["volumes"]
    assert len({s["environment"]["LAKEWARDEN_INSTANCE_ID"] for s in replicas.values()}) == 2


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize("source", ["configmap", "compose"])
def test_the_deployed_configs_validate_offline_and_load_with_their_environment(
    source: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if source == "configmap":
        path = tmp_path / "config.yaml"
        path.write_text(manifests()["ConfigMap"]["data"]["config.yaml"], encoding="utf-8")
    else:
        path = COMPOSE / "config.yaml"
    assert main(["config", "validate", "--offline", str(path)]) == exitcodes.OK, capsys.readouterr()
    settings = load_settings(path, ENV)
    assert settings.state.url == ENV["LAKEWARDEN_STATE_URL"]
    assert settings.service.http.host == "0.0.0.0"  # noqa: S104 - the probes reach the pod address


def test_the_image_installs_the_postgres_extra() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "ARG EXTRAS=postgres" in dockerfile and "['optional-dependencies']" in dockerfile


def test_the_image_reads_the_config_the_manifests_mount() -> None:
    """LAKEWARDEN_CONFIG in the image is where Kubernetes and compose mount the config, so the HEALTHCHECK's
    `lakewarden health` (no --url) asks the configured service.http port, and `docker exec` commands need no
    --config."""
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    [path] = re.findall(r"^\s+LAKEWARDEN_CONFIG=(\S+)$", dockerfile, re.M)
    healthcheck = re.search(r"^HEALTHCHECK .*\n\s+CMD (\[.*\])$", dockerfile, re.M)
    assert healthcheck is not None and json.loads(healthcheck.group(1)) == ["lakewarden", "health"]
    docs = manifests()
    assert docs["Deployment"]["spec"]["template"]["spec"]["containers"][0]["args"][-1] == path
    assert docs["Job"]["spec"]["template"]["spec"]["containers"][0]["args"][-1] == path
    compose = yaml.safe_load((COMPOSE / "compose.yaml").read_text(encoding="utf-8"))
    assert f"./config.yaml:{path}:ro" in compose["x-lakewarden"]["volumes"]
