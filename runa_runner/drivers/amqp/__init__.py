"""The AMQP (RabbitMQ) driver package; only this package imports aio-pika."""

from ..base import DriverType
from .driver import CONFIG, AMQPDriver

#: The ``amqp`` driver type.
DRIVER_TYPE = DriverType("amqp", AMQPDriver.CAPABILITIES, CONFIG, AMQPDriver.from_config)

__all__ = ["DRIVER_TYPE", "AMQPDriver"]
