"""The base every settings model derives from: unknown keys rejected, values frozen, numbers finite."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ModelWrapValidatorHandler, model_validator

_MAX_SHOWN = 120  # characters of an unexpected error's text shown to the reader


class Strict(BaseModel):
    """A settings block. A typo in a key is an error at load time, not a silent default.

    ``allow_inf_nan=False``: ``.nan``, ``.inf`` and ``-.inf`` are refused in every float field (no
    threshold, weight or rate means anything with them). A validator that fails with something other
    than ``ValueError`` (a ``TypeError`` on a value of the wrong type, an ``OverflowError`` on a huge
    number) becomes a config error at this block, with its path and line, instead of a crash.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)

    @model_validator(mode="wrap")
    @classmethod
    def _no_crash(cls, values: Any, handler: ModelWrapValidatorHandler[Any]) -> Any:
        try:
            return handler(values)
        except (TypeError, OverflowError, ArithmeticError, RecursionError, OSError) as exc:
            text = str(exc)
            text = text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."
            raise ValueError(f"values of the types this block takes (a check failed with {type(exc).__name__}: "
                             f"{text})") from None
