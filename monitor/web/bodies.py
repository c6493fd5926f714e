"""Reading a request body within limits: its size, the time each part may take, its JSON nesting depth.

A JSON body nested deeper than the limit is refused before it is parsed (a 400, not the parser's
``RecursionError`` as a 500): one pass over the bytes counts open brackets outside strings.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.requests import Request

from monitor.web.errors import ApiError


async def read_body(request: Request, max_bytes: int, timeout: float) -> bytes:
    """The whole body, or an :class:`ApiError`: 413 over ``max_bytes`` (by ``Content-Length`` before
    reading, or while reading a chunked one), 408 when a part takes longer than ``timeout`` seconds."""
    length = request.headers.get("content-length")
    if length is not None:
        if not length.isdigit():
            raise ApiError(400, "Content-Length is not a number")
        if int(length) > max_bytes:
            raise ApiError(413, f"the body is over {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    stream = request.stream().__aiter__()
    while True:
        try:
            chunk = await asyncio.wait_for(stream.__anext__(), timeout)
        except StopAsyncIteration:
            break
        except TimeoutError:
            raise ApiError(408, f"the body did not arrive within {timeout:g} s") from None
        size += len(chunk)
        if size > max_bytes:
            raise ApiError(413, f"the body is over {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def depth(data: bytes) -> int:
    """The deepest nesting of ``[`` and ``{`` outside JSON strings."""
    deepest = level = 0
    inside = escaped = False
    for byte in data:
        if inside:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # "
                inside = False
        elif byte == 0x22:
            inside = True
        elif byte in (0x5B, 0x7B):
            level += 1
            deepest = max(deepest, level)
        elif byte in (0x5D, 0x7D):
            level -= 1
    return deepest


def parse_json(data: bytes, max_depth: int) -> Any:
    if depth(data) > max_depth:
        raise ApiError(400, f"the JSON body is nested deeper than {max_depth} levels")
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "the body is not valid JSON") from None


async def read_json_object(request: Request, max_bytes: int, max_depth: int, timeout: float) -> dict[str, Any]:
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        raise ApiError(415, "send Content-Type: application/json")
    payload = parse_json(await read_body(request, max_bytes, timeout), max_depth)
    if not isinstance(payload, dict):
        raise ApiError(400, "the body is not a JSON object")
    return payload
