"""The whole routing tree as text, each route with what it ends up with after inheritance
(``lakewarden alerts routes --tree``, like ``amtool config routes show``)."""

from __future__ import annotations

from collections.abc import Mapping

from alerts.routing import ResolvedRoute, resolve_path, resolve_routes
from config.durations import format_duration
from config.routing import Route


def describe_route(route: Route, resolved: ResolvedRoute | None) -> str:
    """``{matchers}  receiver: r  group_by: [..]  group_wait: 30s ...`` for one node."""
    matchers = "{" + ",".join(sorted(str(m) for m in route.matchers)) + "}"
    parts = [matchers]
    if resolved is None:
        parts.append("receiver: (none)")
    else:
        group_by = "..." if resolved.group_by_all else ", ".join(resolved.group_by)
        t = resolved.timers
        parts += [f"receiver: {resolved.receiver}", f"group_by: [{group_by}]",
                  f"group_wait: {format_duration(t.group_wait)}",
                  f"group_interval: {format_duration(t.group_interval)}",
                  f"repeat_interval: {format_duration(t.repeat_interval)}"]
    if route.continue_:
        parts.append("continue: true")
    if route.mute_time_intervals:
        parts.append(f"mute_time_intervals: [{', '.join(route.mute_time_intervals)}]")
    if route.active_time_intervals:
        parts.append(f"active_time_intervals: [{', '.join(route.active_time_intervals)}]")
    if route.escalation:
        parts.append(f"escalation: {route.escalation}")
    return "  ".join(parts)


def render_tree(root: Route, labels: Mapping[str, str] | None = None) -> str:
    """Every route, depth first in tree order, one line each, drawn as a tree. Each line starts
    with the route's path (child indexes from the root, ``root`` for the root). With ``labels``,
    the routes an alert with those labels reaches are marked ``<- match``."""
    reached = {r.path for r in resolve_routes(root, labels)} if labels is not None else set()
    lines: list[str] = []

    def walk(route: Route, path: tuple[int, ...], prefix: str, last: bool) -> None:
        branch = "" if not path else ("└── " if last else "├── ")
        name = ".".join(str(i) for i in path) or "root"
        mark = "  <- match" if path in reached else ""
        lines.append(f"{prefix}{branch}{name}  {describe_route(route, resolve_path(root, path))}{mark}")
        inner = prefix + ("" if not path else ("    " if last else "│   "))
        for index, child in enumerate(route.routes):
            walk(child, (*path, index), inner, index == len(route.routes) - 1)

    walk(root, (), "", True)
    return "\n".join(lines)
