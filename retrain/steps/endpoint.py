"""Moving an endpoint to a config once, and knowing when it is live: shared by rollout, rollback, emergency.

``apply`` records under ``key`` that the update is asked for, then asks, unless the endpoint serves
that config already. A restart tells the cases apart by reading the endpoint: the new config (done),
updating (wait), the config from before (the call never went out: ask again), anything else
(someone else changed it: stop, recorded as ``endpoint_overtaken`` so a rollback leaves it too).
It answers ``Wait`` while the endpoint updates, ``True`` once the config serves, and a message when
the update failed, did not finish in time, or was overtaken.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta

from config.durations import format_duration
from retrain.serving import EndpointSnapshot, ServedEntity, ServingBackend, entity_name_for
from retrain.steps.base import StepContext, Wait


def serving(ctx: StepContext) -> ServingBackend:
    if ctx.deps.serving is None:
        raise RuntimeError("no serving backend is configured for the lifecycle")
    return ctx.deps.serving


def apply(ctx: StepContext, endpoint: str, entities: Sequence[ServedEntity], routes: Mapping[str, int],
          key: str, timeout: timedelta, before: EndpointSnapshot) -> Wait | bool | str:
    """Move ``endpoint`` from ``before`` to this config (see the module docstring)."""
    backend = serving(ctx)
    state = backend.read(endpoint)
    asked = ctx.get(key) is not None
    if state.updating:
        if asked and ctx.overdue(key, timeout):
            return f"endpoint {endpoint} was still updating after {format_duration(timeout)}"
        return Wait(f"endpoint {endpoint} is updating")
    if state.serves(entities, routes):
        if not asked:
            ctx.save(**{key: ctx.now.isoformat()})
        return True
    if asked and state.update_failed:
        return (f"endpoint {endpoint}: the update ended {state.config_update}; "
                f"it serves {describe(state.entities, state.routes)}")
    if not state.serves(before.entities, before.routes):
        # Asked or not: the endpoint no longer serves what this change starts from (a change made by
        # hand during a canary's windows, or between a snapshot and a restart). Never overwrite it.
        message = (f"endpoint {endpoint} serves {describe(state.entities, state.routes)}, neither the config "
                   "before the change nor the one lakewarden asked for: someone else changed it")
        ctx.save(endpoint_overtaken=message)
        return message
    # Not asked yet, or asked and never applied (a crash before the call): ask, recording it first.
    if not asked:
        ctx.save(**{key: ctx.now.isoformat()})
    backend.put(endpoint, entities, routes)
    return True if backend.read(endpoint).serves(entities, routes) else Wait(f"endpoint {endpoint} is updating")


def describe(entities: Sequence[ServedEntity], routes: Mapping[str, int]) -> str:
    parts = [f"{e.entity_name} v{e.entity_version} {routes.get(e.name, 0)}%" for e in entities]
    return ", ".join(parts) or "nothing"


def only(model: str, version: str, like: Sequence[ServedEntity]) -> tuple[list[ServedEntity], dict[str, int]]:
    """All traffic to ``version`` (sized like the endpoint's first entity)."""
    entity = _entity(model, version, like)
    return [entity], {entity.name: 100}


def canary(before: EndpointSnapshot, model: str, version: str,
           percent: int) -> tuple[list[ServedEntity], dict[str, int]]:
    """``percent`` to ``version``; the endpoint's other entities keep their proportions of the rest."""
    new = _entity(model, version, before.entities)
    others = [e for e in before.entities if e.name != new.name]
    shares = {e.name: before.routes.get(e.name, 0) for e in others}
    total = sum(shares.values())
    if not others or total == 0:
        return only(model, version, before.entities)
    rest = 100 - percent
    exact = {name: share * rest / total for name, share in shares.items()}
    routes = {name: int(value) for name, value in exact.items()}
    # Largest remainders get the points lost to rounding down, so the shares sum to 100.
    for name in sorted(exact, key=lambda n: exact[n] - routes[n], reverse=True)[: rest - sum(routes.values())]:
        routes[name] += 1
    routes[new.name] = percent
    kept = [e for e in others if routes[e.name] > 0]
    return [*kept, new], {name: share for name, share in routes.items() if share > 0}


def _entity(model: str, version: str, like: Sequence[ServedEntity]) -> ServedEntity:
    """The new version, served like the endpoint's entity of the same model (else its first entity):
    the same workload size and type, environment variables, provisioned throughput and the rest."""
    same = [e for e in like if e.entity_name == model]
    name = entity_name_for(model, version)
    templates = same or list(like)
    return templates[0].like(name, model, version) if templates else ServedEntity(name, model, version)
