"""Checks that span blocks: names referenced in one place must be defined in another."""

from __future__ import annotations

from collections import Counter

from config.routing import Route
from config.settings import Settings

Path = tuple[str | int, ...]


def cross_check(settings: Settings) -> list[tuple[Path, str, str]]:
    """Every broken reference as (YAML path, what was found, what is allowed)."""
    issues: list[tuple[Path, str, str]] = []
    receivers = [r.name for r in settings.receivers]
    intervals = [t.name for t in settings.time_intervals]
    models = [m.name for m in settings.models]
    policies = [p.name for p in settings.alerting.escalation_policies]
    blocks: tuple[tuple[list[str], Path, str], ...] = (
        (receivers, ("receivers",), "receiver"), (intervals, ("time_intervals",), "interval"),
        (models, ("models",), "model"), (policies, ("alerting", "escalation_policies"), "policy"))
    for names, block, what in blocks:
        for name, count in Counter(names).items():
            if count > 1:
                index = [i for i, n in enumerate(names) if n == name][1]
                issues.append(((*block, index, "name"), f"{what} name {name!r} a second time", "unique names"))
    allowed_receivers = ", ".join(dict.fromkeys(receivers)) or "(no receivers defined)"
    allowed_intervals = ", ".join(dict.fromkeys(intervals)) or "(no time_intervals defined)"
    allowed_policies = ", ".join(dict.fromkeys(policies)) or "(no alerting.escalation_policies defined)"
    issues.extend(_alerting_refs(settings, receivers, allowed_receivers))
    issues.extend(_job_backends(settings))

    def walk(route: Route, path: Path) -> None:
        if route.receiver is not None and route.receiver not in receivers:
            issues.append(((*path, "receiver"), f"receiver {route.receiver!r}",
                           f"a receiver defined under receivers: {allowed_receivers}"))
        for key in ("mute_time_intervals", "active_time_intervals"):
            for i, name in enumerate(getattr(route, key)):
                if name not in intervals:
                    issues.append(((*path, key, i), f"time interval {name!r}",
                                   f"an interval defined under time_intervals: {allowed_intervals}"))
        if route.escalation is not None and route.escalation not in policies:
            issues.append(((*path, "escalation"), f"escalation policy {route.escalation!r}",
                           f"a policy defined under alerting.escalation_policies: {allowed_policies}"))
        for i, child in enumerate(route.routes):
            walk(child, (*path, "routes", i))

    if settings.route.receiver is None:
        issues.append((("route",), "a root route without a receiver",
                       "the root route needs receiver: NAME (it catches what no child route matches)"))
    if settings.route.matchers:
        issues.append((("route", "matchers"), "matchers on the root route", "none: the root route matches every alert"))
    if settings.route.continue_:
        issues.append((("route", "continue"), "continue: true on the root route",
                       "none: continue belongs on child routes (the root has no siblings; Alertmanager "
                       "refuses it too)"))
    for key in ("mute_time_intervals", "active_time_intervals"):
        if getattr(settings.route, key):
            issues.append((("route", key), f"{key} on the root route",
                           "none: time intervals belong on child routes (the root route is always active)"))
    walk(settings.route, ("route",))
    return issues


def _alerting_refs(settings: Settings, receivers: list[str], allowed: str) -> list[tuple[Path, str, str]]:
    """The fallback receiver and every escalation step's receiver must be defined."""
    issues: list[tuple[Path, str, str]] = []
    fallback = settings.alerting.fallback_receiver
    if fallback is not None and fallback not in receivers:
        issues.append((("alerting", "fallback_receiver"), f"receiver {fallback!r}",
                       f"a receiver defined under receivers: {allowed}"))
    for p, policy in enumerate(settings.alerting.escalation_policies):
        for s, step in enumerate(policy.steps):
            if step.receiver not in receivers:
                issues.append((("alerting", "escalation_policies", p, "steps", s, "receiver"),
                               f"receiver {step.receiver!r}", f"a receiver defined under receivers: {allowed}"))
    return issues


def _job_backends(settings: Settings) -> list[tuple[Path, str, str]]:
    """Every lifecycle job must run on the backend of ``workspace.kind`` (lakewarden runs jobs with one backend)."""
    issues: list[tuple[Path, str, str]] = []
    kind = settings.workspace.kind
    for m, model in enumerate(settings.models):
        # An invalid model stands in by its name only (``config.loader``): its lifecycle is unknown.
        lifecycle = getattr(model, "lifecycle", None)
        if lifecycle is None or not lifecycle.enabled:
            continue
        jobs: list[tuple[Path, str]] = [(("retrain",), lifecycle.retrain.backend)]
        if lifecycle.validate_.job is not None:
            jobs.append((("validate", "job"), lifecycle.validate_.job.backend))
        if lifecycle.batch_score is not None and "batch_score" in lifecycle.steps:
            jobs.append((("batch_score",), lifecycle.batch_score.backend))
        for where, backend in jobs:
            if backend != kind:
                issues.append((("models", m, "lifecycle", *where, "backend"), f"backend {backend!r}",
                               f"{kind!r}, the workspace.kind: lakewarden runs every lifecycle job on the "
                               f"{kind} backend (set backend: {kind}, or change workspace.kind)"))
    return issues
