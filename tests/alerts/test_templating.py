"""Templates: what they see at run time is what the config check renders them against."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from alerts.model import Alert
from alerts.payload import build_payload
from alerts.templating import TemplateFailed, context, render_text
from config import templates
from config.paging import PagerDutyConfig
from config.slack import SlackConfig
from config.smtp import EmailConfig

NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)


def payload() -> dict[str, object]:
    high = Alert({"alertname": "ModelAtRisk", "model": "churn", "severity": "high"},
                 {"summary": "high one", "risk": "70", "findings": "a\nb\n\nc", "window": "w",
                  "runbook_url": "https://r", "dashboard_url": "https://d"}, NOW)
    critical = Alert({"alertname": "ModelAtRisk", "model": "churn", "severity": "critical"},
                     {"summary": "critical one", "risk": "90", "findings": "x"}, NOW)
    old = Alert({"alertname": "ModelAtRisk", "model": "churn", "severity": "critical", "slice": "eu"}, {}, NOW, NOW)
    return build_payload("ops", [high, critical, old], "gk", now=NOW, group_id="g", group_labels={"model": "churn"})


def test_the_run_time_context_has_exactly_the_variables_the_config_check_knows() -> None:
    assert set(context(payload())) == set(templates.SAMPLE_CONTEXT)


def test_the_most_severe_firing_alert_speaks_for_the_group() -> None:
    ctx = context(payload())
    assert (ctx["severity"], ctx["summary"], ctx["risk"], ctx["findings"]) == ("critical", "critical one", "90", ["x"])
    assert (len(ctx["firing"]), len(ctx["resolved"]), ctx["model"]) == (2, 1, "churn")


@pytest.mark.parametrize("template", [templates.DEFAULT_TITLE, templates.DEFAULT_TEXT, templates.DEFAULT_SLACK_TEXT,
                                      templates.DEFAULT_SUMMARY])
def test_defaults_render_for_real_payloads(template: str) -> None:
    assert render_text(template, context(payload())).strip()


def test_default_text_names_model_severity_risk_findings_window_and_links() -> None:
    ctx = context({**payload(), "alerts": payload()["alerts"][:1]})  # type: ignore[index]
    title = render_text(templates.DEFAULT_TITLE, ctx)
    text = render_text(templates.DEFAULT_TEXT, ctx)
    assert title == "[FIRING:1] churn high"
    for words in ("high one", "Risk 70/100", "window w", "- a", "- c", "Runbook: https://r", "Dashboard: https://d"):
        assert words in text


def test_a_run_time_failure_is_an_error_naming_the_field() -> None:
    with pytest.raises(TemplateFailed, match="the title template failed to render"):
        render_text("{{ alerts[5].labels }}", context(payload()), field="title")


@pytest.mark.parametrize(("model", "data", "message"), [
    (SlackConfig, {"api_url": "https://h/x", "title": "{{ status "}, "line 1 of the template"),
    (SlackConfig, {"api_url": "https://h/x", "text": "{{ modle }}"}, "'modle' is undefined"),
    (EmailConfig, {"to": "a@b.c", "from": "l@b.c", "smarthost": "h:587", "html": "{% for x in %}"}, "Jinja2 template"),
    (PagerDutyConfig, {"routing_key": "K" * 32, "description": "{{ risk | nosuchfilter }}"}, "nosuchfilter"),
    (SlackConfig, {"api_url": "https://h/x", "text": "{{ ''.__class__.__mro__ }}"}, "template"),
])
def test_bad_templates_fail_at_config_load(model: type, data: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        model.model_validate(data)
