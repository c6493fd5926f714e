"""monitor.webhooks: the Databricks job-notification ingress over the real web app on 127.0.0.1.

The runs it knows come from a real RunBook on a SQLite state database; the ``submit`` callable is a
queue, as ``Daemon.submit`` is.
"""

from __future__ import annotations

import base64
import http.client
import json
import queue
import signal
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError
from structlog.testing import capture_logs

import retrain
from config import ConfigError, load_settings
from config.lifecycle import LifecycleSettings
from config.service import ServiceSettings, WebhookSettings
from monitor.bus import Command
from monitor.health import Health
from monitor.messages import AdvanceLifecycle
from monitor.state import open_store
from monitor.web import WebServer, build_app
from monitor.webhooks import JOBS_PATH, MAX_BODY, WebhookIngress
from retrain import RunBook, RunState, Step, Trigger
from retrain import runs as run_store
from tests.monitor.cli_support import daemon_process, wait_for

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
USER = "databricks"
PASSWORD = "pw-7c1e0d5b9a8f4e2d"
TOKEN = "tok-3f9a2b7c6d5e4f10a1b2"
SECRETS = (PASSWORD, TOKEN, base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode())
LIFECYCLE = {"enabled": True, "registered_model": "main.ml.churn", "retrain": {"module": "lw_fake_job"},
             "trigger": {"cooldown": "0s", "max_runs_per_day": 10}}


@pytest.fixture
def book(tmp_path: Path) -> RunBook:
    store = open_store(f"sqlite:///{tmp_path}/state.db", {"retrain": retrain.MIGRATIONS})
    models = {name: LifecycleSettings.model_validate(LIFECYCLE) for name in ("churn", "fraud")}
    return RunBook(store.engine, models, lambda: T0)


def start_run(book: RunBook, model: str, **external: Any) -> str:
    """A pending run of ``model`` with these external ids recorded, as the job step records them."""
    decision = book.consider(Trigger(model=model, reason="manual: test", severity="low", requested_by="test"))
    assert decision.started and decision.run_id is not None, decision
    run = book.get(decision.run_id)
    assert run is not None
    with book.engine.begin() as conn:
        run_store.update_run(conn, run, T0, state=RunState.RUNNING, external=external)
    return decision.run_id


def finish_run(book: RunBook, run_id: str) -> None:
    run = book.get(run_id)
    assert run is not None
    with book.engine.begin() as conn:
        run_store.update_run(conn, run, T0, state=RunState.SUCCEEDED, step=Step.DONE, decision="done")


class Served:
    def __init__(self, port: int, commands: queue.Queue[Command]) -> None:
        self.port, self.commands = port, commands

    def request(self, body: bytes | str | dict[str, Any] | None, *, auth: str | None = None,
                content_type: str | None = "application/json", path: str = JOBS_PATH,
                method: str = "POST", headers: dict[str, str] | None = None) -> tuple[int, Any, dict[str, list[str]]]:
        data = json.dumps(body).encode() if isinstance(body, dict) else body.encode() if isinstance(body, str) \
            else body
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            sent = dict(headers or {})
            if auth is not None:
                sent["Authorization"] = auth
            if content_type is not None:
                sent["Content-Type"] = content_type
            conn.request(method, path, body=data, headers=sent)
            response = conn.getresponse()
            raw = response.read()
            all_headers: dict[str, list[str]] = {}
            for name, value in response.getheaders():
                all_headers.setdefault(name.lower(), []).append(value)
            return response.status, json.loads(raw) if raw else None, all_headers
        finally:
            conn.close()

    def woken(self) -> list[Command]:
        found = []
        while not self.commands.empty():
            found.append(self.commands.get_nowait())
        return found


@pytest.fixture
def serve(book: RunBook) -> Iterator[Callable[..., Served]]:
    servers: list[WebServer] = []

    def _serve(**settings: Any) -> Served:
        commands: queue.Queue[Command] = queue.Queue()
        ingress = WebhookIngress(WebhookSettings.model_validate(settings), book.unfinished, commands.put)
        server = WebServer("127.0.0.1", 0, build_app(Health(), ingress=ingress))
        server.start()
        servers.append(server)
        return Served(server.port, commands)

    yield _serve
    for server in servers:
        server.stop()


def basic(user: str = USER, password: str = PASSWORD) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def event(run_id: object, event_type: str = "jobs.on_success", **run: object) -> dict[str, Any]:
    return {"event_type": event_type, "workspace_id": "1234567890", "run": {"run_id": run_id, **run},
            "job": {"job_id": 987, "name": "churn-retrain"}}


BOTH = {"username": USER, "password": PASSWORD, "token": TOKEN}


# -- switched off unless configured ---------------------------------------------------------------


@pytest.mark.integration
def test_without_credentials_the_endpoint_is_404_and_wakes_nothing(serve: Callable[..., Served],
                                                                    book: RunBook) -> None:
    start_run(book, "churn", job_external_id="555")
    served = serve()
    status, body, _ = served.request(event(555), auth=basic())
    assert status == 404 and body == {"error": "not found"}
    assert served.woken() == []


# -- authentication --------------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize("auth", [basic(), f"Bearer {TOKEN}", f"bearer  {TOKEN} "])
def test_a_configured_credential_wakes_the_daemon_for_a_known_run(
    serve: Callable[..., Served], book: RunBook, auth: str,
) -> None:
    run_id = start_run(book, "churn", job_external_id="555")
    served = serve(**BOTH)
    status, body, _ = served.request(event(555), auth=auth)
    assert status == 202
    assert body == {"status": "accepted", "run_id": run_id, "databricks_run_id": "555"}
    assert served.woken() == [AdvanceLifecycle()]


@pytest.mark.integration
@pytest.mark.parametrize(("settings", "auth", "problem"), [
    (BOTH, None, "no Authorization header"),
    (BOTH, basic(password="wrong-password-123456"), "wrong username or password"),
    (BOTH, basic(user="someone"), "wrong username or password"),
    (BOTH, f"Bearer {TOKEN}x", "wrong bearer token"),
    (BOTH, "Basic not*base64", "basic credentials are not base64"),
    ({"token": TOKEN}, basic(), "scheme 'Basic' not accepted"),  # basic auth not configured
    ({"username": USER, "password": PASSWORD}, f"Bearer {TOKEN}", "scheme 'Bearer' not accepted"),
    (BOTH, f"Token {TOKEN}", "scheme 'Token' not accepted"),
])
def test_a_missing_or_wrong_credential_is_401_with_a_challenge_and_a_warning(
    serve: Callable[..., Served], book: RunBook, settings: dict[str, str], auth: str | None, problem: str,
) -> None:
    start_run(book, "churn", job_external_id="555")
    served = serve(**settings)
    with capture_logs() as logs:
        status, body, headers = served.request(event(555), auth=auth)
    assert status == 401 and body == {"error": "unauthorized"}
    challenges = headers["www-authenticate"]
    assert ('Basic realm="lakewarden", charset="UTF-8"' in challenges) == ("password" in settings)
    assert ('Bearer realm="lakewarden"' in challenges) == ("token" in settings)
    warnings = [e for e in logs if e["event"] == "webhook_unauthorized"]
    assert len(warnings) == 1 and warnings[0]["log_level"] == "warning"
    assert warnings[0]["problem"] == problem and warnings[0]["client"] == "127.0.0.1"
    assert served.woken() == []


@pytest.mark.integration
def test_no_secret_reaches_the_logs_or_the_answers(serve: Callable[..., Served], book: RunBook) -> None:
    start_run(book, "churn", job_external_id="555")
    served = serve(**BOTH)
    answers = []
    with capture_logs() as logs:
        for auth in (basic(), basic(password=PASSWORD + "x"), f"Bearer {TOKEN}", f"Bearer {TOKEN[:-1]}",
                     f"Token {TOKEN}", basic(user=PASSWORD)):
            for payload in (event(555), event(777), "{nope"):
                answers.append(served.request(payload, auth=auth))
    assert {e["event"] for e in logs} >= {"webhook_accepted", "webhook_unauthorized", "webhook_rejected"}
    shown = repr(logs) + repr(answers)
    for secret in SECRETS:
        assert secret not in shown
        assert secret[:-1] not in shown  # nor the near misses sent above


# -- which runs wake the daemon --------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize(("external", "sent"), [
    ({"job_external_id": "555"}, event(555)),                        # a number
    ({"job_external_id": "555"}, event("555")),                      # a string
    ({"job_external_id": 555}, event("555")),                        # stored as a number
    ({"validate_job_external_id": "556"}, event(556, "jobs.on_failure")),
    ({"batch_job_external_id": "557"}, event(557, "jobs.on_start")),
    ({"job_external_id": "555"}, event(9001, parent_run_id=555)),   # a task-level event
])
def test_every_job_of_an_unfinished_run_is_known(
    serve: Callable[..., Served], book: RunBook, external: dict[str, object], sent: dict[str, Any],
) -> None:
    run_id = start_run(book, "churn", **external)
    served = serve(token=TOKEN)
    status, body, _ = served.request(sent, auth=f"Bearer {TOKEN}")
    assert status == 202 and body["run_id"] == run_id
    assert served.woken() == [AdvanceLifecycle()]


@pytest.mark.integration
def test_an_unknown_run_id_is_404_and_logged(serve: Callable[..., Served], book: RunBook) -> None:
    start_run(book, "churn", job_external_id="555")
    served = serve(token=TOKEN)
    with capture_logs() as logs:
        status, body, _ = served.request(event(556), auth=f"Bearer {TOKEN}")
    assert status == 404 and "unknown run id 556" in body["error"]
    rejected = [e for e in logs if e["event"] == "webhook_rejected"]
    assert len(rejected) == 1 and rejected[0]["log_level"] == "warning"
    assert rejected[0]["reason"] == "unknown run id" and rejected[0]["databricks_run_id"] == "556"
    assert rejected[0]["job_id"] == "987" and rejected[0]["event_type"] == "jobs.on_success"
    assert served.woken() == []


@pytest.mark.integration
def test_a_finished_runs_job_is_unknown(serve: Callable[..., Served], book: RunBook) -> None:
    done = start_run(book, "churn", job_external_id="555")
    finish_run(book, done)
    running = start_run(book, "fraud", job_external_id="600")
    served = serve(token=TOKEN)
    assert served.request(event(555), auth=f"Bearer {TOKEN}")[0] == 404
    status, body, _ = served.request(event(600), auth=f"Bearer {TOKEN}")
    assert status == 202 and body["run_id"] == running
    assert served.woken() == [AdvanceLifecycle()]


# -- bad requests ----------------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize(("body", "content_type", "status", "says"), [
    ("{nope", "application/json", 400, "not valid JSON"),
    (b"\xff\xfe", "application/json", 400, "not valid JSON"),
    ("[1, 2]", "application/json", 400, "not a JSON object"),
    ({"event_type": "jobs.on_success"}, "application/json", 400, "no run.run_id"),
    (event("abc"), "application/json", 400, "no run.run_id"),
    (event(True), "application/json", 400, "no run.run_id"),
    (event(-5), "application/json", 400, "no run.run_id"),
    (event(555), "text/plain", 415, "application/json"),
    (event(555), None, 415, "application/json"),
    (event(555), "application/json; charset=utf-8", 202, None),
    (b"{" + b" " * MAX_BODY + b"}", "application/json", 413, "over 65536 bytes"),
])
def test_malformed_requests_are_refused(
    serve: Callable[..., Served], book: RunBook, body: Any, content_type: str | None, status: int,
    says: str | None,
) -> None:
    start_run(book, "churn", job_external_id="555")
    served = serve(token=TOKEN)
    got, answer, _ = served.request(body, auth=f"Bearer {TOKEN}", content_type=content_type)
    assert got == status, answer
    if says is not None:
        assert says in answer["error"]
        assert served.woken() == []


@pytest.mark.integration
def test_metrics_count_the_webhook_requests_by_outcome(serve: Callable[..., Served], book: RunBook) -> None:
    start_run(book, "churn", job_external_id="555")
    served = serve(token=TOKEN)
    sent = [served.request(event(555), auth=f"Bearer {TOKEN}"),  # accepted
            served.request(event(555), auth=None), served.request(event(555), auth=f"Bearer {TOKEN}x"),
            served.request("{not json", auth=f"Bearer {TOKEN}"), served.request(event(556), auth=f"Bearer {TOKEN}")]
    assert [status for status, _, _ in sent] == [202, 401, 401, 400, 404]
    assert scrape(served.port, "lakewarden_webhook_requests_total", "outcome") == {
        "accepted": 1, "unauthorized": 2, "bad_request": 1, "unknown_run": 1}


def scrape(port: int, name: str, label: str) -> dict[str, float]:
    """``name``'s samples on ``/metrics``, by the value of ``label``."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
    finally:
        conn.close()
    return {s.labels[label]: s.value for f in text_string_to_metric_families(text) for s in f.samples
            if s.name == name}


@pytest.mark.integration
def test_the_body_of_an_unauthenticated_request_is_not_read(serve: Callable[..., Served]) -> None:
    served = serve(token=TOKEN)
    # A length far over the cap and no body at all: refused at once, no waiting for bytes.
    status, _, _ = served.request(b"", auth=None, headers={"Content-Length": str(10 * MAX_BODY)})
    assert status == 401


@pytest.mark.integration
def test_the_probes_and_other_paths_are_unchanged(serve: Callable[..., Served]) -> None:
    served = serve(token=TOKEN)
    status, body, _ = served.request(None, method="GET", path="/healthz", content_type=None)
    assert status == 200 and body["status"] == "ok"
    status, _, headers = served.request(event(1), method="POST", path="/healthz", auth=f"Bearer {TOKEN}")
    assert status == 405 and headers["allow"] == ["GET, HEAD"]
    status, _, _ = served.request(None, method="GET", path=JOBS_PATH, content_type=None)
    assert status == 404


# -- settings ----------------------------------------------------------------------------------------


def test_secrets_load_from_files_and_stay_hidden(tmp_path: Path) -> None:
    (tmp_path / "password").write_text(PASSWORD + "\n", encoding="utf-8")
    (tmp_path / "token").write_text(TOKEN, encoding="utf-8")
    settings = ServiceSettings.model_validate({"webhooks": {
        "username": USER, "password_file": str(tmp_path / "password"), "token_file": str(tmp_path / "token")}})
    hooks = settings.webhooks
    assert hooks.enabled
    assert hooks.password is not None and hooks.password.get_secret_value() == PASSWORD
    assert hooks.token is not None and hooks.token.get_secret_value() == TOKEN
    assert PASSWORD not in repr(settings) and TOKEN not in repr(settings)
    assert not ServiceSettings().webhooks.enabled


@pytest.mark.parametrize(("block", "says"), [
    ({"username": USER}, "needs both username and password"),
    ({"password": PASSWORD}, "needs both username and password"),
    ({"token": "short-secret-15"}, "token is shorter than 16 characters"),
    ({"token": ""}, "token is shorter than 16 characters"),
    ({"username": "a:b", "password": PASSWORD}, "username"),
    ({"token": TOKEN, "token_file": "/nowhere"}, "give either token or token_file"),
    ({"url": "x"}, "Extra inputs are not permitted"),
])
def test_incomplete_or_weak_settings_are_refused(block: dict[str, str], says: str) -> None:
    with pytest.raises(ValidationError) as caught:
        WebhookSettings.model_validate(block)
    assert says in str(caught.value)


def test_a_config_error_names_the_block_but_never_the_secret(tmp_path: Path) -> None:
    config = tmp_path / "lakewarden.yaml"
    config.write_text("""\
service:
  webhooks: {token: short-secret-15}
models:
  - name: churn
    sources: {lakehouse: {table: main.ml.churn}}
route: {receiver: log}
receivers: [{name: log}]
""", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    text = caught.value.render()
    assert "service.webhooks" in text and "token is shorter than 16 characters" in text
    assert "short-secret-15" not in text


# -- in the daemon ----------------------------------------------------------------------------------

DAEMON_CONFIG = """\
engine: {{kind: local_spark, lakehouse_root: {root}/lakehouse}}
workspace: {{kind: local, mlflow_tracking_uri: "sqlite:///{root}/mlflow.db", jobs_dir: {root}/jobs}}
state: {{url: "sqlite:///{root}/state.db"}}
service:
  http: {{host: 127.0.0.1, port: 0}}
  webhooks: {{token_file: {root}/webhook_token}}
  shutdown_deadline: 5s
  log_format: json
models:
  - name: churn
    poll_interval: 1h
    sources: {{lakehouse: {{table: main.ml.churn}}}}
    lifecycle: {{enabled: false, registered_model: main.ml.churn}}
route: {{receiver: log}}
receivers: [{{name: log, file_configs: [{{path: {root}/alerts.jsonl}}]}}]
"""


@pytest.mark.integration
def test_a_notification_to_the_daemon_moves_its_run_without_waiting_for_a_tick(tmp_path: Path) -> None:
    """`lakewarden run` serves the ingress on its HTTP port and handles the AdvanceLifecycle it submits.

    The model's lifecycle is off, so the daemon schedules no lifecycle tick at all: only the
    notification can make it look at the run in flight, which it then ends (``cancelled``: the
    lifecycle was disabled during the run).
    """
    (tmp_path / "webhook_token").write_text(TOKEN, encoding="utf-8")
    config = tmp_path / "lakewarden.yaml"
    config.write_text(DAEMON_CONFIG.format(root=tmp_path), encoding="utf-8")
    store = open_store(f"sqlite:///{tmp_path}/state.db", {"retrain": retrain.MIGRATIONS})
    trigger = Trigger(model="churn", reason="manual: test", severity="low", requested_by="test")
    with store.engine.begin() as conn:
        run_store.insert_run(conn, run_id="r" * 32, trigger=trigger, registered_model="main.ml.churn",
                             key="k", now=T0)
        run = run_store.load_run(conn, "r" * 32)
        assert run is not None
        run_store.update_run(conn, run, T0, state=RunState.RUNNING, external={"job_external_id": "555"})
    book = RunBook(store.engine, {}, lambda: T0)

    with daemon_process(config, tmp_path / "daemon.log") as daemon:
        served = Served(daemon.http_port(), queue.Queue())
        assert served.request(event(556), auth=f"Bearer {TOKEN}")[0] == 404
        assert served.request(event(555), auth=f"Bearer {TOKEN[:-1]}")[0] == 401
        assert book.unfinished() != []
        status, body, _ = served.request(event(555), auth=f"Bearer {TOKEN}")
        assert status == 202 and body["run_id"] == "r" * 32
        wait_for(lambda: not book.unfinished(), 60, "the run to be advanced")
        port = daemon.http_port()
        assert scrape(port, "lakewarden_webhook_requests_total", "outcome") == {
            "unknown_run": 1, "unauthorized": 1, "accepted": 1}
        assert scrape(port, "lakewarden_leases_held", "kind") == {"model": 1, "alerts_flush": 1, "replica": 1}
        code, _ = daemon.signal_and_wait(signal.SIGTERM, 60)
    assert code == 0
    ended = book.get("r" * 32)
    assert ended is not None and ended.state is RunState.CANCELLED
    assert "disabled during the run" in (ended.decision or "")
    assert [e["reason"] for e in daemon.events("webhook_rejected")] == ["unknown run id"]
    assert [e["problem"] for e in daemon.events("webhook_unauthorized")] == ["wrong bearer token"]
    assert TOKEN[:-1] not in daemon.output()
