"""monitor.web pieces without a server: the metrics registry and its text format, the JSON depth check, the chart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from monitor.health import Health
from monitor.web.bodies import depth, parse_json
from monitor.web.errors import ApiError
from monitor.web.exposition import render
from monitor.web.metrics import Metrics
from monitor.web.status.svg import Series, line_chart


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(text) for s in f.samples}


def test_poll_cycles_and_webhook_requests_are_counted_in_process_and_rendered() -> None:
    health = Health()
    metrics = Metrics(health=health)
    metrics.on_cycle({"duration_s": 1.5})
    metrics.on_cycle({"duration_s": 40.0})
    metrics.webhook_requests.labels(outcome='say "hi"\\\n').inc()
    found = samples(render(metrics.registry).decode())
    assert found[("lakewarden_poll_cycles_total", ())] == 2
    assert found[("lakewarden_poll_cycle_duration_seconds_sum", ())] == 41.5
    assert found[("lakewarden_poll_cycle_duration_seconds_bucket", (("le", "2.5"),))] == 1
    assert found[("lakewarden_webhook_requests_total", (("outcome", 'say "hi"\\\n'),))] == 1  # escaped, read back
    assert found[("lakewarden_ready", ())] == 0  # not started
    health.set_started()
    assert samples(render(metrics.registry).decode())[("lakewarden_ready", ())] == 1


@pytest.mark.parametrize(("text", "expected"), [
    (b'{"a": [1, {"b": 2}]}', 3),
    (b'{"a": "[[[[{{{{"}', 1),  # brackets inside strings do not count
    (b'{"a": "\\"[[["}', 1),  # nor after an escaped quote
    (b"[]", 1),
    (b"1", 0),
])
def test_depth_counts_nesting_outside_strings(text: bytes, expected: int) -> None:
    assert depth(text) == expected


def test_too_deep_json_is_a_400_before_parsing() -> None:
    with pytest.raises(ApiError) as caught:
        parse_json(b"[" * 50_000 + b"]" * 50_000, 32)
    assert caught.value.status == 400 and "deeper than 32" in caught.value.message
    assert parse_json(b'{"a": [1]}', 32) == {"a": [1]}


def test_the_chart_has_one_vertex_per_point_and_escapes_names() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    svg = str(line_chart("risk", [Series("<script>", [(t0 + timedelta(hours=h), float(h)) for h in range(5)])],
                         y_max=100.0))
    assert 'data-points="5"' in svg and "<script>" not in svg and "&lt;script&gt;" in svg
    points = svg.split('" points="', 1)[1].split('"', 1)[0].split()
    assert len(points) == 5
    assert str(line_chart("empty", [])) == '<p class="empty">no windows in this range</p>'
