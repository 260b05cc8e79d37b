"""The logging of ``runa-runner work``: one stderr handler, text or JSON lines.

Records carry their facts as ``extra=`` fields (DESIGN §11: ``event, worker, queue, job,
id, attempt, duration, error``); the formatters only lay them out. :class:`JobFilter`
adds the job of the current run (:mod:`.running`) to a handler's own records, so
``logging.getLogger(__name__).info(...)`` in a handler says which job it was.
The records themselves are made where things happen (:class:`~runa_runner.events.JobLog`
for runs, :mod:`~runa_runner.outage` for drivers, the unit for leases, ``work`` for
start and stop).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any, Literal, TextIO

from .running import current

LogFormat = Literal["text", "json"]
FORMATS: tuple[LogFormat, ...] = ("text", "json")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
#: Our stderr handler's name (added once, even when main() runs several times in a process).
HANDLER_NAME = "runa-runner-cli"
#: The ``extra=`` fields of DESIGN §11, in the order a JSON line lists them.
FIELDS = ("event", "worker", "schedule", "queue", "job", "id", "attempt", "duration",
          "error")
#: Chatty client libraries: their INFO/DEBUG lines are about frames, not jobs.
QUIET = ("aio_pika", "aiormq", "asyncio", "redis")


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
    """``TIME LEVEL LOGGER: message [job=.. id=.. attempt=.. duration=..]`` (the fields
    the message does not already say)."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{timestamp(record)} {record.levelname:<7} {record.name}: {record.getMessage()}"
        tags = fields(record)
        # Our records name the job in their message; a handler's own record does not.
        keys = ("duration",) if "event" in tags else ("job", "id", "attempt", "duration")
        shown = [f"{k}={_text(k, tags[k])}" for k in keys if k in tags]
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
