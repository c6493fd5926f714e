"""The base every settings model derives from: unknown keys rejected, values frozen."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """A settings block. A typo in a key is an error at load time, not a silent default."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
