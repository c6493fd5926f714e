"""monitor.logs: one renderer for structlog and stdlib loggers, secrets never in the output."""

from __future__ import annotations

import io
import json
import logging
import os
import secrets
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import structlog
from pydantic import SecretStr

from monitor.logs import MASK, NOISY_LOGGERS, Redactor, configure_logging, redact_text, register_secret


@pytest.fixture(autouse=True)
def _restore_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """configure_logging() changes process-wide state; put it back after each test."""
    monkeypatch.delenv("MLFLOW_CONFIGURE_LOGGING", raising=False)
    root = logging.getLogger()
    saved_root = (root.level, list(root.handlers))
    libs = {name: logging.getLogger(name) for name in NOISY_LOGGERS}
    saved_libs = {name: (lib.level, list(lib.handlers), lib.propagate) for name, lib in libs.items()}
    yield
    root.handlers[:] = saved_root[1]
    root.setLevel(saved_root[0])
    for name, (level, handlers, propagate) in saved_libs.items():
        lib = logging.getLogger(name)
        lib.handlers[:] = handlers
        lib.setLevel(level)
        lib.propagate = propagate
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


def _secret() -> str:
    return f"tok-{secrets.token_hex(12)}"


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_timestamp_level_logger_event_and_fields() -> None:
    out = io.StringIO()
    configure_logging(stream=out)

    structlog.get_logger("monitor.cycle").info("cycle_done", model="churn", windows=3)

    [line] = _lines(out)
    assert line["event"] == "cycle_done"
    assert line["level"] == "info"
    assert line["logger"] == "monitor.cycle"
    assert (line["model"], line["windows"]) == ("churn", 3)
    stamp = datetime.fromisoformat(line["timestamp"])
    assert stamp.utcoffset() == timedelta(0)


def test_context_vars_are_merged_into_every_line() -> None:
    out = io.StringIO()
    configure_logging(stream=out)
    structlog.contextvars.bind_contextvars(cycle_id="c-42")

    structlog.get_logger("monitor.cycle").info("window_read")
    logging.getLogger("databricks.sdk").warning("slow response")

    assert [line["cycle_id"] for line in _lines(out)] == ["c-42", "c-42"]


def test_stdlib_loggers_go_through_the_same_json_renderer() -> None:
    out = io.StringIO()
    configure_logging(stream=out)

    logging.getLogger("databricks.sdk").warning("retrying %s in %ss", "GET /api/2.1/jobs/get", 2)

    [line] = _lines(out)
    assert line["event"] == "retrying GET /api/2.1/jobs/get in 2s"
    assert line["logger"] == "databricks.sdk"
    assert line["level"] == "warning"
    assert "timestamp" in line


@pytest.mark.parametrize("name", NOISY_LOGGERS)
def test_noisy_libraries_log_warnings_but_not_info(name: str) -> None:
    out = io.StringIO()
    configure_logging(level="debug", stream=out)

    logging.getLogger(f"{name}.inner").info("chatter")
    logging.getLogger(f"{name}.inner").warning("worth seeing")

    assert [line["event"] for line in _lines(out)] == ["worth seeing"]


def test_a_library_logging_info_on_the_root_logger_is_quiet_but_its_warnings_and_ours_are_not() -> None:
    """py4j logs a traceback at info on the root logger whenever the JVM goes away (every shutdown
    during a query); its own logger's level cannot reach that line."""
    out = io.StringIO()
    configure_logging(level="debug", stream=out)
    root = logging.getLogger()

    def emit(level: int, message: str, pathname: str) -> None:
        root.handle(root.makeRecord("root", level, pathname, 1, message, (), None))

    py4j_file = os.path.join(os.sep, "venv", "site-packages", "py4j", "java_gateway.py")
    emit(logging.INFO, "Exception while sending command.", py4j_file)
    emit(logging.WARNING, "py4j warning", py4j_file)
    emit(logging.INFO, "a root line of someone else", os.path.join(os.sep, "app", "job.py"))

    assert [line["event"] for line in _lines(out)] == ["py4j warning", "a root line of someone else"]


def test_level_filters_our_own_loggers() -> None:
    out = io.StringIO()
    configure_logging(level="warning", stream=out)
    log = structlog.get_logger("monitor.x")

    log.info("hidden")
    log.warning("shown")

    assert [line["event"] for line in _lines(out)] == ["shown"]


def test_unknown_level_is_an_error_that_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="debug, info, warning"):
        configure_logging(level="verbose", stream=io.StringIO())


def test_configuring_twice_does_not_duplicate_lines() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging(stream=first)
    configure_logging(stream=second)

    structlog.get_logger("monitor.x").info("once")

    assert first.getvalue() == ""
    assert [line["event"] for line in _lines(second)] == ["once"]


def test_mlflow_handlers_are_replaced_and_mlflow_told_not_to_install_them() -> None:
    out, stray = io.StringIO(), io.StringIO()
    mlflow_logger = logging.getLogger("mlflow")
    mlflow_logger.addHandler(logging.StreamHandler(stray))
    mlflow_logger.propagate = False

    configure_logging(stream=out)
    mlflow_logger.warning("registry slow")

    assert stray.getvalue() == ""
    assert [line["logger"] for line in _lines(out)] == ["mlflow"]
    assert os.environ["MLFLOW_CONFIGURE_LOGGING"] == "false"


def test_console_format_on_a_non_terminal_has_no_colour_codes() -> None:
    out = io.StringIO()
    configure_logging(fmt="console", stream=out)

    structlog.get_logger("monitor.x").info("started", port=8080)

    text = out.getvalue()
    assert "started" in text
    assert "port=8080" in text
    assert "\x1b[" not in text
    assert not text.lstrip().startswith("{")


def test_registered_secret_is_masked_in_fields_messages_and_tracebacks() -> None:
    token = _secret()
    register_secret(token)
    out = io.StringIO()
    configure_logging(stream=out)
    log = structlog.get_logger("monitor.x")

    log.info("calling", detail=f"Bearer {token}", nested={"note": [f"x{token}y"]})
    logging.getLogger("databricks.sdk").error("401 for token %s", token)
    try:
        raise PermissionError(f"invalid access token {token}")
    except PermissionError:
        log.exception("poll_failed")
        logging.getLogger("apscheduler").error("job raised", exc_info=True)

    text = out.getvalue()
    assert token not in text
    lines = _lines(out)
    assert lines[0]["detail"] == f"Bearer {MASK}"
    assert lines[0]["nested"] == {"note": [f"x{MASK}y"]}
    assert lines[1]["event"] == f"401 for token {MASK}"
    assert all(f"invalid access token {MASK}" in line["exception"] for line in lines[2:])


def test_registered_secret_is_masked_in_console_format_tracebacks() -> None:
    token = _secret()
    register_secret(SecretStr(token))
    out = io.StringIO()
    configure_logging(fmt="console", stream=out)

    try:
        raise RuntimeError(f"bad {token}")
    except RuntimeError:
        structlog.get_logger("monitor.x").exception("failed")

    assert token not in out.getvalue()
    assert f"bad {MASK}" in out.getvalue()


def test_secretstr_values_render_masked() -> None:
    out = io.StringIO()
    configure_logging(stream=out)

    structlog.get_logger("monitor.x").info("settings", smtp=SecretStr("p4ss-w0rd-xyz"))

    [line] = _lines(out)
    assert line["smtp"] == MASK
    assert "p4ss-w0rd-xyz" not in out.getvalue()


def test_secret_named_fields_are_masked_but_where_they_live_is_not() -> None:
    out = io.StringIO()
    configure_logging(stream=out)

    structlog.get_logger("monitor.x").info(
        "channel",
        token="xoxb-1",
        routing_key="R0UTING",
        Authorization="Bearer abc",
        slack_webhook_url="https://hooks.slack.com/services/T/B/X",
        headers={"X-Api-Key": "k"},
        token_file="/run/secrets/slack",
        dedup_key="churn/high",
    )

    [line] = _lines(out)
    for key in ("token", "routing_key", "Authorization", "slack_webhook_url"):
        assert line[key] == MASK, key
    assert line["headers"] == {"X-Api-Key": MASK}
    assert line["token_file"] == "/run/secrets/slack"
    assert line["dedup_key"] == "churn/high"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://user:pw@db.example.com:5432/x", f"https://{MASK}@db.example.com:5432/x"),
        ("GET https://h/x?token=abc&page=2", f"GET https://h/x?token={MASK}&page=2"),
        (
            "https://t.logic.azure.com/invoke?api-version=1&sig=S1G",
            f"https://t.logic.azure.com/invoke?api-version=1&sig={MASK}",
        ),
        (
            "s3://b/k?X-Amz-Signature=ff&X-Amz-Credential=c",
            f"s3://b/k?X-Amz-Signature={MASK}&X-Amz-Credential={MASK}",
        ),
        ("plain text, no url", "plain text, no url"),
        ("https://example.com/path?page=2", "https://example.com/path?page=2"),
    ],
)
def test_url_credentials_are_masked_in_any_string(text: str, expected: str) -> None:
    assert Redactor().text(text) == expected


def test_a_registered_url_is_also_masked_when_only_its_path_is_printed() -> None:
    redactor = Redactor()
    redactor.register("https://hooks.slack.com/services/T0001/B0002/abcdefSECRET")

    shown = redactor.text("Max retries exceeded with url: /services/T0001/B0002/abcdefSECRET")

    assert "abcdefSECRET" not in shown


def test_objects_of_other_types_are_masked_through_their_repr() -> None:
    token = _secret()
    redactor = Redactor(secrets=[token])

    event = redactor(None, "info", {"event": "x", "error": ValueError(f"got {token}"), "n": 1.5})

    assert event["error"] == f"ValueError('got {MASK}')"
    assert event["n"] == 1.5


def test_empty_secrets_are_ignored() -> None:
    redactor = Redactor(secrets=[""])
    redactor.register(None)

    assert redactor.text("nothing hidden") == "nothing hidden"


def test_redact_text_uses_the_registered_secrets() -> None:
    token = _secret()
    register_secret(token)

    assert redact_text(f"table not found (token {token})") == f"table not found (token {MASK})"


def test_capture_logs_sees_events_from_module_level_loggers() -> None:
    configure_logging(stream=io.StringIO())
    log = structlog.get_logger("monitor.module_level")
    log.info("before")  # used once before capturing: must not pin the old processors

    with structlog.testing.capture_logs() as captured:
        log.info("during", model="churn")

    assert captured == [{"event": "during", "model": "churn", "log_level": "info"}]


def test_other_root_handlers_receive_structlog_events_already_redacted() -> None:
    token = _secret()
    register_secret(token)
    seen: list[logging.LogRecord] = []

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    configure_logging(stream=io.StringIO())
    logging.getLogger().addHandler(_Collect())

    structlog.get_logger("monitor.x").warning("sent", detail=f"with {token}", password="pw")

    assert token not in str(seen[0].msg)
    assert "'pw'" not in str(seen[0].msg)
