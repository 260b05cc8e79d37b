"""``redact``: the one function every printed URL goes through (no I/O).

Each case says what a user sees; the secret must never survive, the host should.
"""

from __future__ import annotations

import pytest

from runa_runner.redaction import redact, scrub, secrets

CASES = [
    ("redis://:S3ntinel-pw@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
    ("rediss://bob:S3ntinel-pw@cache:6380/2", "rediss://bob:***@cache:6380/2"),
    ("redis://127.0.0.1:6379/0?password=S3ntinel-pw", "redis://127.0.0.1:6379/0?password=***"),
    ("redis://h:1/0?db=2&PassWord=S3ntinel-pw&x=1", "redis://h:1/0?db=2&PassWord=***&x=1"),
    ("redis://h/0?pass%77ord=S3ntinel-pw", "redis://h/0?pass%77ord=***"),
    ("amqp://g@h/?auth_token=S3ntinel-pw&heartbeat=5", "amqp://***@h/?auth_token=***&heartbeat=5"),
    ("unix:///run/redis.sock?db=1&secret=S3ntinel-pw", "unix:///run/redis.sock?db=1&secret=***"),
    # an unencoded '#', '/', '?' or '@' in the password: hidden up to the last '@'
    ("redis://:S3nt#S3ntinel-pw@h:6379/0", "redis://***@h:6379/0"),
    ("redis://:S3ntinel-pw#S3ntinel-pw@h:6379/0", "redis://***@h:6379/0"),
    ("amqp://u:S3ntinel/pw?S3ntinel-pw@h:5672/", "amqp://***@h:5672/"),
    ("amqp://u:S3ntinel@pw@S3ntinel-pw@h:5672/", "amqp://***@h:5672/"),
    ("redis://h/0?password=S3ntinel@pw", "redis://h/0?password=***"),
    ("redis://:S3ntinel-pw#tail", "redis://***"),  # no host to show: nothing is
    ("redis://S3ntinel-pw@h", "redis://***@h"),  # a lone userinfo may be a password
    ("not a url S3ntinel-pw@h", "***@h"),
    ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
    ("amqp://guest:guest@127.0.0.1:5672/?heartbeat=5", "amqp://guest:***@127.0.0.1:5672/?heartbeat=5"),
]


@pytest.mark.parametrize(("url", "shown"), CASES)
def test_redact_hides_every_secret_and_keeps_the_host(url: str, shown: str) -> None:
    assert redact(url) == shown
    assert "S3ntinel" not in redact(url)


@pytest.mark.parametrize(("url", "shown"), CASES)
def test_a_client_message_quoting_any_part_of_the_password_is_scrubbed(
    url: str, shown: str
) -> None:
    # what URL parsers say: the whole URL, or the text after the last ':' taken as a port
    message = f"cannot use {url}: bad port {url.split('#')[0].split('@')[0].rsplit(':')[-1]!r}"
    assert "S3ntinel" not in scrub(message, secrets(url))


def test_percent_encoded_passwords_are_hidden_decoded_too() -> None:
    url = "redis://:S3n%23tinel@h/0"
    assert redact(url) == "redis://:***@h/0"
    assert scrub("auth failed for 'S3n#tinel'", secrets(url)) == "auth failed for '***'"
