"""One databricks-sdk ``WorkspaceClient`` per workspace config, and errors a person can act on.

The SDK retries 429, 503 and connection errors for ``retry_timeout_seconds`` (its default is five
minutes, during which a daemon's cycle would hang); lakewarden gives it ``workspace.retry_timeout``
(30 s by default) and treats a call that exhausted it as failed for this cycle: the next poll is the
longer retry. Secrets go to the SDK only; no message here ever contains them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from config.secrets import reveal
from config.service import WorkspaceSettings

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient

PRODUCT = "lakewarden"


class WorkspaceError(Exception):
    """A workspace call failed; the message says which call, what the workspace said and what to check."""


def workspace_client(settings: WorkspaceSettings) -> WorkspaceClient:
    """A client for the workspace in ``settings`` (kind ``databricks``), with lakewarden's retry budget."""
    from databricks.sdk import WorkspaceClient  # noqa: PLC0415 - the SDK takes ~1.5 s to import
    from databricks.sdk.config import Config  # noqa: PLC0415

    if settings.kind != "databricks" or not (settings.host or settings.profile):
        raise WorkspaceError("workspace kind databricks with a host (or profile) is needed for Databricks backends")
    where = settings.host or f"profile {settings.profile}"
    try:
        config = Config(retry_timeout_seconds=max(1, int(settings.retry_timeout.total_seconds())),
                        http_timeout_seconds=max(1.0, settings.http_timeout.total_seconds()),
                        product=PRODUCT, product_version=_version(), **configured_auth(settings))
    except ValueError as exc:
        raise WorkspaceError(f"cannot authenticate to the Databricks workspace at {where}: {_first_line(exc)} "
                             "(see docs/databricks-auth.md for the ways lakewarden can authenticate)") from exc
    return WorkspaceClient(config=config)


def configured_auth(settings: WorkspaceSettings) -> dict[str, Any]:
    """Only what the user configured, for databricks-sdk's ``Config``: it finds everything else itself.

    Nothing is forced: no ``auth_type`` unless configured, so the SDK's default chain (PAT, OAuth M2M,
    Azure client secret, Azure CLI, workload identity federation, profiles, ...) picks the method, and
    environment variables and ``~/.databrickscfg`` keep working.
    """
    given = {"host": settings.host, "token": reveal(settings.token), "client_id": settings.client_id,
             "client_secret": reveal(settings.client_secret), "azure_client_id": settings.azure_client_id,
             "azure_client_secret": reveal(settings.azure_client_secret),
             "azure_tenant_id": settings.azure_tenant_id, "profile": settings.profile,
             "auth_type": settings.auth_type}
    if settings.host and settings.client_id and settings.client_secret is not None:
        # The workspace's own OIDC endpoints, named: databricks-sdk otherwise finds them only through the
        # host metadata (/.well-known/databricks-config), which not every workspace serves.
        given["discovery_url"] = oidc_discovery_url(settings.host)
    return {name: value for name, value in given.items() if value}


def oidc_discovery_url(host: str) -> str:
    """The workspace's OAuth (OIDC) discovery document, where OAuth M2M finds its token endpoint."""
    return f"{host.rstrip('/')}/oidc/.well-known/oauth-authorization-server"


def describe_error(exc: BaseException, doing: str, host: str | None = None) -> str:
    """``doing`` (e.g. "running a statement on warehouse abc") failed: why, in one line, and what to check."""
    from databricks.sdk import errors  # noqa: PLC0415

    where = f" at {host}" if host else ""
    if isinstance(exc, TimeoutError):
        cause = exc.__cause__ or exc.__context__
        why = _first_line(cause) if cause is not None else "no answer"
        return (f"{doing}{where} failed: the workspace did not answer successfully within the retry budget "
                f"(workspace.retry_timeout); last problem: {why}")
    if isinstance(exc, ValueError) and "invalid_client" in str(exc):
        # databricks-sdk's OAuth M2M: the token endpoint refused the service principal (the SDK never
        # puts the secret in this message).
        return (f"{doing}{where} failed: the workspace's OAuth token endpoint refused the client credentials "
                f"({_first_line(exc)}): check workspace.client_id and client_secret")
    if isinstance(exc, errors.Unauthenticated):
        return (f"{doing}{where} failed: the workspace refused the credentials (401): check the workspace "
                "block's credentials (token, client_id/client_secret, azure_*, profile) or the environment's; "
                "`lakewarden workspace whoami` shows which method is used")
    if isinstance(exc, errors.PermissionDenied):
        return f"{doing}{where} failed: permission denied (403): {_first_line(exc)}"
    if isinstance(exc, errors.TooManyRequests):
        return f"{doing}{where} failed: throttled (429) beyond the retry budget: {_first_line(exc)}"
    if isinstance(exc, errors.base.DatabricksError):
        code = exc.error_code or type(exc).__name__
        return f"{doing}{where} failed: {code}: {_first_line(exc)}"
    return f"{doing}{where} failed: {type(exc).__name__}: {_first_line(exc)}"


def is_not_found(exc: BaseException) -> bool:
    """A 404, or the 400 'does not exist' that the Jobs API answers for unknown ids."""
    from databricks.sdk import errors  # noqa: PLC0415

    if isinstance(exc, errors.NotFound):
        return True
    return isinstance(exc, errors.BadRequest) and "does not exist" in str(exc)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line if len(line) <= 500 else line[:500] + "..."


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    try:
        return version("lakewarden")
    except PackageNotFoundError:
        return "0.0.0"
