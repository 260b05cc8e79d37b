"""The one way a URL reaches a message: its secrets replaced by ``***``.

Every driver URL we print (the ``work`` start line, errors, warnings, logs) goes
through :func:`redact`. It hides the password of the userinfo and the value of
every query parameter named like a secret (``?password=``, ``token``, ``key``,
``auth``, ...). A URL that does not parse cleanly (an unencoded ``#``, ``/``,
``?`` or ``@`` in a password) is redacted conservatively: everything before its
last ``@`` is hidden, since we cannot tell where the password ends, and so is a
fragment (a driver URL never has one: a ``#`` is part of a password). What was
hidden is listed by :func:`secrets`, so a client library's own message can be
scrubbed of it too (:func:`scrub`).
"""

from __future__ import annotations

import re
from urllib.parse import unquote

#: Shown in place of a secret.
MASK = "***"
#: Query parameter names (lowercased, percent-decoded) holding a secret contain one of these.
SECRET_PARAMS = ("pass", "pwd", "secret", "token", "key", "auth", "cred")

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
#: ``name=value`` after ``?`` or ``&``; the value runs to the next ``&`` (or the end).
_PARAM = re.compile(r"(?<=[?&;])([^=&;]*)=([^&;]*)")


def redact(url: str) -> str:
    """``url`` safe to print: its password, secret query values and fragment masked."""
    return _split(url)[0]


def secrets(url: str) -> list[str]:
    """What :func:`redact` hides, raw and percent-decoded, longest first."""
    hidden = set(_split(url)[1])
    hidden |= {unquote(s) for s in hidden}
    return sorted((s for s in hidden if s and s != MASK), key=len, reverse=True)


def scrub(text: str, hidden: list[str]) -> str:
    """``text`` with every string of ``hidden`` (from :func:`secrets`) masked."""
    for secret in hidden:
        text = text.replace(secret, MASK)
    return text


def _split(url: str) -> tuple[str, list[str]]:
    """(the URL as shown, the secrets it held)."""
    scheme, sep, rest = url.partition("://")
    if not sep or not _SCHEME.fullmatch(scheme):
        scheme, sep, rest = "", "", url
    hidden: list[str] = []

    def mask(match: re.Match[str]) -> str:
        name, value = match.group(1), match.group(2)
        if not _secret_name(name):
            return match.group(0)
        hidden.extend([value, *_pieces(value)])
        return f"{name}={MASK}"

    rest = _PARAM.sub(mask, rest)
    if "@" in rest:
        userinfo, _, host = rest.rpartition("@")
        user, colon, password = userinfo.partition(":")
        if colon and _clean(userinfo):
            hidden.append(password)
            rest = f"{user}:{MASK}@{host}"
        else:  # "secret@host" (some clients read a password), or a password we cannot bound
            # a parser may quote any piece of it: each piece is a secret too
            hidden += [userinfo, *_pieces(userinfo)]
            rest = f"{MASK}@{host}"
    if "#" in rest:  # in a driver URL only a password holds '#': hide from it on
        head, _, tail = rest.partition("#")
        if "@" in head:  # the password is already hidden; the fragment is a stray
            hidden.append(tail)
            rest = f"{head}#{MASK}"
        else:  # where a password would start is unknown: hide all after the scheme
            hidden += [rest, *_pieces(rest)]
            rest = MASK
    return f"{scheme}{sep}{rest}", hidden


def _pieces(text: str) -> list[str]:
    """The parts of an unbounded password a URL parser may quote in its error (the
    shortest left out: scrubbing "0" or "h" from a message would garble it)."""
    return [p for p in re.split(r"[:/?#@]", text) if len(p) >= 4]


def _clean(userinfo: str) -> bool:
    # RFC 3986 userinfo has no unencoded '/', '?', '#' or '@'; with one, the split is a guess.
    return not any(ch in userinfo for ch in "/?#@")


def _secret_name(name: str) -> bool:
    lowered = unquote(name).lower()
    return any(marker in lowered for marker in SECRET_PARAMS)
