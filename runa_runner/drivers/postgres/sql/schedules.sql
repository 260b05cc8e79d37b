-- The schedule statements of the PostgreSQL driver (loaded by slots.py), one per
-- "-- name:" block; the table is in schema.sql. A claim runs them in one transaction.

-- name: slot_state
-- (queue, schedule) -> watermark, fired, job_id
SELECT watermark, fired, job_id FROM {schema}.schedule_slots
 WHERE queue = %(queue)s AND schedule = %(schedule)s

-- name: slot_new
-- (queue, schedule): the row a first claim locks; waits for a concurrent first claim
INSERT INTO {schema}.schedule_slots (queue, schedule) VALUES (%(queue)s, %(schedule)s)
ON CONFLICT (queue, schedule) DO NOTHING

-- name: slot_lock
-- (queue, schedule) -> watermark, fired, job_id, the row locked until the transaction ends
SELECT watermark, fired, job_id FROM {schema}.schedule_slots
 WHERE queue = %(queue)s AND schedule = %(schedule)s
   FOR UPDATE

-- name: slot_claim
-- (queue, schedule, slot)
UPDATE {schema}.schedule_slots SET watermark = %(slot)s
 WHERE queue = %(queue)s AND schedule = %(schedule)s

-- name: slot_fired
-- (queue, schedule, slot, id)
UPDATE {schema}.schedule_slots SET fired = %(slot)s, job_id = %(id)s
 WHERE queue = %(queue)s AND schedule = %(schedule)s

-- name: slot_job_live
-- (queue, id) -> a row while the job waits or runs (failed jobs live in `failed`)
SELECT 1 FROM {schema}.jobs WHERE id = %(id)s AND queue = %(queue)s
