"""The Redis driver: ``RedisDriver(url, prefix=..., cluster=...)``.

Needs the ``redis`` extra (``pip install 'runa-runner[redis]'``); this package is
the only place in runa-runner that imports ``redis``.
"""

from .driver import RedisDriver

__all__ = ["RedisDriver"]
