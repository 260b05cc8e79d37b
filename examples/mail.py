"""An async handler with a typed payload: ``runa-runner push mail.send --json '{"to": ...}'``."""

from __future__ import annotations

from pydantic import BaseModel

from runa_runner import Job


class EmailJob(BaseModel):
    """The payload of ``mail.send``."""

    to: str
    subject: str = "Hello from runa-runner"


async def send_email(job: Job[EmailJob]) -> None:
    """Pretend to send an email (a real handler would await an SMTP or HTTP client)."""
    print("send email to", job.payload.to, f"(attempt {job.attempt})")
