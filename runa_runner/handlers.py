"""Handler introspection, done once at registration: sync or async, and the payload type."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from typing import Any

from pydantic import PydanticSchemaGenerationError, PydanticUserError, TypeAdapter

from .errors import ConfigError
from .job import Job


def is_async_handler(handler: Callable[..., Any]) -> bool:
    # A callable object's coroutine-ness is on its __call__ method.
    target = handler if inspect.isroutine(handler) else type(handler).__call__
    return inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(target)


def payload_type(handler: Callable[..., Any]) -> Any:
    """The ``T`` of the handler's first parameter annotation ``Job[T]``, or ``Any``."""
    try:
        sig = inspect.signature(handler)
    except (TypeError, ValueError):
        return Any
    params = [
        p for p in sig.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    if not params:
        raise ConfigError(f"handler {_name(handler)} must accept one argument (the job)")
    # A callable object's annotations are on its __call__ method.
    annotated = handler if inspect.isroutine(handler) else type(handler).__call__
    try:
        hints = typing.get_type_hints(annotated)
    except Exception:  # an unresolvable annotation means "no payload type"
        hints = {}
    ann = hints.get(params[0].name, Any)
    if typing.get_origin(ann) is Job:
        args = typing.get_args(ann)
        return args[0] if args else Any
    return Any


def payload_adapter(handler: Callable[..., Any], ptype: Any) -> TypeAdapter[Any] | None:
    if ptype is Any:
        return None
    try:
        return TypeAdapter(ptype)
    except (PydanticSchemaGenerationError, PydanticUserError) as exc:
        # e.g. typing.TypedDict on Python < 3.12: pydantic's own message says what to use.
        reason = " ".join(str(exc).split("\n\n", 1)[0].split())
        raise ConfigError(
            f"handler {_name(handler)}: payload type {ptype!r} cannot be validated by "
            f"pydantic: {reason}"
        ) from None


def _name(handler: Callable[..., Any]) -> str:
    module = getattr(handler, "__module__", "?")
    return f"{module}:{getattr(handler, '__qualname__', repr(handler))}"
