"""The Redis driver: ``RedisDriver(url, prefix=..., cluster=...)``.

Needs the ``redis`` extra (``pip install 'runa-runner[redis]'``); this package is
the only place in runa-runner that imports ``redis``.
"""

from ..base import DriverType
from .driver import CONFIG, RedisDriver

#: The ``redis`` driver type.
DRIVER_TYPE = DriverType("redis", RedisDriver.CAPABILITIES, CONFIG, RedisDriver.from_config)

__all__ = ["DRIVER_TYPE", "RedisDriver"]
