"""The PostgreSQL driver: ``PostgresDriver(url, schema=..., pool_size=..., notify=...)``.

Needs the ``postgres`` extra (``pip install 'runa-runner[postgres]'``); this package is
the only place in runa-runner that imports ``psycopg``.
"""

from .driver import PostgresDriver

__all__ = ["PostgresDriver"]
