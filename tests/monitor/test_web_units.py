"""monitor.web pieces without a server: the metrics registry and its text format, the JSON depth check, the chart."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4 as CONTENT_TYPE_LATEST_TEXT_0_0_4
from prometheus_client.parser import text_string_to_metric_families

from bench.web_world import seed, settings_for
from config.basics.clock import utc_now
from monitor.app import open_state
from monitor.health import Health
from monitor.web.bodies import depth, parse_json
from monitor.web.context import WebState
from monitor.web.errors import ApiError
from monitor.web.metrics import Metrics
from monitor.web.status.svg import Series, line_chart


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(text) for s in f.samples}


def test_poll_cycles_and_webhook_requests_are_counted_in_process_and_rendered() -> None:
    health = Health()
    metrics = Metrics(health=health)
    metrics.on_cycle({"duration_s": 1.5, "wall_s": 0.5, "models": ["a", "b"], "statements": 3})
    metrics.on_cycle({"duration_s": 40.0, "wall_s": 12.0, "models": ["a", "b", "c"], "statements": 0})
    metrics.webhook_requests.labels(outcome='say "hi"\\\n').inc()
    body, content_type = metrics.render()
    assert content_type == CONTENT_TYPE_LATEST_TEXT_0_0_4
    found = samples(body.decode())
    assert found[("lakewarden_poll_cycles_total", ())] == 2
    assert found[("lakewarden_poll_cycle_duration_seconds_sum", ())] == 41.5
    assert found[("lakewarden_poll_cycle_duration_seconds_bucket", (("le", "2.5"),))] == 1
    assert found[("lakewarden_poll_cycle_wall_seconds_sum", ())] == 12.5
    assert found[("lakewarden_poll_cycle_wall_seconds_bucket", (("le", "10.0"),))] == 1
    assert found[("lakewarden_poll_cycle_models_total", ())] == 5
    assert found[("lakewarden_poll_statements_total", ())] == 3
    assert found[("lakewarden_webhook_requests_total", (("outcome", 'say "hi"\\\n'),))] == 1  # escaped, read back
    assert found[("lakewarden_ready", ())] == 0  # not started
    health.set_started()
    assert samples(metrics.render()[0].decode())[("lakewarden_ready", ())] == 1
    body, content_type = metrics.render("application/openmetrics-text; version=1.0.0")
    assert content_type.startswith("application/openmetrics-text") and body.endswith(b"# EOF\n")
    assert samples(body.decode().replace("# EOF\n", ""))[("lakewarden_poll_cycles_total", ())] == 2


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


def test_a_scrape_never_waits_for_the_state_after_the_first_read_and_live_series_stay_live(tmp_path: Path) -> None:
    settings = settings_for(2, f"sqlite:///{tmp_path}/state.db")
    store = open_state(settings)
    state = WebState.build(settings, store.engine, utc_now)
    statements: list[int] = []  # the thread of each statement on the state database
    sa.event.listen(store.engine, "before_cursor_execute",
                    lambda *_args: statements.append(threading.get_ident()))
    scraper = threading.get_ident()
    leases = {"held": {"model": 2, "alerts_flush": 1, "replica": 1}, "takeovers": {"model": 0}, "lost": {"model": 0}}
    metrics = Metrics(state, leases=lambda: leases, cache_seconds=0.2)
    try:
        judged = ("lakewarden_windows_judged_total", (("model", "m000"),))
        assert samples(metrics.render()[0].decode())[judged] == 0 and scraper in statements  # the first reads
        seed(settings, store.engine, utc_now, hours=3)
        statements.clear()
        leases["lost"] = {"model": 1}
        found = samples(metrics.render()[0].decode())  # the live series at once
        assert found[("lakewarden_leases_lost_total", (("kind", "model"),))] == 1
        assert found[("lakewarden_leases_held", (("kind", "alerts_flush"),))] == 1
        deadline = time.monotonic() + 30
        while samples(metrics.render()[0].decode())[judged] != 3:  # the background re-read brings the rows
            assert time.monotonic() < deadline, "the state was not re-read in the background"
            time.sleep(0.05)
        assert samples(metrics.render()[0].decode())[("lakewarden_model_risk", (("model", "m001"),))] > 0
        assert statements and scraper not in statements  # read in the background only, never by a scrape
        metrics.close()
        statements.clear()
        metrics.render()  # closed: a scrape reads at once, nothing in the background
        assert scraper in statements
    finally:
        metrics.close()
        store.close()
