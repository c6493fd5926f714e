"""monitor.web over a real uvicorn server on 127.0.0.1 and a seeded SQLite state: /metrics, /api/v1, the
Alertmanager API v2 (also driven by the real ``amtool`` where installed), limits and bad input.

One server for the module (the tests that write make their own silences and runs, and expire them).
"""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bench.web_world import World, _risk, seed, settings_for
from config.basics.clock import utc_now
from monitor.app import open_state
from monitor.health import Health
from monitor.web import WebServer, WebState, build_app

TOKEN = "api-token-5d1c9e7b3a2f4e60"
HOURS = 48
pytestmark = pytest.mark.integration


@dataclass
class Served:
    port: int
    world: World
    state: WebState
    tmp: Path

    def call(self, method: str, path: str, body: Any = None, *, token: str | None = None,
             raw: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, Any, dict[str, str]]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            sent = {"Content-Type": "application/json", **(headers or {})}
            if token is not None:
                sent["Authorization"] = f"Bearer {token}"
            data = raw if raw is not None else None if body is None else json.dumps(body).encode()
            conn.request(method, path, body=data, headers=sent)
            response = conn.getresponse()
            text = response.read()
            kind = response.getheader("Content-Type") or ""
            parsed = json.loads(text) if text and "json" in kind else text.decode()
            return response.status, parsed, {k.lower(): v for k, v in response.getheaders()}
        finally:
            conn.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("web")
    settings = settings_for(3, f"sqlite:///{tmp}/state.db", api_token=TOKEN, header_timeout="1s")
    store = open_state(settings)
    world = seed(settings, store.engine, utc_now, hours=HOURS)
    state = WebState.build(settings, store.engine, utc_now)
    health = Health()
    health.set_started()
    http = settings.service.http
    server = WebServer("127.0.0.1", 0, build_app(health, state=state, http=http),
                       header_timeout=http.header_timeout.total_seconds())
    server.start()
    yield Served(server.port, world, state, tmp)
    server.stop()
    store.close()


# -- /metrics ----------------------------------------------------------------------------------------


def test_metrics_follow_prometheus_naming_and_read_the_state(served: Served) -> None:
    status, text, headers = served.call("GET", "/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name in ("lakewarden_build_info", "lakewarden_poll_cycles", "lakewarden_poll_cycle_duration_seconds",
                 "lakewarden_windows_judged", "lakewarden_newest_window_age_seconds", "lakewarden_findings",
                 "lakewarden_model_risk", "lakewarden_model_severity", "lakewarden_alerts_firing",
                 "lakewarden_alert_decisions", "lakewarden_notifications", "lakewarden_outbox_rows",
                 "lakewarden_outbox_oldest_pending_age_seconds", "lakewarden_notification_delivery_seconds",
                 "lakewarden_lifecycle_runs", "lakewarden_webhook_requests", "lakewarden_polls_skipped"):
        assert name in families, name
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families.values() for s in f.samples}
    assert samples[("lakewarden_model_risk", (("model", "m001"),))] == _risk(1, HOURS - 1)
    assert samples[("lakewarden_windows_judged_total", (("model", "m002"),))] == HOURS
    assert samples[("lakewarden_outbox_rows", (("state", "pending"),))] == 2
    assert samples[("lakewarden_outbox_rows", (("state", "dead"),))] == 1
    assert samples[("lakewarden_lifecycle_runs", (("state", "pending"), ("step", "retrain")))] == 1
    assert samples[("lakewarden_alerts_firing", (("severity", "critical"),))] == 1
    age = samples[("lakewarden_newest_window_age_seconds", (("model", "m000"), ("source", "lakehouse")))]
    assert 0 <= age < 3600 + 60
    labels = {k for f in families.values() for s in f.samples for k in s.labels}
    assert labels <= {"model", "source", "severity", "receiver", "channel", "outcome", "reason", "state", "step",
                      "version", "python", "le"}  # nothing per window, fingerprint or id


# -- /api/v1 --------------------------------------------------------------------------------------


def test_models_history_and_their_errors(served: Served) -> None:
    status, models, _ = served.call("GET", "/api/v1/models")
    assert status == 200 and [m["model"] for m in models] == ["m000", "m001", "m002"]
    status, detail, _ = served.call("GET", "/api/v1/models/m000")
    assert status == 200 and detail["firing_alerts"] == 2 and detail["lifecycle"] == "pending: retrain"
    [latest] = detail["latest"]
    assert latest["explain"].startswith("m000  lakehouse:main.ml.m000  window")
    until = latest["window_end"]
    status, history, _ = served.call("GET", f"/api/v1/models/m000/assessments?until={until}&since="
                                     + (utc_now() - timedelta(hours=10)).isoformat().replace("+00:00", "Z"))
    assert status == 200 and 9 <= len(history["assessments"]) <= 11
    assert history["assessments"][0]["window_end"] < history["assessments"][-1]["window_end"]
    assert all("findings" in a for a in history["assessments"])
    status, error, headers = served.call("GET", "/api/v1/models/nope")
    assert (status, headers["content-type"]) == (404, "application/json") and "unknown model 'nope'" in error["error"]
    status, error, _ = served.call("GET", "/api/v1/models/m000/assessments?since=yesterday")
    assert status == 400 and error["error"].startswith("since:")


def test_writes_need_the_token_and_never_echo_it(served: Served) -> None:
    body = {"matchers": ['model="m002"'], "duration": "1h", "created_by": "ana", "comment": "maintenance"}
    for token in (None, "wrong-" + TOKEN[:10], TOKEN[:-1]):
        status, error, headers = served.call("POST", "/api/v1/silences", body, token=token)
        assert status == 401 and headers["www-authenticate"].startswith("Bearer")
        assert TOKEN[:6] not in json.dumps(error) and "wrong-" not in json.dumps(error)
    status, error, _ = served.call("POST", "/api/v1/silences", {**body, "matchers": []}, token=TOKEN)
    assert status == 400 and error["error"].startswith("matchers:")
    status, error, _ = served.call("POST", "/api/v1/silences", {**body, "created_by": ""}, token=TOKEN)
    assert status == 400 and error["error"].startswith("created_by:")
    status, error, _ = served.call("POST", "/api/v1/silences", {**body, "matchers": ["model"]}, token=TOKEN)
    assert status == 400 and error["error"].startswith("matchers[0]:")
    status, created, _ = served.call("POST", "/api/v1/silences", body, token=TOKEN)
    assert status == 201 and created["state"] == "active" and created["matchers"] == ['model="m002"']
    status, alerts, _ = served.call("GET", "/api/v1/alerts?filter=model%3D%22m002%22")
    assert status == 200 and alerts[0]["status"]["silencedBy"] == [created["id"]]
    status, expired, _ = served.call("DELETE", f"/api/v1/silences/{created['id']}", token=TOKEN)
    assert status == 200 and expired["state"] == "expired"
    assert served.call("DELETE", "/api/v1/silences/00000000-no", token=TOKEN)[0] == 404


def test_limits_on_bodies(served: Served) -> None:
    deep = b'{"a":' * 40 + b"1" + b"}" * 40
    status, error, _ = served.call("POST", "/api/v1/silences", raw=deep, token=TOKEN)
    assert status == 400 and "nested deeper than 32" in error["error"]
    status, error, _ = served.call("POST", "/api/v1/silences", raw=b"[" * 100_000, token=TOKEN)
    assert status == 400  # far deeper than Python's recursion limit: still a 400, not a 500
    big = json.dumps({"comment": "x" * (1024 * 1024 + 10)}).encode()
    status, error, _ = served.call("POST", "/api/v1/silences", raw=big, token=TOKEN)
    assert status == 413 and "over 1048576 bytes" in error["error"]


def test_clients_that_do_not_finish_their_headers_are_cut_off(served: Served) -> None:
    slow = [socket.create_connection(("127.0.0.1", served.port), timeout=10) for _ in range(20)]
    try:
        for sock in slow:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        started = time.monotonic()
        assert served.call("GET", "/healthz")[0] == 200  # others are served meanwhile
        for sock in slow:
            assert sock.recv(1024) == b""  # closed by the server after header_timeout (1 s here)
        assert time.monotonic() - started < 5
    finally:
        for sock in slow:
            sock.close()


def test_lifecycle_runs_with_their_audit_trail(served: Served) -> None:
    run_id = served.world.run_id
    status, runs, _ = served.call("GET", "/api/v1/lifecycle/runs?model=m000")
    assert status == 200 and [r["run_id"] for r in runs] == [run_id]
    status, answer, _ = served.call("POST", "/api/v1/lifecycle/runs",
                                    {"model": "m000", "reason": "try", "requested_by": "ana"}, token=TOKEN)
    assert status == 409 and answer["started"] is False and answer["run_id"] == run_id
    status, error, _ = served.call("POST", "/api/v1/lifecycle/runs", {"model": "zzz", "reason": "x",
                                                                      "requested_by": "ana"}, token=TOKEN)
    assert status == 404 and "unknown model 'zzz'" in error["error"]
    status, run, _ = served.call("POST", f"/api/v1/lifecycle/runs/{run_id}/cancel",
                                 {"reason": "wrong data", "requested_by": "ana"}, token=TOKEN)
    assert status == 200 and run["cancel_requested"].startswith("wrong data")
    status, run, _ = served.call("GET", f"/api/v1/lifecycle/runs/{run_id}")
    assert status == 200 and run["audit"][-1]["kind"] == "cancel" and "ana" in run["audit"][-1]["message"]
    assert served.call("GET", "/api/v1/lifecycle/runs/nope")[0] == 404


def test_outbox_summary_dead_letters_and_the_openapi_document(served: Served) -> None:
    status, outbox, _ = served.call("GET", "/api/v1/outbox")
    assert status == 200 and outbox["by_state"]["pending"] == 2 and outbox["by_state"]["dead"] == 1
    status, dead, _ = served.call("GET", "/api/v1/outbox/dead")
    assert status == 200 and [d["last_error"] for d in dead] == ["HTTP 410 from the webhook: gone"]
    status, spec, _ = served.call("GET", "/api/v1/openapi.json")
    assert status == 200 and spec["openapi"].startswith("3.")
    assert "/api/v1/lifecycle/runs/{run_id}/cancel" in spec["paths"]


# -- /api/v2 (Alertmanager) ----------------------------------------------------------------------


def test_alertmanager_shapes(served: Served) -> None:
    status, alerts, _ = served.call("GET", "/api/v2/alerts")
    assert status == 200
    for alert in alerts:
        assert set(alert) >= {"labels", "annotations", "receivers", "fingerprint", "startsAt", "updatedAt", "endsAt",
                              "status"}
        assert set(alert["status"]) == {"state", "silencedBy", "inhibitedBy", "mutedBy"}
    by_key = {(a["labels"]["model"], a["labels"]["severity"]): a for a in alerts}
    critical, inhibited = by_key[("m000", "critical")], by_key[("m000", "high")]
    assert critical["receivers"] == [{"name": "pager"}, {"name": "ops"}] and critical["status"]["state"] == "active"
    assert inhibited["status"] == {"state": "suppressed", "silencedBy": [], "inhibitedBy": [critical["fingerprint"]],
                                   "mutedBy": []}
    assert by_key[("m001", "high")]["status"]["silencedBy"] == [served.world.silence_id]
    status, active, _ = served.call("GET", "/api/v2/alerts?silenced=false&inhibited=false")
    assert {(a["labels"]["model"], a["labels"]["severity"]) for a in active} == {("m000", "critical"),
                                                                                  ("m002", "medium")}
    status, error, _ = served.call("GET", "/api/v2/alerts?filter=model")
    assert status == 400 and "filter 'model' is not a valid matcher" in error  # a bare string, as Alertmanager
    status, groups, _ = served.call("GET", "/api/v2/alerts/groups")
    assert status == 200 and {g["receiver"]["name"] for g in groups} == {"ops", "pager"}
    assert all(set(g) == {"labels", "routeLabels", "receiver", "alerts"} for g in groups)
    status, am, _ = served.call("GET", "/api/v2/status")
    assert status == 200 and am["cluster"]["status"] == "disabled" and "receivers" in am["config"]["original"]
    assert served.call("GET", "/api/v2/receivers")[1] == [{"name": "ops"}, {"name": "pager"}]
    status, silence, _ = served.call("GET", f"/api/v2/silence/{served.world.silence_id}")
    assert status == 200 and silence["matchers"] == [{"name": "model", "value": "m001", "isRegex": False,
                                                       "isEqual": True}]
    status, error, _ = served.call("POST", "/api/v2/silences", {"matchers": [{"name": "model", "value": "x"}],
                                                                 "endsAt": "2099-01-01T00:00:00Z",
                                                                 "createdBy": "a", "comment": "c"}, token=TOKEN)
    assert status == 400 and error.startswith("matchers[0].isRegex")


def test_receiver_regex_filters_alerts_and_the_groups_of_that_receiver(served: Served) -> None:
    status, alerts, _ = served.call("GET", "/api/v2/alerts?receiver=pag.*")  # anchored: the whole name
    assert status == 200 and [(a["labels"]["model"], a["labels"]["severity"]) for a in alerts] == [("m000", "critical")]
    assert alerts[0]["receivers"] == [{"name": "pager"}, {"name": "ops"}]  # every receiver its routes notify
    assert served.call("GET", "/api/v2/alerts?receiver=pag")[1] == []
    status, groups, _ = served.call("GET", "/api/v2/alerts/groups?receiver=pager")
    assert status == 200 and [(g["receiver"]["name"], g["labels"], g["routeLabels"]) for g in groups] == [
        ("pager", {"model": "m000"}, {})]  # not the ops group the same alert is also in
    assert [a["receivers"] for a in groups[0]["alerts"]] == [[{"name": "pager"}, {"name": "ops"}]]
    status, groups, _ = served.call("GET", "/api/v2/alerts/groups?receiver=op.")
    assert status == 200 and {g["receiver"]["name"] for g in groups} == {"ops"}
    assert {"model": "m000", "severity": "critical"} in [g["labels"] for g in groups]
    for path in ("/api/v2/alerts?receiver=%5B", "/api/v2/alerts/groups?receiver=%28%3F%3Dx%29"):
        status, error, headers = served.call("GET", path)
        assert status == 400 and headers["content-type"] == "application/json", path
        assert isinstance(error, str) and "is not a valid regular expression" in error, error


@pytest.fixture(scope="module")
def amtool(served: Served) -> list[str]:
    binary = shutil.which("amtool")
    if binary is None:
        pytest.skip("amtool is not installed (Debian: apt-get install prometheus-alertmanager); .ci/run installs it")
    config = served.tmp / "amtool-http.yml"
    config.write_text(f"authorization:\n  credentials: {TOKEN}\n", encoding="utf-8")
    return [binary, f"--alertmanager.url=http://127.0.0.1:{served.port}", f"--http.config.file={config}",
            "--no-version-check"]


def run(command: list[str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_amtool_queries_alerts_and_adds_queries_and_expires_silences(served: Served, amtool: list[str]) -> None:
    listed = json.loads(run([*amtool, "-o", "json", "alert", "query", "severity=critical"]))
    assert [a["labels"]["model"] for a in listed] == ["m000"]
    active = json.loads(run([*amtool, "-o", "json", "alert", "query"]))  # amtool asks for active ones only
    assert {(a["labels"]["model"], a["labels"]["severity"]) for a in active} == {("m000", "critical"),
                                                                                  ("m002", "medium")}
    suppressed = json.loads(run([*amtool, "-o", "json", "alert", "query", "--silenced", "--inhibited"]))
    assert {(a["labels"]["model"], a["status"]["state"]) for a in suppressed} == {("m000", "suppressed"),
                                                                                   ("m001", "suppressed")}
    silence_id = run([*amtool, "silence", "add", "model=m002", "severity=~med.*", "-a", "ana", "-c", "amtool test",
                      "-d", "30m"]).strip()
    found = json.loads(run([*amtool, "-o", "json", "silence", "query", "model=m002"]))
    assert [s["id"] for s in found] == [silence_id]
    assert found[0]["matchers"][1] == {"name": "severity", "value": "med.*", "isRegex": True, "isEqual": True}
    run([*amtool, "silence", "expire", silence_id])
    assert served.state.silences.get(silence_id).state(utc_now()).value == "expired"


def test_amtool_filters_by_receiver_and_prints_why_a_bad_regex_is_refused(served: Served, amtool: list[str]) -> None:
    listed = json.loads(run([*amtool, "-o", "json", "alert", "query", "--receiver", "pager"]))
    assert [(a["labels"]["model"], a["labels"]["severity"]) for a in listed] == [("m000", "critical")]
    # amtool sends the regex as it is and prints the 400's body, which it decodes as a JSON string
    done = subprocess.run([*amtool, "alert", "query", "--receiver", "["], capture_output=True, text=True, timeout=30,
                          check=False)
    assert done.returncode == 1 and done.stdout == ""
    assert "[400]" in done.stderr and "receiver '[' is not a valid regular expression" in done.stderr, done.stderr
