"""SCIM ``Me`` (``GET /api/2.0/preview/scim/v2/Me``): the user or service principal behind the bearer token.

A configured token (PAT) is the user ``user_name``; an OAuth token is the service principal whose
client id it was issued to (its ``userName`` is the application id, as on a workspace).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from emu_http import Request, Router

USER = "emulator@example.com"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
SP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServicePrincipal"


class Identity:
    def __init__(self, owner_of: Callable[[str], str | None]) -> None:
        self.owner_of = owner_of
        self.user_name = USER

    def register(self, router: Router) -> None:
        router.add("GET", "/api/2.0/preview/scim/v2/Me", self._me)

    def _me(self, request: Request) -> tuple[int, Any]:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        client = self.owner_of(token)
        if client is not None:
            return 200, {"id": "7000000000000001", "userName": client, "displayName": "lakewarden-sp",
                         "active": True, "schemas": [SP_SCHEMA]}
        return 200, {"id": "6000000000000001", "userName": self.user_name, "displayName": "Emulator User",
                     "active": True, "schemas": [USER_SCHEMA]}
