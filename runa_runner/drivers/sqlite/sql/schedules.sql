-- The schedule statements of the SQLite driver (loaded by slots.py), one per "-- name:"
-- block; the table is in schema.sql. Each claim runs inside one BEGIN IMMEDIATE.

-- name: slot_state
-- (queue, schedule) -> watermark, fired, job_id
SELECT watermark, fired, job_id FROM schedule_slots WHERE queue = ?1 AND schedule = ?2;

-- name: claim_new
-- (queue, schedule, slot): the first claim of a schedule; no row is changed if one exists
INSERT OR IGNORE INTO schedule_slots (queue, schedule, watermark) VALUES (?1, ?2, ?3);

-- name: claim
-- (queue, schedule, slot): moves the watermark only forward
UPDATE schedule_slots SET watermark = ?3
 WHERE queue = ?1 AND schedule = ?2 AND watermark < ?3;

-- name: record_fire
-- (queue, schedule, slot, job_id)
UPDATE schedule_slots SET fired = ?3, job_id = ?4 WHERE queue = ?1 AND schedule = ?2;

-- name: job_live
-- (queue, id) -> a row while the job is pending, delayed, reserved or waiting for a retry
SELECT 1 FROM jobs WHERE id = ?2 AND queue = ?1 AND state != 'failed';
