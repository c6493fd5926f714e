"""Notification templates: Jinja2 text in channel configs, checked when the config loads.

Every templated field (a Slack title, an email subject, a PagerDuty summary, ...) is compiled in a
sandboxed environment with ``StrictUndefined`` and rendered against two sample notifications (a
full firing one and a bare resolved one), so a typo in a variable name or a filter fails at start,
not at 3 a.m. The alerts package renders with the same environment and a context with exactly the
keys of :data:`SAMPLE_CONTEXT` (a test holds the two together).

Variables: ``status`` (firing | resolved | acknowledged), ``kind`` (notification | escalation | test |
meta | acknowledgement), ``reason``, ``receiver``, ``group_key``, ``group_id``, ``group_labels``,
``common_labels``, ``common_annotations``, ``alerts``/``firing``/``resolved`` (lists of ``{status,
labels, annotations, starts_at, ends_at, fingerprint}``), ``alertname``, ``model``, ``env``, ``team``,
``severity``, ``risk``, ``summary``, ``findings`` (list of text), ``window``, ``runbook_url``,
``dashboard_url``, ``escalation`` (``{policy, step, round}`` or none), ``test`` (true for
``lakewarden alerts test``). Text values are "" when the alerts do not carry them.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment
from pydantic import AfterValidator

_LABELS = {"alertname": "ModelAtRisk", "model": "churn", "env": "prod", "severity": "high"}
_ANNOTATIONS = {"summary": "prediction drift on churn", "risk": "72"}
_ALERT: dict[str, Any] = {
    "status": "firing",
    "labels": _LABELS,
    "annotations": _ANNOTATIONS,
    "starts_at": "2025-03-01T12:00:00Z",
    "ends_at": "",
    "fingerprint": "0123456789abcdef",
}

SAMPLE_CONTEXT: dict[str, Any] = {
    "status": "firing",
    "kind": "notification",
    "reason": "first",
    "receiver": "on-call",
    "group_key": '{}/{severity=~"high|critical"}:{model="churn"}',
    "group_id": "0123456789abcdef0123",
    "group_labels": {"model": "churn"},
    "common_labels": dict(_LABELS),
    "common_annotations": dict(_ANNOTATIONS),
    "alerts": [_ALERT],
    "firing": [_ALERT],
    "resolved": [],
    "alertname": "ModelAtRisk",
    "model": "churn",
    "env": "prod",
    "team": "growth-ml",
    "severity": "high",
    "risk": "72",
    "summary": "prediction drift on churn",
    "findings": ["prediction drift: js_distance 0.31 (high)", "tenure_months drift: js_distance 0.25 (medium)"],
    "window": "2025-03-01T11:00:00+00:00 .. 2025-03-01T12:00:00+00:00 (1 hour)",
    "runbook_url": "https://wiki.example.com/runbooks/churn",
    "dashboard_url": "https://dashboards.example.com/churn",
    "escalation": {"policy": "ml-oncall", "step": 1, "round": 1},
    "test": False,
}

_BARE_RESOLVED: dict[str, Any] = {
    **{key: "" for key, value in SAMPLE_CONTEXT.items() if isinstance(value, str)},
    "status": "resolved", "kind": "notification", "reason": "all_resolved", "receiver": "log",
    "group_labels": {}, "common_labels": {"alertname": "x"}, "common_annotations": {},
    "alerts": [{**_ALERT, "status": "resolved", "labels": {"alertname": "x"}, "annotations": {}}],
    "firing": [], "findings": [], "escalation": None, "test": True,
}
_BARE_RESOLVED["resolved"] = _BARE_RESOLVED["alerts"]


@lru_cache(maxsize=2)
def environment(html: bool = False) -> SandboxedEnvironment:
    """The one Jinja2 environment for notification text (HTML-escaping for email bodies)."""
    return SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=html, trim_blocks=True,
                                lstrip_blocks=True)


@lru_cache(maxsize=512)
def compile_template(text: str, html: bool = False) -> jinja2.Template:
    return environment(html).from_string(text)


def render(text: str, context: dict[str, Any], html: bool = False) -> str:
    """Render ``text``; raises ``jinja2.TemplateError`` (syntax, undefined variable, sandbox)."""
    return compile_template(text, html).render(context)


def check_template(text: str, html: bool = False) -> str:
    """Compile and render against the samples; a ``ValueError`` that says what is wrong, else ``text``."""
    try:
        for sample in (SAMPLE_CONTEXT, _BARE_RESOLVED):
            render(text, sample, html)
    except jinja2.TemplateSyntaxError as exc:
        raise ValueError(f"a Jinja2 template; line {exc.lineno} of the template: {exc.message}") from None
    except jinja2.UndefinedError as exc:
        known = ", ".join(sorted(SAMPLE_CONTEXT))
        raise ValueError(f"a template using known variables ({known}); {exc.message}") from None
    except jinja2.TemplateError as exc:
        raise ValueError(f"a template that renders; it failed with: {exc}") from None
    except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
        raise ValueError(f"a template that renders; it failed with {type(exc).__name__}: {exc}") from None
    return text


def _check_html(text: str) -> str:
    return check_template(text, html=True)


TemplateText = Annotated[str, AfterValidator(check_template)]
HtmlTemplateText = Annotated[str, AfterValidator(_check_html)]

# --- defaults: model, severity, risk, top findings, window, runbook and dashboard links ------------

DEFAULT_TITLE = (
    "{{ '[TEST] ' if test else '' }}[{{ status|upper }}{{ ':' ~ (firing|length) if status == 'firing' else '' }}] "
    "{{ model or alertname }}{{ ' ' ~ severity if severity else '' }}"
    "{{ ' (escalation step ' ~ escalation.step ~ ')' if escalation and kind == 'escalation' else '' }}"
)
DEFAULT_TEXT = """\
{{ summary or alertname }}
{% if risk %}Risk {{ risk }}/100{% endif %}{% if window %} | window {{ window }}{% endif %}

{% for finding in findings[:5] %}
- {{ finding }}
{% endfor %}
{% if resolved and status != 'resolved' %}Resolved: {{ resolved|length }} alert(s)
{% endif %}
{% if runbook_url %}Runbook: {{ runbook_url }}
{% endif %}
{% if dashboard_url %}Dashboard: {{ dashboard_url }}
{% endif %}"""
DEFAULT_SLACK_TEXT = """\
{{ summary or alertname }}
{% if risk %}*Risk {{ risk }}/100*{% endif %}{% if window %} · window {{ window }}{% endif %}

{% for finding in findings[:5] %}
• {{ finding }}
{% endfor %}
{% if runbook_url %}<{{ runbook_url }}|Runbook>{% endif %}{% if runbook_url and dashboard_url %} · {% endif %}\
{% if dashboard_url %}<{{ dashboard_url }}|Dashboard>{% endif %}"""
DEFAULT_HTML = """\
<h2>{{ '[TEST] ' if test else '' }}{{ status|upper }}: {{ model or alertname }} {{ severity }}</h2>
<p>{{ summary }}</p>
{% if risk %}<p><b>Risk {{ risk }}/100</b>{% if window %}, window {{ window }}{% endif %}</p>{% endif %}
{% if findings %}<ul>{% for finding in findings[:5] %}<li>{{ finding }}</li>{% endfor %}</ul>{% endif %}
<table>{% for alert in alerts %}<tr><td>{{ alert.status }}</td><td>{% for k, v in alert.labels.items() %}\
{{ k }}={{ v }} {% endfor %}</td><td>since {{ alert.starts_at }}</td></tr>{% endfor %}</table>
<p>{% if runbook_url %}<a href="{{ runbook_url }}">Runbook</a> {% endif %}\
{% if dashboard_url %}<a href="{{ dashboard_url }}">Dashboard</a>{% endif %}</p>"""
DEFAULT_SUMMARY = (
    "{{ '[TEST] ' if test else '' }}{{ model or alertname }}{{ ' ' ~ severity if severity else '' }}: "
    "{{ summary or alertname }}{{ ' (risk ' ~ risk ~ ')' if risk else '' }}"
)
