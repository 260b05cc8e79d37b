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
    check_signature(handler, sig)
    params = [
        p for p in sig.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    if not params:
        return Any  # def handler(*args): it takes the job, with no payload type
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


def check_signature(handler: Callable[..., Any], sig: inspect.Signature) -> None:
    """Refuse a handler that cannot be called as ``handler(job)`` (or returns a generator).

    Raises:
        ConfigError: one line saying what the signature lacks or requires too.
    """
    target = handler if inspect.isroutine(handler) else type(handler).__call__
    if inspect.isgeneratorfunction(target) or inspect.isasyncgenfunction(target):
        raise ConfigError(f"handler {_name(handler)} is a generator function (it uses yield): "
                          "a handler must return or await, not yield")
    try:
        sig.bind(None)
    except TypeError:
        pass
    else:
        return
    params = list(sig.parameters.values())
    required = [p.name for p in params if p.default is p.empty
                and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    keywords = [p.name for p in params if p.default is p.empty and p.kind is p.KEYWORD_ONLY]
    why = "it takes no argument"
    if len(required) > 1:
        why = (f"it requires {len(required)} positional arguments ({', '.join(required)}); "
               "give the others defaults")
    elif keywords:
        why = (f"it also requires the keyword argument{'s' if len(keywords) > 1 else ''} "
               f"{', '.join(keywords)}; give {'them' if len(keywords) > 1 else 'it'} a default")
    raise ConfigError(f"handler {_name(handler)} must accept one argument (the job): {why}")


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
