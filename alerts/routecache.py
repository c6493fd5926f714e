"""Routing results remembered, so that an alert costs a dictionary lookup instead of a tree walk.

A route tree's answer depends only on the values of the labels its matchers name (a missing label
equals ""), so it is remembered per tuple of those values: 10,000 alerts of 1,000 models that differ
in ``model`` and ``signal`` but are routed on ``severity`` and ``team`` walk the tree a few dozen
times. A group key depends only on the route and the values of its ``group_by`` labels (present or
not), and is remembered per those.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

from alerts.model import LabelSet
from alerts.routing import ResolvedRoute, resolve_routes
from config.routing import Route

_LIMIT = 65536


def matcher_names(route: Route) -> tuple[str, ...]:
    """Every label name a matcher of the tree reads, sorted."""
    names = {m.name for m in route.matchers}
    for child in route.routes:
        names.update(matcher_names(child))
    return tuple(sorted(names))


class RouteCache:
    def __init__(self, root: Route) -> None:
        self._root = root
        self._names = matcher_names(root)
        self._routes: dict[tuple[str, ...], list[ResolvedRoute]] = {}
        self._keys: dict[tuple[tuple[int, ...], Hashable], str] = {}

    def routes(self, labels: Mapping[str, str]) -> list[ResolvedRoute]:
        """``resolve_routes(root, labels)``."""
        key = tuple(labels.get(name, "") for name in self._names)
        found = self._routes.get(key)
        if found is None:
            if len(self._routes) >= _LIMIT:
                self._routes.clear()
            found = self._routes[key] = resolve_routes(self._root, labels)
        return found

    def group_key(self, route: ResolvedRoute, labels: LabelSet) -> str:
        """``route.group_key(labels)``."""
        values: Hashable = labels if route.group_by_all else tuple(labels.get(name) for name in route.group_by)
        key = (route.path, values)
        found = self._keys.get(key)
        if found is None:
            if len(self._keys) >= _LIMIT:
                self._keys.clear()
            found = self._keys[key] = route.group_key(labels)
        return found
