"""A serving endpoint's served entities (or legacy served models) and routes, read and written whole.

``PUT /api/2.0/serving-endpoints/{name}/config`` replaces the served-entity config, so what an update
does not send is lost. An update therefore re-sends every input field the workspace reported for each
entity (``ServedEntityInput``'s fields, or ``ServedModelInput``'s for an endpoint built with the legacy
``served_models``), changing only names, versions and traffic. Output-only fields (``state``,
``creator``, ``creation_timestamp``, ``foundation_model``) are not sent back; a field that is neither
an input field this databricks-sdk knows nor output-only is named (never its value) in a warning,
since it cannot be carried.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import structlog

from retrain.serving import ServedEntity

log = structlog.get_logger(__name__)

OUTPUT_ONLY = frozenset({"state", "creator", "creation_timestamp", "foundation_model"})
_IDENTITY = {False: ("name", "entity_name", "entity_version"), True: ("name", "model_name", "model_version")}


def _input_fields(legacy: bool) -> frozenset[str]:
    from databricks.sdk.service.serving import ServedEntityInput, ServedModelInput  # noqa: PLC0415 - slow import

    kind = ServedModelInput if legacy else ServedEntityInput
    return frozenset(f.name for f in dataclasses.fields(kind))


def read_entities(endpoint: str, config: Mapping[str, Any]) -> tuple[tuple[ServedEntity, ...], dict[str, int], bool]:
    """The entities, routes (served name -> percent) and whether the endpoint uses legacy ``served_models``."""
    legacy = not config.get("served_entities") and bool(config.get("served_models"))
    raw = config.get("served_models" if legacy else "served_entities") or []
    inputs = _input_fields(legacy)
    name_key, entity_key, version_key = _IDENTITY[legacy]
    entities = []
    for item in raw:
        dropped = sorted(set(item) - inputs - OUTPUT_ONLY)
        if dropped:
            log.warning("serving_fields_not_carried", endpoint=endpoint, entity=item.get(name_key), fields=dropped,
                        why="not an input field of this databricks-sdk; upgrade it to keep them")
        settings = {k: v for k, v in item.items() if k in inputs and k not in _IDENTITY[legacy]}
        entities.append(ServedEntity(str(item.get(name_key) or ""), str(item.get(entity_key) or ""),
                                     str(item.get(version_key) or ""), str(item.get("workload_size") or "Small"),
                                     bool(item.get("scale_to_zero_enabled", False)), settings))
    routes = {str(r.get("served_entity_name") or r.get("served_model_name")): int(r.get("traffic_percentage") or 0)
              for r in ((config.get("traffic_config") or {}).get("routes") or [])}
    return tuple(entities), routes, legacy


def update_body(entities: Sequence[ServedEntity], routes: Mapping[str, int], legacy: bool) -> dict[str, Any]:
    """The body of the config update: every entity with its kept settings, and the routes."""
    name_key, entity_key, version_key = _IDENTITY[legacy]
    served = []
    for e in entities:
        base = dict(e.settings) if e.settings else {"workload_size": e.workload_size,
                                                    "scale_to_zero_enabled": e.scale_to_zero_enabled}
        identity = {name_key: e.name, entity_key: e.entity_name, version_key: e.entity_version}
        served.append({**base, **{k: v for k, v in identity.items() if v}})  # an external model has no version
    route_key = "served_model_name" if legacy else "served_entity_name"
    return {"served_models" if legacy else "served_entities": served,
            "traffic_config": {"routes": [{route_key: n, "traffic_percentage": p} for n, p in routes.items()]}}
