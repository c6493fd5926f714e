"""The delivery worker's identity, stable across restarts, so a restarted process knows its own claims.

``alerting.instance_id`` when set, else the environment variable ``LAKEWARDEN_INSTANCE_ID``, else
``<hostname>-<8 hex digits of the state database URL's hash>``. The same process started again on
the same host with the same state database gets the same id and takes back, at once, the outbox
row it was sending when it died (``Outbox.take_back``); another host waits for the lease instead.
Two processes sharing one state database must have different ids: on one host, set
``LAKEWARDEN_INSTANCE_ID`` (or ``alerting.instance_id``) for each; in Kubernetes, a StatefulSet's pod
name is stable, a Deployment's is not (its pods wait one lease, 30 s by default, instead).
"""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Mapping

ENV_VAR = "LAKEWARDEN_INSTANCE_ID"


def instance_id(configured: str | None, state_url: str, environ: Mapping[str, str] | None = None,
                hostname: str | None = None) -> str:
    if configured:
        return configured
    env = os.environ if environ is None else environ
    if env.get(ENV_VAR, "").strip():
        return env[ENV_VAR].strip()[:200]
    host = (hostname if hostname is not None else socket.gethostname()) or "localhost"
    # Hashed: the URL may hold a password, and the id is written to the outbox and logs.
    digest = hashlib.sha256(state_url.encode("utf-8")).hexdigest()[:8]
    return f"{host[:180]}-{digest}"
