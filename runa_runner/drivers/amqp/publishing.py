"""Confirmed, persistent, mandatory publishing: a publish returns only once the
broker has the message in every queue it routes to (publisher confirm), and an
unroutable message is an error, never a silent drop.
"""

from __future__ import annotations

from aiormq import spec

from ...errors import DriverError
from ...job import Envelope
from . import names
from .link import Link
from .topology import Topology
from .wire import FailedRecord, job_body, properties


class Publisher:
    def __init__(self, link: Link, topology: Topology) -> None:
        self.link = link
        self.topology = topology

    async def job(self, env: Envelope, delay: float) -> None:
        """Publish ``env`` to its work queue, or to a holding queue when ``delay`` > 0."""
        await self.topology.ensure(env.queue)
        if delay > 0:
            holding = await self.topology.ensure_holding(env.queue, names.bucket_ms(delay))
            await self._publish("", holding, job_body(env), env.id)
        else:
            work = names.work_queue(self.topology.prefix, env.queue)
            await self._publish(self.topology.exchange_name, work, job_body(env), env.id)

    async def failed(self, rec: FailedRecord) -> None:
        queue = rec.envelope.queue
        await self.topology.ensure(queue)
        name = names.failed_queue(self.topology.prefix, queue)
        await self._publish("", name, rec.to_body(), rec.envelope.id)

    async def raw(self, routing_key: str, body: bytes, message_id: str) -> None:
        """Publish straight to the queue ``routing_key`` (default exchange)."""
        await self._publish("", routing_key, body, message_id)

    async def _publish(self, exchange: str, routing_key: str, body: bytes, message_id: str) -> None:
        where = f"publish of job {message_id} to '{routing_key}'"
        with self.link.guard(where):
            channel = await self.link.raw("publisher")
            confirm = await channel.basic_publish(
                body, exchange=exchange, routing_key=routing_key,
                properties=properties(message_id), mandatory=True,
            )
        if not isinstance(confirm, spec.Basic.Ack):
            raise DriverError(f"AMQP broker at {self.link.target} refused the {where}")
