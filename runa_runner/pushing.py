"""From a push call to envelopes: payload validation, option resolution, meta merge."""

from __future__ import annotations

import inspect
import json
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any

from pydantic import ValidationError

from .drivers.base import BlockingPush, Capability, Driver, PushItem, UniqueUntil
from .errors import (
    ConfigError,
    PayloadInvalid,
    PushMiddlewareFailed,
    RunaError,
    UnknownName,
    Unsupported,
)
from .events import Observer
from .job import Envelope, new_ids
from .limits import MAX_DEPTH, MAX_PAYLOAD_DEPTH, MAX_RECORD_BYTES, check_setting
from .middleware import compose
from .observe import tracing
from .records import too_deep
from .specs import JobSpec, PushMiddleware, QueueSpec
from .suggest import lookup

#: Payload JSON as drivers write it; built once (json.dumps with options builds one per call).
_encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
#: The C encoder that ``_encoder.encode`` makes anew on every call, made once per thread
#: (its cycle markers are its own): half the cost of a small payload.
_local = threading.local()


def _encode(payload: Any) -> str:
    """``_encoder.encode(payload)``, faster."""
    if c_make_encoder is None:
        return _encoder.encode(payload)
    try:
        markers, encode = _local.encoder
    except AttributeError:
        markers = {}
        encode = c_make_encoder(markers, _encoder.default, encode_basestring, None, ":", ",",
                                False, False, False)
        _local.encoder = markers, encode
    try:
        return "".join(encode(payload, 0))
    except BaseException:
        markers.clear()  # a failed encode leaves its markers behind
        raise

#: Envelope JSON exactly as Envelope.to_json writes it.
_wire = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
#: Stand-ins for a job's id and payload while a Template splits its envelope's JSON.
_ID_MARK = "\x00id"
_PAYLOAD_MARK = "\x00payload"

#: Payload characters below which the envelope surely fits MAX_RECORD_BYTES (4 bytes a
#: character at most, with room for the envelope): bigger ones are measured.
_SURELY_STORABLE = MAX_RECORD_BYTES // 4 - 65_536
#: Bytes a driver may add to the envelope (the id, enqueued_at and available_at stamps).
_STAMPS = 256

#: Jobs per progress step of ``runa-runner push --jsonl``.
BATCH = 500
#: Jobs per driver call in push_many: bounds one call's memory and, on SQLite, how long
#: one transaction holds the write lock; large enough for Redis to stream its chunks.
DRIVER_BATCH = 5000


@dataclass(frozen=True, slots=True)
class PushOptions:
    """Per-push overrides; None inherits (push > job > queue)."""

    queue: str | None = None
    delay: float | None = None
    unique: str | None = None
    unique_until: UniqueUntil | None = None
    unique_for: float | None = None
    retry: int | None = None
    retry_delay: float | None = None
    timeout: float | None = None
    meta: Mapping[str, Any] | None = None
    result_ttl: float | None = None


@dataclass(frozen=True, slots=True)
class Pushed:
    """One push's outcome: the job's id, which is an older job's when the push's unique
    key was held (``already_queued``: nothing new was stored)."""

    id: str
    already_queued: bool = False


def first(*values: Any) -> Any:
    """The first value that is not None (option resolution: push, job, queue)."""
    for v in values:
        if v is not None:
            return v
    return None


def validate_payload(spec: JobSpec, payload: Any) -> Any:
    """The payload as JSON-ready data, or PayloadInvalid with one entry per bad field."""
    return encode_payload(spec, payload)[0]


def encode_payload(spec: JobSpec, payload: Any) -> tuple[Any, str]:
    """The validated payload and its JSON text (encoded once: the envelope reuses it)."""
    if spec.adapter is not None:
        try:
            value = spec.adapter.validate_python(payload)
        except ValidationError as exc:
            errors = [
                (".".join(str(p) for p in err["loc"]) or "payload", err["msg"])
                for err in exc.errors(include_url=False)
            ]
            raise PayloadInvalid(spec.name, errors) from None
        payload = spec.adapter.dump_python(value, mode="json")
    try:
        text = _encode(payload)  # refused here, before anything is enqueued
    except (TypeError, ValueError, RecursionError) as exc:
        why = f"nested deeper than {MAX_PAYLOAD_DEPTH} levels" if isinstance(
            exc, RecursionError) else str(exc)
        raise PayloadInvalid(spec.name, [("", f"payload is not JSON-serialisable: {why}")]
                             ) from None
    problem = unstorable(text)
    if problem is not None:
        raise PayloadInvalid(spec.name, [("", f"payload {problem}")])
    return payload, text


def unstorable(text: str, depth: int = MAX_PAYLOAD_DEPTH) -> str | None:
    """Why JSON ``text`` could not be stored and read back (records.loads would refuse
    it: not UTF-8, too deep), or None. ASCII text, the common case, costs one scan."""
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError as exc:  # a lone surrogate, e.g. from "\ud800"
            return (f"is not valid UTF-8: lone surrogate {text[exc.start]!r} "
                    f"at character {exc.start}")
    if too_deep(text, depth):
        return f"is nested deeper than {depth} levels"
    return None


def check_options(opts: PushOptions) -> None:
    """Every numeric option in its documented range (limits.py): one ConfigError line."""
    for name in ("delay", "unique_for", "retry_delay", "timeout", "retry", "result_ttl"):
        value = getattr(opts, name)
        if value is not None:
            try:
                check_setting(name, value)
            except ValueError as exc:
                raise ConfigError(f"push option {exc}") from None
    if opts.unique_until not in (None, "done", "start"):
        raise ConfigError(f"push option unique_until must be 'done' or 'start', "
                          f"got {opts.unique_until!r}")


@dataclass(frozen=True, slots=True)
class Template:
    """Everything a batch of pushes shares, resolved once per call (push > job > queue)."""

    spec: JobSpec
    queue: QueueSpec
    max_retries: int
    retry_delay: float
    timeout: float | None
    meta: dict[str, Any]
    unique: str | None
    delay: float
    unique_until: UniqueUntil
    unique_for: float | None
    result_ttl: float
    #: The envelope's JSON before the id, between id and payload, and after the
    #: payload: a job's wire text is then joined, not encoded a second time.
    wire: tuple[str, str, str] = ("", "", "")

    @classmethod
    def resolve(cls, spec: JobSpec, queue: QueueSpec, opts: PushOptions) -> Template:
        timeout = first(opts.timeout, spec.timeout, queue.timeout)
        max_retries = int(first(opts.retry, spec.retry, queue.retry))
        retry_delay = float(first(opts.retry_delay, spec.retry_delay, queue.retry_delay))
        timeout = None if timeout is None or timeout == 0 else float(timeout)
        meta = {**queue.meta, **spec.meta, **(opts.meta or {})}
        result_ttl = float(first(opts.result_ttl, spec.result_ttl, queue.result_ttl))
        sample = Envelope(_ID_MARK, queue.name, spec.name, _PAYLOAD_MARK, 0, max_retries,
                          retry_delay, timeout, meta, opts.unique, result_ttl=result_ttl)
        # The id and payload come before meta and unique, so the first match is theirs.
        head, _, rest = _wire(sample.to_dict()).partition(_wire(_ID_MARK))
        mid, _, tail = rest.partition(_wire(_PAYLOAD_MARK))
        problem = unstorable(head + mid + tail, MAX_DEPTH)
        if problem is not None:  # meta or unique key: refused before anything is stored
            where = problem.partition(" at character")[0]  # a place in the envelope: no help
            raise ConfigError(f"push of '{spec.name}': meta or unique key {where}")
        return cls(
            spec=spec,
            queue=queue,
            max_retries=max_retries,
            retry_delay=retry_delay,
            timeout=timeout,
            meta=meta,
            unique=opts.unique,
            delay=float(opts.delay or 0.0),
            unique_until=first(opts.unique_until, spec.unique_until),
            unique_for=first(opts.unique_for, spec.unique_for),
            result_ttl=result_ttl,
            wire=(head, mid, tail),
        )

    def item(self, payload: Any, text: str) -> PushItem:
        """One job of the batch: ``payload`` validated, ``text`` its JSON."""
        return self.items([(payload, text)])[0]

    def items(self, encoded: Sequence[tuple[Any, str]]) -> list[PushItem]:
        """``item`` for each ``(payload, text)`` of a batch, in order; the per-job work of
        a bulk push, so its loop is kept tight (ids made together, fields bound once)."""
        limit = self.queue.max_payload_bytes
        for _, text in encoded:
            if limit is not None or len(text) > _SURELY_STORABLE:
                self._check_size(len(text.encode()), limit)
        head, mid, tail = self.wire
        queue, job, retries, retry_delay = (self.queue.name, self.spec.name,
                                            self.max_retries, self.retry_delay)
        timeout, meta, unique, ttl = self.timeout, self.meta, self.unique, self.result_ttl
        delay, until, unique_for = self.delay, self.unique_until, self.unique_for
        return [
            PushItem(Envelope(job_id, queue, job, payload, 0, retries, retry_delay, timeout,
                              meta, unique, 0.0, 0.0, ttl),
                     delay, until, unique_for, f'{head}"{job_id}"{mid}{text}{tail}')
            for job_id, (payload, text) in zip(new_ids(len(encoded)), encoded, strict=True)
        ]

    def _check_size(self, size: int, limit: int | None) -> None:
        if limit is not None and size > limit:
            raise PayloadInvalid(self.spec.name, [(
                "", f"payload is {size} bytes, over queue '{self.queue.name}' limit of "
                f"{limit} bytes",
            )])
        # a stored record larger than this is refused when read (records.loads)
        room = MAX_RECORD_BYTES - len("".join(self.wire).encode()) - _STAMPS
        if size > room:
            raise PayloadInvalid(self.spec.name, [(
                "", f"payload is {size:,} bytes, over the {room:,} bytes a job may hold")])


#: Resolved templates kept per pusher; options vary (delay, retry), so the cache is bounded.
TEMPLATE_CACHE = 256

OpenDriver = Callable[[str], Awaitable[Driver]]


class Pusher:
    """Pushes the jobs of one frozen registry: built at freeze from its specs, drivers
    and connections, it owns the cache of resolved templates (the specs never change).

    Args:
        queues, jobs: the frozen specs by name.
        drivers: the registry's drivers by name (checked once for a blocking push).
        open_driver: the driver by name, opened on the running event loop.
        middleware: push middleware for every queue (outermost first).
        events: told ``on_pushed`` after each store.
    """

    def __init__(
        self, queues: Mapping[str, QueueSpec], jobs: Mapping[str, JobSpec],
        drivers: Mapping[str, Driver], open_driver: OpenDriver,
        middleware: Sequence[PushMiddleware] = (), events: Observer | None = None,
    ) -> None:
        self._queues = queues
        self._jobs = jobs
        self._open = open_driver
        self._drivers = drivers
        self._middleware = tuple(middleware)
        #: drivers that can push from sync code without an event loop
        self._blocking = {name: d for name, d in drivers.items() if isinstance(d, BlockingPush)}
        #: drivers whose push takes ``connection=`` (writes in the caller's transaction)
        self._transactional = {name for name, d in drivers.items()
                               if "connection" in inspect.signature(d.push).parameters}
        self._templates: dict[tuple[str, PushOptions], Template] = {}
        self._events = events or Observer()

    async def push_many(self, job: str, payloads: Sequence[Any], opts: PushOptions,
                        connection: Any = None) -> list[str]:
        """Validate all payloads (nothing is enqueued if one is bad), then push in batches.

        ``connection`` (a database connection of the caller) makes the driver write inside
        the caller's transaction; only drivers whose ``push`` takes it accept one.
        """
        return await self._push(job, payloads, opts, connection)

    async def push_one(self, job: str, payload: Any, opts: PushOptions,
                       connection: Any = None) -> Pushed:
        """``push_many`` of one payload, telling whether its unique key was held: the
        driver then returns the holder's id instead of the id it was given."""
        asked: set[str] = set()
        [job_id] = await self._push(job, [payload], opts, connection, asked)
        return Pushed(job_id, already_queued=job_id not in asked)

    async def _push(self, job: str, payloads: Sequence[Any], opts: PushOptions,
                    connection: Any, asked: set[str] | None = None) -> list[str]:
        """Validate and store; ``asked`` collects the ids handed to the driver (after any
        push middleware changed the envelopes)."""
        template, items = self._prepare(job, payloads, opts)
        store = self._store(template.queue, await self._open(template.queue.driver), connection)
        if asked is not None:
            store = _noting(store, asked)
        chain = (*self._middleware, *template.queue.middleware)
        with tracing.producing(template.queue.name, template.spec.name) as trace:
            items = trace.stamp(items)
            if chain:
                ids = [await _through(chain, store, item) for item in items]
            else:
                ids = []
                for start in range(0, len(items), DRIVER_BATCH):
                    ids.extend(await store(items[start:start + DRIVER_BATCH]))
            trace.stored(ids)
        self._events.on_pushed(template.queue.name, template.spec.name, ids)
        return ids

    def push_blocking(self, job: str, payloads: Sequence[Any], opts: PushOptions,
                      connection: Any = None) -> list[str] | None:
        """``push_many`` in the caller's thread, when the queue's driver can push without
        an event loop and no push middleware (a coroutine) has to run; else None."""
        template = self.template(job, opts)
        blocking = self._blocking.get(template.queue.driver)
        if blocking is None or self._middleware or template.queue.middleware:
            return None
        extra = self._on_connection(template.queue, connection)
        _, items = self._prepare(job, payloads, opts)
        push: Callable[..., list[str]] = blocking.push_blocking
        ids: list[str] = []
        with tracing.producing(template.queue.name, template.spec.name) as trace:
            items = trace.stamp(items)
            for start in range(0, len(items), DRIVER_BATCH):
                ids.extend(push(items[start:start + DRIVER_BATCH], **extra))
            trace.stored(ids)
        self._events.on_pushed(template.queue.name, template.spec.name, ids)
        return ids

    def checker(self, job: str, opts: PushOptions) -> Callable[[Any], None]:
        """A check that refuses (PayloadInvalid) what ``push_many(job, [payload], opts)``
        would refuse, storing nothing: so a bulk push can check every payload first.

        Raises:
            ConfigError, UnknownName: ``opts`` or ``job`` are refused (before any payload).
        """
        template = self.template(job, opts)

        def check(payload: Any) -> None:
            template.item(*encode_payload(template.spec, payload))

        return check

    def _store(self, queue: QueueSpec, driver: Driver,
               connection: Any) -> Callable[[Sequence[PushItem]], Awaitable[list[str]]]:
        """The driver's push, inside the caller's transaction when ``connection`` is given."""
        extra = self._on_connection(queue, connection)
        if not extra:
            return driver.push
        push: Callable[..., Awaitable[list[str]]] = driver.push

        async def store(items: Sequence[PushItem]) -> list[str]:
            return await push(items, **extra)

        return store

    def _on_connection(self, queue: QueueSpec, connection: Any) -> dict[str, Any]:
        """The keyword that hands ``connection`` to the driver's push, or a ConfigError
        naming the queue when its driver cannot write inside a caller's transaction."""
        if connection is None:
            return {}
        if queue.driver not in self._transactional:
            raise ConfigError(
                f"queue '{queue.name}' uses driver '{queue.driver}' (type "
                f"{self._drivers[queue.driver].type_name}), which cannot push inside the "
                "caller's transaction: connection= needs a postgres driver")
        return {"connection": connection}

    def _prepare(self, job: str, payloads: Sequence[Any],
                 opts: PushOptions) -> tuple[Template, list[PushItem]]:
        template = self.template(job, opts)
        spec = template.spec
        return template, template.items([encode_payload(spec, p) for p in payloads])

    def template(self, job: str, opts: PushOptions) -> Template:
        """The job's template for ``opts``, resolved once per distinct options."""
        # A unique key or meta usually differs per push: those are resolved each time.
        key = (job, opts) if opts.unique is None and opts.meta is None else None
        found = self._templates.get(key) if key is not None else None
        if found is not None:
            return found
        check_options(opts)
        spec = lookup(self._jobs, job, "job")
        if opts.queue is None and spec.queue not in self._queues:
            raise UnknownName(f"job '{job}' has no queue (no queue '{spec.queue}' is declared): "
                              "push it with queue=...")
        template = Template.resolve(spec, lookup(self._queues, opts.queue or spec.queue, "queue"),
                                    opts)
        driver = self._drivers[template.queue.driver]
        if template.result_ttl > 0 and Capability.RESULTS not in driver.capabilities:
            raise Unsupported(driver.type_name, f"results (result_ttl), on queue "
                                                f"'{template.queue.name}'")
        if key is not None and len(self._templates) < TEMPLATE_CACHE:
            self._templates[key] = template
        return template


def _noting(store: Callable[[Sequence[PushItem]], Awaitable[list[str]]],
            asked: set[str]) -> Callable[[Sequence[PushItem]], Awaitable[list[str]]]:
    """``store``, adding the id of every job it is handed to ``asked``."""

    async def noting(items: Sequence[PushItem]) -> list[str]:
        asked.update(item.envelope.id for item in items)
        return await store(items)

    return noting


async def _through(chain: Sequence[PushMiddleware],
                   push: Callable[[Sequence[PushItem]], Awaitable[list[str]]],
                   item: PushItem) -> str:
    """Push one item through the middleware chain; each sees the envelope, returns the id."""

    async def store(envelope: Envelope) -> str:
        # The envelope may have changed: the driver encodes it again (no pre-built wire).
        return (await push([PushItem(envelope, item.delay, item.unique_until,
                                     item.unique_for)]))[0]

    call: Callable[[Envelope], Awaitable[str]] = compose([_guarded(mw) for mw in chain], store)
    return await call(item.envelope)


def _name(mw: Any) -> str:
    """``module:qualname``, as a manifest names a middleware."""
    return f"{getattr(mw, '__module__', '?')}:{getattr(mw, '__qualname__', repr(mw))}"


def _guarded(mw: PushMiddleware) -> PushMiddleware:
    """``mw``, its own failures (not ours, not those of the layers it calls) made one
    PushMiddlewareFailed line naming it."""

    async def guarded(envelope: Any, call_next: Callable[[Any], Awaitable[str]]) -> str:
        passing: list[BaseException] = []  # what the inner layers raised, passed through

        async def inner(env: Any) -> str:
            try:
                return await call_next(env)
            except BaseException as exc:
                passing.append(exc)
                raise

        try:
            result: str = await mw(envelope, inner)
        except RunaError:
            raise  # ours (a refused payload, a driver error): it says what it is
        except Exception as exc:
            if exc in passing:
                raise
            raise PushMiddlewareFailed(
                f"push middleware '{_name(mw)}' failed: {type(exc).__name__}: {exc}"
            ) from exc
        return result

    return guarded
