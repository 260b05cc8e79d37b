-- Pause and flow control (drivers/flow.py): the paused queues and the recent starts of
-- queues with a `rate`. Created by every open when missing (connection._setup), whatever
-- the schema version, so a file made by an older version gains them. Parameters are
-- positional; each block's header says what they are.

-- name: pauses_table
-- A queue is paused while it has a row here.
CREATE TABLE IF NOT EXISTS queue_pauses (
    queue     TEXT PRIMARY KEY,
    paused_at REAL NOT NULL
);

-- name: starts_table
-- One row per reservation of a queue with a `rate`, kept while inside its window.
CREATE TABLE IF NOT EXISTS queue_starts (
    queue      TEXT NOT NULL,
    started_at REAL NOT NULL
);

-- name: starts_index
CREATE INDEX IF NOT EXISTS queue_starts_by_time ON queue_starts (queue, started_at);

-- name: is_paused
-- (queue) -> a row while paused
SELECT 1 FROM queue_pauses WHERE queue = ?1;

-- name: pause
-- (queue, now)
INSERT OR IGNORE INTO queue_pauses (queue, paused_at) VALUES (?1, ?2);

-- name: resume
-- (queue)
DELETE FROM queue_pauses WHERE queue = ?1;

-- name: running
-- (queue, now) -> jobs holding a live lease (a slot of max_running); the jobs_leases index
SELECT count(*) FROM jobs WHERE queue = ?1 AND state = 'reserved' AND lease_until > ?2;

-- name: forget_starts
-- (queue, window start): starts that left the sliding window, and any time that is not a
-- number (not ours: TEXT sorts above every number, so it would hold the queue forever)
DELETE FROM queue_starts
 WHERE queue = ?1 AND (started_at <= ?2 OR typeof(started_at) NOT IN ('real', 'integer'));

-- name: started
-- (queue, window start) -> starts inside the window, the oldest of them
SELECT count(*), min(started_at) FROM queue_starts WHERE queue = ?1 AND started_at > ?2;

-- name: add_start
-- (queue, now)
INSERT INTO queue_starts (queue, started_at) VALUES (?1, ?2);

-- name: has_due
-- (queue, now) -> a row when a job is due (the jobs_due index)
SELECT 1 FROM jobs WHERE queue = ?1 AND state = 'pending' AND available_at <= ?2 LIMIT 1;
