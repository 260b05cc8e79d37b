"""Driver URLs checked at validate: a typo is one line naming the key, never a later traceback.

The messages never repeat the URL: it may hold a password.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import SplitResult, urlsplit

from .document import Document
from .problems import Problem
from .view import View

#: Accepted schemes per built-in driver type.
SCHEMES: dict[str, tuple[str, ...]] = {
    "redis": ("redis", "rediss", "unix"),
    "amqp": ("amqp", "amqps"),
}
_BRACKETS = "invalid URL: the host in [brackets] is not an IPv6 address"
_PORT = "invalid URL: the port must be a number from 1 to 65535"
_ENCODE = ("holds an unencoded '#', '/', '?' or '@' in its user or password: "
           "percent-encode them (%23, %2F, %3F, %40)")


def url_problem(url: str, schemes: tuple[str, ...]) -> str | None:
    """What is wrong with ``url`` for a driver accepting ``schemes``, or None."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # "Invalid IPv6 URL" (an unclosed '['), or no address inside
        if "Invalid IPv6" in str(exc):
            return "invalid URL: an IPv6 host needs its closing ']', e.g. [::1]:6379"
        return _BRACKETS
    if parts.scheme not in schemes:
        shown = ", ".join(f"{s}://" for s in schemes)
        return f"invalid URL: expected one starting with {shown}"
    if "@" in parts.path + parts.query + parts.fragment or parts.fragment:
        return "invalid URL: it " + _ENCODE
    if parts.scheme == "unix":
        return None if parts.path else "invalid URL: expected unix:///path/to/redis.sock"
    return _host_problem(parts) or _database_problem(parts)


def _host_problem(parts: SplitResult) -> str | None:
    try:
        port = parts.port
    except ValueError:  # a port that is no number, or out of range
        return _PORT
    return _PORT if port == 0 else None


def _database_problem(parts: SplitResult) -> str | None:
    database = parts.path.strip("/")
    if parts.scheme.startswith("redis") and database and not database.isdigit():
        return "invalid URL: the Redis database must be a number, e.g. redis://host:6379/0"
    return None


def check_driver_urls(doc: Document, view: View) -> Iterator[Problem]:
    """Every declared redis/amqp driver's ``url`` parses as one."""
    for name, entry in view.drivers.items():
        schemes = SCHEMES.get(str(entry.get("type")))
        url = entry.get("url")
        if schemes is None or not isinstance(url, str) or "${" in url:
            continue  # not a URL type, or a ${VAR} left unexpanded (reported as unset)
        problem = url_problem(url, schemes)
        if problem is not None:
            yield doc.problem(("drivers", name, "url"), problem)
