"""The status page in a real headless Chromium (Debian's ``chromium``, driven by Playwright): the overview
lists every model worst first, a model's charts are drawn with one vertex per window, nothing is fetched
from elsewhere, and a screenshot is saved under the test's tmp dir.

Skipped, saying why, when no Chromium is installed (``apt-get install chromium``; ``.ci/run`` does).
Playwright's own browser download is never used: it launches /usr/bin/chromium.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.web_world import FEATURES, _risk, seed, settings_for
from config.basics.clock import utc_now
from monitor.app import open_state
from monitor.health import Health
from monitor.web import WebServer, WebState, build_app

HOURS = 72
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
pytestmark = pytest.mark.integration


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
        if found:
            return found
    pytest.skip("no Chromium installed: the browser test needs Debian's chromium package "
                "(apt-get install chromium; .ci/run installs it)")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("page")
    settings = settings_for(4, f"sqlite:///{tmp}/state.db")
    store = open_state(settings)
    seed(settings, store.engine, utc_now, hours=HOURS)
    health = Health()
    health.set_started()
    server = WebServer("127.0.0.1", 0, build_app(health, state=WebState.build(settings, store.engine, utc_now),
                                                 http=settings.service.http))
    server.start()
    yield f"http://127.0.0.1:{server.port}"
    server.stop()
    store.close()


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    executable = chromium()
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package (a dev dependency)")
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(str(profile), executable_path=executable, headless=True,
                                                        args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 900})
        try:
            yield context.new_page()
        finally:
            context.close()


def test_overview_lists_every_model_worst_first(site: str, page: Any) -> None:
    outside: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(site) else outside.append(r.url))
    page.goto(site + "/")
    rows = page.locator("#models tr").all_inner_texts()[1:]
    assert len(rows) == 4
    ranks = ["ok", "low", "medium", "high", "critical"]
    alerting = [ranks.index(row.split("\t")[1].strip()) for row in rows]
    assert alerting == sorted(alerting, reverse=True)  # worst first
    assert page.title() == f"lakewarden: {ranks[alerting[0]]}"
    assert outside == []  # offline: nothing fetched from anywhere else


def test_model_page_draws_one_point_per_window(site: str, page: Any, tmp_path: Path) -> None:
    outside: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(site) else outside.append(r.url))
    page.goto(site + "/models/m001?days=30")
    risk = page.eval_on_selector_all("#risk polyline", "els => els.map(e => e.points.numberOfItems)")
    assert risk == [HOURS]
    drift = page.eval_on_selector_all("#drift polyline", "els => els.map(e => [e.dataset.series, "
                                      "e.points.numberOfItems])")
    assert sorted(name for name, _ in drift) == sorted(f"{f} psi" for f in FEATURES)
    assert {count for _, count in drift} == {HOURS}
    # the last vertex of the risk line sits at the newest risk (y axis 0-100 over the plot's height)
    box = page.eval_on_selector("#risk polyline", "e => { const p = e.points.getItem(e.points.numberOfItems - 1);"
                                " return p.y; }")
    expected_y = 10 + 182 - _risk(1, HOURS - 1) / 100 * 182
    assert abs(box - expected_y) < 0.2
    assert page.locator("pre").first.inner_text().startswith("m001  lakehouse:main.ml.m001")
    assert "deploy in progress" in page.content()  # the silence on its alert
    shot = tmp_path / "model-m001.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    assert outside == []
