"""Route-tree matching with Alertmanager's semantics (docs/external/alertmanager-semantics.md, "Routing tree").

Depth-first, children in order. A node that does not match yields nothing; in a matching node the
first matching child stops the scan of later siblings unless it has ``continue: true``; if no child
matched, the node itself is the result. The root matches every alert. A child inherits receiver,
``group_by`` and timers from its parent; time intervals are not inherited.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from alerts.model import LabelSet
from config.matchers import Matcher, matches_all
from config.routing import GROUP_BY_ALL, Route

DEFAULT_GROUP_WAIT = timedelta(seconds=30)
DEFAULT_GROUP_INTERVAL = timedelta(minutes=5)
DEFAULT_REPEAT_INTERVAL = timedelta(hours=4)


@dataclass(frozen=True)
class RouteTimers:
    group_wait: timedelta = DEFAULT_GROUP_WAIT
    group_interval: timedelta = DEFAULT_GROUP_INTERVAL
    repeat_interval: timedelta = DEFAULT_REPEAT_INTERVAL


@dataclass(frozen=True)
class ResolvedRoute:
    """A matching route with everything it inherited filled in.

    ``key`` is the route's path of matchers (Alertmanager's ``Route.Key()``, e.g.
    ``{}/{severity="critical"}``); ``path`` is the child indexes from the root, ``()`` for the root.
    """

    receiver: str
    group_by: tuple[str, ...]
    group_by_all: bool
    timers: RouteTimers
    key: str
    path: tuple[int, ...]
    mute_time_intervals: tuple[str, ...] = ()
    active_time_intervals: tuple[str, ...] = ()
    escalation: str | None = None

    @functools.cached_property
    def path_text(self) -> str:
        """``"0.2"`` for child 2 of child 0; ``""`` for the root. Tells apart siblings with equal matchers."""
        return ".".join(str(i) for i in self.path)

    def group_labels(self, labels: Mapping[str, str]) -> dict[str, str]:
        """The ``group_by`` labels the alert has (all of them for ``'...'``), in name order. A label
        with an empty value counts as absent, as in Alertmanager (an :class:`Alert` has none; this
        covers label maps given directly, as ``lakewarden alerts routes`` does)."""
        if self.group_by_all:
            return {name: value for name, value in sorted(labels.items()) if value != ""}
        return {name: labels[name] for name in sorted(self.group_by) if labels.get(name, "") != ""}

    def group_key(self, labels: Mapping[str, str]) -> str:
        """``<route key>:{name="value", ...}``, Alertmanager's group key."""
        return f"{self.key}:{LabelSet(self.group_labels(labels))}"


@dataclass(frozen=True)
class _Inherited:
    receiver: str | None
    group_by: tuple[str, ...]
    timers: RouteTimers
    key: str
    path: tuple[int, ...]


def resolve_routes(root: Route, labels: Mapping[str, str]) -> list[ResolvedRoute]:
    """The routes an alert with ``labels`` goes to, in tree order (never empty).

    Raises ``ValueError`` if a resulting route has no receiver anywhere up its path (the root
    route must name one; config validation checks that at start-up).
    """
    found = _match(_compile(root), labels, is_root=True)
    out = []
    for node in found:
        if node.resolved is None:
            raise ValueError("the root route needs a receiver: no route on the path to this alert names one")
        out.append(node.resolved)
    return out


@dataclass(frozen=True)
class _Node:
    """A route with what it inherits worked out once per tree (routing runs for every alert)."""

    route: Route
    resolved: ResolvedRoute | None  # None: no receiver anywhere up its path
    children: tuple[_Node, ...]


_COMPILED: dict[int, tuple[Route, _Node]] = {}


def _compile(root: Route) -> _Node:
    cached = _COMPILED.get(id(root))
    if cached is not None and cached[0] is root:
        return cached[1]
    node = _build(root, _inherit(root, _Inherited(None, (), RouteTimers(), "", ()), root_key=True))
    if len(_COMPILED) >= 64:
        _COMPILED.clear()
    _COMPILED[id(root)] = (root, node)
    return node


def _build(route: Route, inherited: _Inherited) -> _Node:
    children = tuple(_build(child, _inherit(child, inherited, index=i)) for i, child in enumerate(route.routes))
    resolved = _finish(route, inherited) if inherited.receiver is not None else None
    return _Node(route, resolved, children)


def _match(node: _Node, labels: Mapping[str, str], *, is_root: bool = False) -> list[_Node]:
    if not is_root and not matches_all(node.route.matchers, labels):
        return []
    found: list[_Node] = []
    for child in node.children:
        matched = _match(child, labels)
        found.extend(matched)
        if matched and not child.route.continue_:
            break
    return found or [node]


def _inherit(route: Route, parent: _Inherited, *, index: int = 0, root_key: bool = False) -> _Inherited:
    timers = RouteTimers(
        group_wait=route.group_wait if route.group_wait is not None else parent.timers.group_wait,
        group_interval=(
            route.group_interval if route.group_interval is not None else parent.timers.group_interval
        ),
        repeat_interval=(
            route.repeat_interval if route.repeat_interval is not None else parent.timers.repeat_interval
        ),
    )
    own_key = _matchers_key(route.matchers)
    return _Inherited(
        receiver=route.receiver if route.receiver is not None else parent.receiver,
        group_by=route.group_by if route.group_by is not None else parent.group_by,
        timers=timers,
        key=own_key if root_key else f"{parent.key}/{own_key}",
        path=() if root_key else (*parent.path, index),
    )


def _finish(route: Route, inherited: _Inherited) -> ResolvedRoute:
    if inherited.receiver is None:
        raise ValueError("the root route needs a receiver: no route on the path to this alert names one")
    group_all = inherited.group_by == (GROUP_BY_ALL,)
    return ResolvedRoute(
        receiver=inherited.receiver,
        group_by=() if group_all else inherited.group_by,
        group_by_all=group_all,
        timers=inherited.timers,
        key=inherited.key,
        path=inherited.path,
        mute_time_intervals=route.mute_time_intervals,
        active_time_intervals=route.active_time_intervals,
        escalation=route.escalation,
    )


def _matchers_key(matchers: tuple[Matcher, ...]) -> str:
    return "{" + ",".join(sorted(str(m) for m in matchers)) + "}"


def resolve_path(root: Route, path: tuple[int, ...]) -> ResolvedRoute | None:
    """The route at ``path`` (child indexes from the root) with what it inherits; ``None`` if the
    tree no longer has that path (the config changed since a group was made there)."""
    node = _compile(root)
    for index in path:
        if index >= len(node.children):
            return None
        node = node.children[index]
    return node.resolved


def parse_path(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".")) if text else ()
