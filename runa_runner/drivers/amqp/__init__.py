"""The AMQP (RabbitMQ) driver package; only this package imports aio-pika."""

from .driver import AMQPDriver

__all__ = ["AMQPDriver"]
