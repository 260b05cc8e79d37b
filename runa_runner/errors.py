"""Every error runa-runner raises on purpose, rooted at :class:`RunaError`.

Each class's docstring doubles as its default message, so ``raise QueueNotFound()``
still says something useful; callers normally pass a message that names the
queue, worker, job or file involved.
"""

from __future__ import annotations


class RunaError(Exception):
    """runa-runner failed."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (type(self).__doc__ or "").strip())

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class ConfigError(RunaError):
    """The manifest or a builder call is invalid."""


class RegistryFrozen(RunaError):
    """The registry is frozen and cannot be changed."""


class UnknownName(RunaError):
    """No driver, queue, worker or job has that name."""


class PayloadInvalid(RunaError):
    """The payload does not match the job's payload type."""

    def __init__(self, job: str, errors: list[tuple[str, str]]) -> None:
        self.job = job
        self.errors = errors
        lines = [f"{job}: {field}: {msg}" if field else f"{job}: {msg}" for field, msg in errors]
        super().__init__("\n".join(lines))


class PushMiddlewareFailed(RunaError):
    """A push middleware raised; the job was not pushed (the error is the cause)."""


class DriverError(RunaError):
    """A driver operation failed."""


class DriverUnavailable(DriverError):
    """The driver's server cannot be reached."""


class Unsupported(DriverError):
    """The driver does not support this operation."""

    def __init__(self, driver: str, operation: str) -> None:
        super().__init__(f"driver '{driver}' does not support {operation}")
        self.driver = driver
        self.operation = operation


class MissingExtra(ConfigError):
    """An optional dependency of a driver is not installed."""


class Abort(RunaError):
    """Raised by a handler to fail the job at once, with no retry."""

    def __init__(self, reason: str = "aborted") -> None:
        super().__init__(reason)
        self.reason = reason


class RetryIn(RunaError):
    """Raised by a handler to retry the job after a chosen delay (spends one retry)."""

    def __init__(self, seconds: float, reason: str | None = None) -> None:
        super().__init__(reason or f"retry requested in {seconds}s")
        self.seconds = float(seconds)


class StopTimedOut(RunaError):
    """The worker's stop_timeout elapsed with jobs still running; they were released."""


class WorkerFailed(RunaError):
    """A side task of the worker died unexpectedly; the worker stopped and released its jobs."""


class JobNotFound(UnknownName, KeyError):
    """No such job, or it succeeded and was not kept."""

    def __str__(self) -> str:  # KeyError would quote the message
        return self.message


class JobFailed(RunaError):
    """The job failed for good (or was cancelled); ``error`` is its last error."""

    def __init__(self, job_id: str, error: str | None) -> None:
        super().__init__(f"job '{job_id}' failed: {error or 'failed'}")
        self.job_id = job_id
        self.error = error


class NotCancellable(RunaError):
    """The job already ended (failed, or succeeded and kept): there is nothing to cancel."""
