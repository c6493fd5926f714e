"""``lakewarden state upgrade [--sql]`` on an empty database, on SQLite and PostgreSQL, with the URL from
LAKEWARDEN_STATE_URL (its password never printed)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

import alerts
import retrain
from monitor import schema
from monitor.cli import exitcodes, main
from tests.config.config_support import MINIMAL

pytestmark = [pytest.mark.usefixtures("restore_logging"), pytest.mark.both_databases]

CURRENT = {"monitor": len(schema.MIGRATIONS), "alerts": len(alerts.MIGRATIONS), "retrain": len(retrain.MIGRATIONS)}


def tables(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_prints_the_sql_then_upgrades_then_has_nothing_to_do(
    state_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "lakewarden.yaml"
    config.write_text(MINIMAL + f"state: {{url: 'sqlite:///{tmp_path}/unused.db'}}\n", encoding="utf-8")
    url = sa.make_url(state_url)
    if url.get_backend_name() == "postgresql":
        url = url.set(password="pw-s3cr3t")  # the test server trusts loopback: any password passes
    monkeypatch.setenv("LAKEWARDEN_STATE_URL", url.render_as_string(hide_password=False))

    assert main(["state", "upgrade", "--sql", "--config", str(config)]) == exitcodes.OK
    printed = capsys.readouterr().out
    assert printed.startswith("-- lakewarden state upgrade for ")
    steps = ", ".join(f"{package} 0 -> {n}" for package, n in CURRENT.items())
    assert steps in printed.splitlines()[0]
    assert "CREATE TABLE alerts_outbox" in printed and printed.rstrip().endswith("COMMIT;")
    assert tables(state_url) == set()  # --sql changes nothing

    assert main(["state", "upgrade", "--config", str(config)]) == exitcodes.OK
    assert f"upgraded {steps}" in capsys.readouterr().out
    assert {"monitor_schema_versions", "alerts_outbox", "retrain_runs"} <= tables(state_url)

    assert main(["state", "upgrade", "--config", str(config)]) == exitcodes.OK
    assert main(["state", "upgrade", "--sql", "--config", str(config)]) == exitcodes.OK
    out, err = capsys.readouterr()
    assert out.count("nothing to do") == 2
    assert "s3cr3t" not in printed + out + err
    assert not (tmp_path / "unused.db").exists()  # LAKEWARDEN_STATE_URL won over state.url
