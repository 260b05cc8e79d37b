"""The PostgreSQL driver: ``PostgresDriver(url, schema=..., pool_size=..., notify=...)``.

Needs the ``postgres`` extra (``pip install 'runa-runner[postgres]'``); this package is
the only place in runa-runner that imports ``psycopg``.
"""

from ..base import DriverType
from .driver import CONFIG, PostgresDriver

#: The ``postgres`` driver type.
DRIVER_TYPE = DriverType("postgres", PostgresDriver.CAPABILITIES, CONFIG,
                         PostgresDriver.from_config)

__all__ = ["DRIVER_TYPE", "PostgresDriver"]
