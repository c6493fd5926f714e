"""Serving endpoints of the embedded default: endpoint configs kept in the state database.

Stands in for Databricks model serving on a laptop, in CI and in the demo, so rollouts, canaries
and rollbacks run the same lifecycle code. An update applies at once (``NOT_UPDATING`` right after
``put``) and bumps ``config_version``; ``create`` makes an endpoint (the demo creates one serving the
champion). Nothing is served: the records say what a real endpoint would serve.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import sqlalchemy as sa
import structlog

from config.basics.clock import Clock
from config.basics.sql import begin_write
from retrain.schema import retrain_local_endpoints as T
from retrain.serving import EndpointMissing, EndpointSnapshot, EndpointState, ServedEntity, check_routes

log = structlog.get_logger(__name__)


class LocalServingBackend:
    kind = "local"

    def __init__(self, engine: sa.Engine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    def create(self, name: str, entities: Sequence[ServedEntity], routes: Mapping[str, int]) -> EndpointState:
        """Make (or replace) an endpoint serving this config."""
        check_routes(entities, routes)
        config = EndpointSnapshot(name, 1, tuple(entities), dict(routes)).to_json()
        with begin_write(self._engine) as conn:  # delete, then insert: one writer at a time
            conn.execute(T.delete().where(T.c.name == name))
            conn.execute(T.insert().values(name=name, config_version=1, config=config, updated_at=self._clock()))
        return self.read(name)

    def read(self, name: str) -> EndpointState:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(T).where(T.c.name == name)).first()
        if row is None:
            raise EndpointMissing(f"local serving endpoint {name} does not exist (lakewarden's state database has "
                                  "no record of it; the demo creates one, or create it before a rollout)")
        snapshot = EndpointSnapshot.from_json(row.config)
        return EndpointState(name, "READY", "NOT_UPDATING", row.config_version, snapshot.entities, snapshot.routes)

    def put(self, name: str, entities: Sequence[ServedEntity], routes: Mapping[str, int]) -> None:
        check_routes(entities, routes)
        with begin_write(self._engine) as conn:
            row = conn.execute(sa.select(T.c.config_version).where(T.c.name == name)).first()
            if row is None:
                raise EndpointMissing(f"local serving endpoint {name} does not exist")
            version = row.config_version + 1
            config = EndpointSnapshot(name, version, tuple(entities), dict(routes)).to_json()
            conn.execute(T.update().where(T.c.name == name).values(config_version=version, config=config,
                                                                      updated_at=self._clock()))
        log.info("local_endpoint_updated", endpoint=name, routes=dict(routes), config_version=version)
