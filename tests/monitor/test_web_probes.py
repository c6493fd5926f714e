"""monitor.web: the probes over a real server on 127.0.0.1, and the Health state behind them."""

from __future__ import annotations

import http.client
import json
import secrets
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import structlog

from config.basics.clock import SimulatedClock
from monitor.health import Health
from monitor.logs import MASK, register_secret
from monitor.web import WebServer, build_app

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


class _Fixed:
    """A HealthSource with set answers, or one that raises."""

    def __init__(
        self,
        live: tuple[bool, dict[str, Any]] = (True, {}),
        ready: tuple[bool, dict[str, Any]] = (True, {}),
        error: Exception | None = None,
    ) -> None:
        self.live, self.ready, self.error = live, ready, error

    def liveness(self) -> tuple[bool, dict[str, Any]]:
        if self.error is not None:
            raise self.error
        return self.live

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        if self.error is not None:
            raise self.error
        return self.ready


def _get(url: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, method=method)  # noqa: S310 (http://127.0.0.1 only)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (as above)
            return response.status, {k.title(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, {k.title(): v for k, v in exc.headers.items()}, exc.read()


@pytest.fixture
def serve() -> Iterator[Any]:
    """Start a WebServer on a free port for a given source; stopped after the test."""
    started: list[WebServer] = []

    def _start(source: Any) -> str:
        server = WebServer("127.0.0.1", 0, build_app(source))
        server.start()
        started.append(server)
        return f"http://127.0.0.1:{server.port}"

    yield _start
    for server in started:
        server.stop()


# --- the server -------------------------------------------------------------------------------


@pytest.mark.integration
def test_healthz_is_200_with_the_details_when_live(serve: Any) -> None:
    base = serve(_Fixed(live=(True, {"phase": "running"})))

    status, headers, body = _get(f"{base}/healthz")

    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"status": "ok", "phase": "running"}


@pytest.mark.integration
def test_healthz_is_503_when_not_live(serve: Any) -> None:
    base = serve(_Fixed(live=(False, {"reason": "scheduler thread died"})))

    status, _, body = _get(f"{base}/healthz")

    assert status == 503
    assert json.loads(body) == {"status": "unavailable", "reason": "scheduler thread died"}


@pytest.mark.integration
@pytest.mark.parametrize(("ready", "code"), [(True, 200), (False, 503)])
def test_readyz_status_code_follows_readiness_and_the_details_are_the_body(
    serve: Any, ready: bool, code: int
) -> None:
    details = {"status": "degraded", "models": {"churn": {"ok": False, "error": "no table"}}}
    base = serve(_Fixed(ready=(ready, details)))

    status, _, body = _get(f"{base}/readyz?verbose=1")

    assert status == code
    assert json.loads(body) == details


@pytest.mark.integration
def test_unknown_path_is_a_json_404(serve: Any) -> None:
    base = serve(_Fixed())

    status, headers, body = _get(f"{base}/metrics/nope")

    assert status == 404
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"error": "not found"}


@pytest.mark.integration
def test_head_answers_the_status_and_length_without_a_body(serve: Any) -> None:
    base = serve(_Fixed(ready=(False, {"status": "starting"})))

    status, headers, body = _get(f"{base}/readyz", method="HEAD")

    assert status == 503
    assert body == b""
    assert int(headers["Content-Length"]) == len(json.dumps({"status": "starting"}))


@pytest.mark.integration
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_other_methods_are_405_with_allow(serve: Any, method: str) -> None:
    base = serve(_Fixed())

    status, headers, body = _get(f"{base}/healthz", method=method)

    assert status == 405
    assert headers["Allow"] == "GET, HEAD"
    assert json.loads(body) == {"error": "method not allowed"}


@pytest.mark.integration
def test_unknown_methods_get_a_json_error_not_html(serve: Any) -> None:
    base = serve(_Fixed())
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        connection.request("BREW", "/healthz")
        response = connection.getresponse()
        status, content_type, body = response.status, response.getheader("Content-Type"), response.read()
    finally:
        connection.close()

    assert status == 501
    assert content_type == "application/json"
    assert "error" in json.loads(body)


@pytest.mark.integration
def test_a_probe_that_raises_is_a_500_and_is_logged(serve: Any) -> None:
    base = serve(_Fixed(error=RuntimeError("lock poisoned")))

    with structlog.testing.capture_logs() as captured:
        status, _, body = _get(f"{base}/readyz")

    assert status == 500
    assert json.loads(body) == {"status": "error", "error": "RuntimeError"}
    [failure] = [e for e in captured if e["event"] == "health_probe_failed"]
    assert failure["path"] == "/readyz"


@pytest.mark.integration
def test_requests_are_logged_through_structlog_at_debug(
    serve: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    base = serve(_Fixed())

    with structlog.testing.capture_logs() as captured:
        _get(f"{base}/healthz?x=1")
        _get(f"{base}/missing")

    requests = [e for e in captured if e["event"] == "http_request"]
    assert [(e["method"], e["path"], e["status"], e["log_level"]) for e in requests] == [
        ("GET", "/healthz", 200, "debug"),
        ("GET", "/missing", 404, "debug"),
    ]
    assert "GET /healthz" not in capsys.readouterr().err  # no stdlib access log on stderr


@pytest.mark.integration
def test_port_zero_reports_the_bound_port_and_stop_closes_it() -> None:
    server = WebServer("127.0.0.1", 0, build_app(_Fixed()))
    assert server.port == 0
    server.start()
    port = server.port
    assert port > 0
    assert _get(f"http://127.0.0.1:{port}/healthz")[0] == 200

    server.stop()
    server.stop()  # a second stop is a no-op

    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)


@pytest.mark.integration
def test_a_port_in_use_is_an_error_that_names_the_address(serve: Any) -> None:
    taken = int(serve(_Fixed()).rsplit(":", 1)[1])

    with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{taken}"):
        WebServer("127.0.0.1", taken, build_app(_Fixed())).start()


@pytest.mark.integration
def test_starting_twice_is_an_error(serve: Any) -> None:
    server = WebServer("127.0.0.1", 0, build_app(_Fixed()))
    server.start()
    try:
        with pytest.raises(RuntimeError, match="already started"):
            server.start()
    finally:
        server.stop()


@pytest.mark.integration
def test_the_real_health_over_http_shows_a_broken_model_as_degraded_but_ready(serve: Any) -> None:
    health = Health(clock=SimulatedClock(T0))
    base = serve(health)
    assert _get(f"{base}/readyz")[0] == 503  # not started yet

    health.set_started()
    health.model_ok("fraud")
    health.model_failed("churn", "table main.ml.x does not exist")
    status, _, body = _get(f"{base}/readyz")

    assert status == 200
    assert json.loads(body) == {
        "status": "degraded",
        "phase": "running",
        "models": {
            "churn": {"ok": False, "error": "table main.ml.x does not exist", "checked_at": T0.isoformat()},
            "fraud": {"ok": True, "checked_at": T0.isoformat()},
        },
    }


# --- Health -----------------------------------------------------------------------------------


def test_health_is_live_but_not_ready_before_start() -> None:
    health = Health(clock=SimulatedClock(T0))

    assert health.liveness() == (True, {"status": "ok", "phase": "starting"})
    assert health.readiness() == (False, {"status": "starting", "phase": "starting", "models": {}})


def test_health_is_ready_and_ok_once_started_with_healthy_models() -> None:
    health = Health(clock=SimulatedClock(T0))
    health.set_started()
    health.model_ok("churn")

    ready, details = health.readiness()

    assert ready
    assert details["status"] == "ok"
    assert details["models"] == {"churn": {"ok": True, "checked_at": T0.isoformat()}}


def test_a_model_that_recovers_clears_its_error() -> None:
    health = Health(clock=SimulatedClock(T0))
    health.set_started()
    health.model_failed("churn", "timeout")
    health.model_ok("churn")

    assert health.readiness()[1]["status"] == "ok"
    assert "error" not in health.readiness()[1]["models"]["churn"]


def test_stopping_is_unready_but_still_live() -> None:
    health = Health(clock=SimulatedClock(T0))
    health.set_started()
    health.set_stopping()

    assert health.readiness()[0] is False
    assert health.readiness()[1]["status"] == "stopping"
    assert health.liveness() == (True, {"status": "ok", "phase": "stopping"})


def test_model_errors_are_redacted_and_shortened() -> None:
    token = f"dapi{secrets.token_hex(16)}"
    register_secret(token)
    health = Health(clock=SimulatedClock(T0))

    health.model_failed("churn", f"403 for token {token}")
    health.model_failed("fraud", "x" * 5000)
    models = health.readiness()[1]["models"]

    assert models["churn"]["error"] == f"403 for token {MASK}"
    assert len(models["fraud"]["error"]) == 500


def test_details_are_a_snapshot_not_a_live_view() -> None:
    health = Health(clock=SimulatedClock(T0))
    health.model_ok("churn")
    details = health.readiness()[1]

    details["models"]["churn"]["ok"] = False

    assert health.readiness()[1]["models"]["churn"]["ok"] is True


def test_concurrent_updates_and_reads_stay_consistent() -> None:
    health = Health(clock=SimulatedClock(T0))
    health.set_started()
    names = [f"model{i}" for i in range(20)]
    errors: list[BaseException] = []

    def writer(fail: bool) -> None:
        for _ in range(200):
            for name in names:
                if fail:
                    health.model_failed(name, "boom")
                else:
                    health.model_ok(name)

    def reader() -> None:
        try:
            for _ in range(500):
                _, details = health.readiness()
                json.dumps(details)  # a dict changed during iteration would raise here or above
        except BaseException as exc:
            errors.append(exc)
            raise

    threads = [threading.Thread(target=writer, args=(i % 2 == 0,)) for i in range(4)]
    threads += [threading.Thread(target=reader) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(health.readiness()[1]["models"]) == sorted(names)
