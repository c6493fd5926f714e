"""APScheduler 3 jobs that only publish commands: one poll job per model, one lifecycle tick.

Jobs are thin (they put a command on the daemon's inbox and return), have stable ids, and use
``coalesce=True`` and ``max_instances=1``. Those only bound the job itself (which returns at once):
what keeps a slow poll from piling up ``PollDue`` commands is the daemon's inbox, which holds at
most one pending poll per model (``monitor.inbox``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC

from apscheduler.schedulers.background import BackgroundScheduler

from config.basics.clock import utc_now
from config.settings import Settings
from monitor.bus import Command
from monitor.messages import AdvanceLifecycle, PollDue


class Ticker:
    def __init__(self, settings: Settings, submit: Callable[[Command], None]) -> None:
        self._scheduler = BackgroundScheduler(timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1,
                                                                          "misfire_grace_time": None})
        # APScheduler runs jobs by the real clock, so their first run is the real now, not the app's
        # clock: under the demo's simulated clock (days in the past) that would replay every missed
        # interval since then.
        now = utc_now()
        for model in settings.models:
            self._scheduler.add_job(submit, "interval", args=[PollDue(model.name)], id=f"poll:{model.name}",
                                    seconds=model.poll_interval.total_seconds(), next_run_time=now)
        if any(m.lifecycle.enabled for m in settings.models):
            self._scheduler.add_job(submit, "interval", args=[AdvanceLifecycle()], id="lifecycle:advance",
                                    seconds=settings.service.lifecycle_interval.total_seconds(), next_run_time=now)

    def start(self) -> None:
        self._scheduler.start()

    def stop(self) -> None:
        """Stop intake: no job fires after this returns."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
