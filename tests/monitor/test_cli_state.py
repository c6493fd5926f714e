"""Every CLI command opens the state database as the daemon does (``monitor.app.open_state``).

A command run first against a fresh state database leaves every package's schema (monitor, alerts,
retrain) at its current version, so whatever runs next (the daemon, another command) finds the same
tables; before, ``lifecycle`` migrated only monitor and retrain, ``alerts``/``silence`` only alerts.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

import alerts
import retrain
from alerts import RetryPolicy
from config import load_settings
from config.basics.clock import utc_now
from monitor import schema
from monitor.app import build_alert_store, build_notifier, open_state
from monitor.cli import exitcodes, main

pytestmark = pytest.mark.usefixtures("restore_logging")

CONFIG = """\
state: {{url: "sqlite:///{tmp}/state.db"}}
models:
  - name: churn
    sources: {{lakehouse: {{table: main.ml.churn}}}}
route: {{receiver: log}}
receivers:
  - name: log
    file_configs: [{{path: "{tmp}/log.jsonl"}}]
alerting:
  retry: {{max_attempts: 3, initial_delay: 2s}}
"""

CURRENT = {"monitor": len(schema.MIGRATIONS), "alerts": len(alerts.MIGRATIONS), "retrain": len(retrain.MIGRATIONS)}



@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "lakewarden.yaml"
    path.write_text(CONFIG.format(tmp=tmp_path), encoding="utf-8")
    return path


def versions(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(schema.schema_versions.c.package, schema.schema_versions.c.version))
            return {package: int(version) for package, version in rows}
    finally:
        engine.dispose()


@pytest.mark.parametrize(("argv", "code"), [
    (["lifecycle", "list"], exitcodes.OK),
    (["lifecycle", "pause", "--reason", "maintenance", "--by", "ana"], exitcodes.OK),
    (["alerts", "outbox"], exitcodes.OK),
    (["alerts", "escalations"], exitcodes.OK),
    (["alerts", "test", "log"], exitcodes.OK),
    (["silence", "list"], exitcodes.OK),
    (["explain", "churn"], exitcodes.ERROR),  # no assessment yet
])
@pytest.mark.both_databases
def test_a_command_on_a_fresh_state_database_brings_every_package_to_its_current_version(
    config: Path, state_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    argv: list[str], code: int
) -> None:
    monkeypatch.setenv("LAKEWARDEN_STATE_URL", state_url)  # on SQLite, the config's own file
    assert main([*argv, "--config", str(config)]) == code, capsys.readouterr()
    assert versions(state_url) == CURRENT


def test_open_state_with_an_url_override_applies_the_same_migrations(config: Path, tmp_path: Path) -> None:
    settings = load_settings(config)
    other = f"sqlite:///{tmp_path}/other.db"
    open_state(settings, other).close()  # profile --config ... --state URL
    open_state(None, f"sqlite:///{tmp_path}/bare.db").close()  # profile --lakehouse-root ... --state URL
    assert versions(other) == versions(f"sqlite:///{tmp_path}/bare.db") == CURRENT
    assert not (tmp_path / "state.db").exists()
    with pytest.raises(ValueError, match="settings or a state database url"):
        open_state(None)


def test_the_notifier_of_the_composition_root_has_the_configured_retry_policy(config: Path) -> None:
    settings = load_settings(config)
    store = open_state(settings)
    try:
        delivery = build_notifier(settings, build_alert_store(store, utc_now), worker_id="t")
        assert delivery.outbox.policy == RetryPolicy.from_settings(settings.alerting.retry)
        assert (delivery.outbox.policy.max_attempts, delivery.worker_id) == (3, "t")
    finally:
        store.close()
