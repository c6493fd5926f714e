"""Who lakewarden is on the workspace: the identity behind its credentials, without the credentials.

``whoami`` asks SCIM ``Me`` (``current_user.me``), which answers for users and service principals
alike (a service principal's ``userName`` is its application id), and says which of databricks-sdk's
credential providers was used (``Config.auth_type`` after the chain chose one) and the host. No token,
secret or header is ever part of the answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from retrain.databricks.client import WorkspaceError, describe_error

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient


@dataclass(frozen=True)
class Identity:
    host: str
    auth_type: str
    user_name: str
    display_name: str | None
    user_id: str | None
    service_principal: bool

    def lines(self) -> list[str]:
        kind = "service principal" if self.service_principal else "user"
        shown = f"{self.user_name} ({self.display_name})" if self.display_name else self.user_name
        return [f"host:      {self.host}", f"auth type: {self.auth_type}", f"{kind + ':':<10} {shown}",
                f"id:        {self.user_id or 'unknown'}"]


def whoami(client: WorkspaceClient) -> Identity:
    """The identity the client authenticates as; :class:`WorkspaceError` with what to check if it cannot."""
    host = str(client.config.host)
    try:
        me = client.current_user.me()
    except Exception as exc:
        raise WorkspaceError(describe_error(exc, "asking the workspace who lakewarden is (SCIM Me)", host)) from exc
    name = str(me.user_name or "")
    schemas = [str(getattr(s, "value", s)) for s in (me.schemas or [])]
    # A service principal's userName is its application id: the OAuth client id it signed in with, a UUID.
    clients = {client.config.client_id, client.config.azure_client_id} - {None, ""}
    principal = any("ServicePrincipal" in s for s in schemas) or name in clients or _is_uuid(name)
    return Identity(host, str(client.config.auth_type or "unknown"), name or "unknown", me.display_name,
                    me.id, principal)


def _is_uuid(text: str) -> bool:
    import uuid  # noqa: PLC0415

    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
