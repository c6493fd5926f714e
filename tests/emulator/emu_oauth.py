"""OAuth M2M (client credentials) as a workspace serves it, for databricks-sdk's ``oauth-m2m`` auth.

    GET  /oidc/.well-known/oauth-authorization-server   the OIDC endpoints (no auth)
    POST /oidc/v1/token                                  grant_type=client_credentials, scope=all-apis,
                                                         HTTP Basic client_id:client_secret (no bearer)
    GET  /.well-known/databricks-config                  host metadata, only with ``host_metadata``

A token request with a known client and its secret gets a bearer token (``expires_in`` seconds)
that the router then accepts like a personal access token; a wrong secret or unknown client gets
401 ``invalid_client``. Clients: ``emu.oauth.clients[client_id] = secret``. With
``host_metadata = True`` the emulator answers ``/.well-known/databricks-config`` with the OIDC root
(as current workspaces do) instead of the quick 404 of older ones.
"""

from __future__ import annotations

import base64
import secrets
import threading
from typing import Any

from emu_clock import EmuClock
from emu_http import ApiError, Request, Router

CLIENT_ID = "emu-sp-client"
CLIENT_SECRET = "emu-sp-secret-0123456789"  # the emulator's test service principal


class OAuth:
    def __init__(self, clock: EmuClock, url: Any) -> None:
        self.clock = clock
        self._url = url  # () -> the emulator's base URL, known once it listens
        self.clients: dict[str, str] = {CLIENT_ID: CLIENT_SECRET}
        self.owners: dict[str, str] = {}  # issued access token -> the client (service principal) it is for
        self.host_metadata = False
        self.expires_in = 3600
        self.granted: list[str] = []  # client ids that got a token, in order
        self._router: Router | None = None
        self._lock = threading.Lock()

    def register(self, router: Router) -> None:
        self._router = router
        router.add("GET", "/oidc/.well-known/oauth-authorization-server", self._discovery, public=True)
        router.add("POST", "/oidc/v1/token", self._token, public=True)
        router.add("GET", "/.well-known/databricks-config", self._host_metadata, public=True)

    def _discovery(self, _request: Request) -> tuple[int, Any]:
        root = f"{self._url()}/oidc"
        return 200, {"issuer": root, "authorization_endpoint": f"{root}/v1/authorize",
                     "token_endpoint": f"{root}/v1/token", "jwks_uri": f"{root}/jwks.json",
                     "grant_types_supported": ["client_credentials", "authorization_code", "refresh_token"],
                     "scopes_supported": ["all-apis", "offline_access"]}

    def _host_metadata(self, _request: Request) -> tuple[int, Any]:
        if not self.host_metadata:
            raise ApiError(404, "NOT_FOUND", "no host metadata here")
        return 200, {"oidc_endpoint": f"{self._url()}/oidc", "workspace_id": "1234567890123456", "cloud": "aws"}

    def _token(self, request: Request) -> tuple[int, Any]:
        client_id, secret = _basic(request.headers.get("authorization", ""))
        if client_id is None:  # credentials in the form body instead of the header
            client_id, secret = request.body.get("client_id"), request.body.get("client_secret")
        if request.body.get("grant_type") != "client_credentials":
            raise _oauth_error(400, "unsupported_grant_type", "Only client_credentials is supported here")
        if client_id is None or self.clients.get(client_id) != secret:
            raise _oauth_error(401, "invalid_client", "Client authentication failed")
        token = "emu-oauth-" + secrets.token_hex(16)
        assert self._router is not None
        with self._lock:
            self._router.issued[token] = self.clock.now() + self.expires_in
            self.granted.append(client_id)
            self.owners[token] = client_id
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": self.expires_in,
                     "scope": request.body.get("scope", "all-apis")}


def _basic(header: str) -> tuple[str | None, str | None]:
    if not header.startswith("Basic "):
        return None, None
    try:
        client_id, _, secret = base64.b64decode(header.removeprefix("Basic ")).decode().partition(":")
    except ValueError:
        return None, None
    return client_id, secret


class _OAuthError(ApiError):
    def body(self) -> dict[str, Any]:
        return {"error": self.error_code, "error_description": self.message}


def _oauth_error(status: int, error: str, description: str) -> ApiError:
    """OAuth errors use ``error``/``error_description``, not the API's error_code/message."""
    return _OAuthError(status, error, description)
