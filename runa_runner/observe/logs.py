"""The logging of ``runa-runner work``: one stderr handler, text or JSON lines.

Records carry their facts as ``extra=`` fields (DESIGN §11: ``event, worker, queue, job,
id, attempt, duration, error``); the formatters only lay them out. :class:`JobFilter`
adds the job of the current run (:mod:`.running`) to a handler's own records, so
``logging.getLogger(__name__).info(...)`` in a handler says which job it was.
:class:`LogObserver` turns run events into records at the levels an operator needs:
a retry at INFO with the error's first line, a final failure or a lost lease at
WARNING, the traceback at DEBUG (and always in ``runa-runner job ID``).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any, Literal, TextIO

from ..drivers.base import Outcome
from ..events import Observer, outcome_name
from ..job import Envelope
from .running import current

LogFormat = Literal["text", "json"]
FORMATS: tuple[LogFormat, ...] = ("text", "json")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
#: Our stderr handler's name (added once, even when main() runs several times in a process).
HANDLER_NAME = "runa-runner-cli"
#: The ``extra=`` fields of DESIGN §11, in the order a JSON line lists them.
FIELDS = ("event", "worker", "queue", "job", "id", "attempt", "duration", "error")
#: Chatty client libraries: their INFO/DEBUG lines are about frames, not jobs.
QUIET = ("aio_pika", "aiormq", "asyncio", "redis")

log = logging.getLogger("runa_runner.worker")


def setup(level: str = "INFO", fmt: LogFormat = "text", stream: TextIO | None = None) -> None:
    """Send every logger's records at ``level`` and above to stderr as ``fmt`` lines.

    The root logger takes the level, so a handler's own loggers propagate at it too.
    """
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(old)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(HANDLER_NAME)
    handler.addFilter(JobFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("runa_runner").setLevel(logging.NOTSET)
    for name in QUIET:
        logging.getLogger(name).setLevel(max(logging.getLevelName(level), logging.WARNING))


class JobFilter(logging.Filter):
    """Tags a record made during a run with that run's worker, queue, job, id and attempt
    (fields the record already has are kept)."""

    def filter(self, record: logging.LogRecord) -> bool:
        tag = current.get()
        if tag is not None:
            for name in ("worker", "queue", "job", "id", "attempt"):
                if not hasattr(record, name):
                    setattr(record, name, getattr(tag, name))
        return True


def fields(record: logging.LogRecord) -> dict[str, Any]:
    """The §11 fields a record carries (None ones left out)."""
    return {name: value for name in FIELDS
            if (value := getattr(record, name, None)) is not None}


def timestamp(record: logging.LogRecord) -> str:
    """ISO 8601 in UTC with milliseconds: ``2027-03-28T01:00:00.123Z``."""
    whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
    return f"{whole}.{int(record.msecs):03d}Z"


class TextFormatter(logging.Formatter):
    """``TIME LEVEL LOGGER: message [job=.. id=.. attempt=.. duration=..]``."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{timestamp(record)} {record.levelname:<7} {record.name}: {record.getMessage()}"
        tags = fields(record)
        shown = [f"{k}={_text(k, tags[k])}" for k in ("job", "id", "attempt", "duration")
                 if k in tags]
        if shown:
            line += f" [{' '.join(shown)}]"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ``ts, level, logger, message`` and the §11 fields."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {"ts": timestamp(record), "level": record.levelname,
                                "logger": record.name, "message": record.getMessage()}
        data.update(fields(record))
        if record.exc_info:
            data["traceback"] = self.formatException(record.exc_info)
        elif (trace := getattr(record, "traceback", None)) is not None:
            data["traceback"] = trace
        return json.dumps(data, ensure_ascii=False, default=str)


def _text(name: str, value: Any) -> str:
    return f"{value:.3f}s" if name == "duration" and isinstance(value, float) else str(value)


def first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0] if lines else ""


class LogObserver(Observer):
    """Run events as log records (the levels of DESIGN §11)."""

    def on_started(self, worker: str, envelope: Envelope) -> None:
        if log.isEnabledFor(logging.DEBUG):
            log.debug("job started", extra=_job("job.started", worker, envelope))

    def on_settled(self, worker: str, envelope: Envelope, outcome: Outcome, held: bool,
                   duration: float) -> None:
        extra = _job("", worker, envelope, duration=round(duration, 6))
        if not held:
            extra["event"] = "job.unheld"
            log.info("job ended %s after losing its lease: nothing recorded",
                     outcome_name(outcome), extra=extra)
            return
        name = outcome_name(outcome)
        extra["event"] = f"job.{name}"
        if name == "succeeded":
            if log.isEnabledFor(logging.DEBUG):
                log.debug("job succeeded", extra=extra)
        elif name == "retried":
            extra["error"] = first_line(outcome.error)
            log.info("job retried in %gs: %s", outcome.delay, extra["error"], extra=extra)
        elif name == "released":
            log.info("job released to its queue (worker stopping; attempt given back)",
                     extra=extra)
        else:
            self._failed(extra, outcome)

    @staticmethod
    def _failed(extra: dict[str, Any], outcome: Outcome) -> None:
        extra["error"] = outcome.error or ""
        log.warning("job failed for good: %s", first_line(outcome.error), extra=extra)
        if outcome.traceback and log.isEnabledFor(logging.DEBUG):
            log.debug("job traceback:\n%s", outcome.traceback.rstrip(),
                      extra={**extra, "event": "job.traceback"})

    def on_lease_lost(self, worker: str, envelope: Envelope) -> None:
        log.warning("job lost its lease: cancelling this run (another worker may run it)",
                    extra=_job("lease.lost", worker, envelope))

    def on_driver_down(self, worker: str, driver: str, error: BaseException) -> None:
        log.warning("worker %s: driver unavailable, retrying with backoff: %s", worker, error,
                    extra={"event": "driver.down", "worker": worker, "error": str(error)})

    def on_driver_up(self, worker: str, driver: str) -> None:
        log.warning("worker %s: driver available again", worker,
                    extra={"event": "driver.up", "worker": worker})


def _job(event: str, worker: str, env: Envelope, **more: Any) -> dict[str, Any]:
    return {"event": event, "worker": worker, "queue": env.queue, "job": env.job, "id": env.id,
            "attempt": env.attempt, **more}
