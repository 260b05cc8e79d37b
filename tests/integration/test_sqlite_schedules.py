"""Schedule slots in SQLite: a version-1 database gains the table, hostile rows are refused
(nothing pushed), and a claim is one transaction."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from runa_runner.drivers.base import PushItem, SlotClaim
from runa_runner.drivers.sqlite import SQLiteDriver
from runa_runner.job import Envelope, new_id
from runa_runner.records import CorruptRecord


def claim(slot: float) -> SlotClaim:
    env = Envelope(id=new_id(), queue="q", job="j", payload={})
    return SlotClaim("q", "nightly", slot, PushItem(env))


async def test_a_version_1_database_gains_the_schedule_table(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    d = SQLiteDriver(path)
    await d.open()
    await d.close()
    with sqlite3.connect(path) as raw:
        raw.execute("DROP TABLE schedule_slots")
        raw.execute("PRAGMA user_version = 1")
    d = SQLiteDriver(path)
    try:
        assert (await d.fire(claim(10.0))).outcome == "fired"
    finally:
        await d.close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == 2
        assert raw.execute("SELECT watermark, fired FROM schedule_slots").fetchall() == [
            (10.0, 10.0)]


@pytest.mark.parametrize("column, value, message", [
    ("watermark", "soon", "watermark is not a number"),
    ("watermark", 1e300, "watermark is out of range"),
    ("fired", "x", "fired is not a number"),
    ("job_id", b"\x00\xff", "bad job id"),  # a BLOB keeps its type in a TEXT column
])
async def test_a_hostile_row_is_refused_and_nothing_is_pushed(
    tmp_path: Path, column: str, value: object, message: str,
) -> None:
    d = SQLiteDriver(tmp_path / "q.db")
    try:
        assert (await d.fire(claim(10.0))).outcome == "fired"
        with sqlite3.connect(d.path) as raw:
            raw.execute(f"UPDATE schedule_slots SET {column} = ?", (value,))
        with pytest.raises(CorruptRecord, match=message):
            await d.slot_state("q", "nightly")
        with pytest.raises(CorruptRecord, match=message):
            await d.fire(claim(20.0))
        assert (await d.counts("q")).pending == 1  # only the first fire's job
    finally:
        await d.close()
