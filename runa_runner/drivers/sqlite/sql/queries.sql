-- Every statement the driver runs, one per "-- name:" block (loaded by queries.py).
-- Parameters are positional; each block's header says what they are. The fencing
-- condition "held" = the row is reserved with this token and its lease has not lapsed.

-- name: lock_holder
-- (key, now) -> job_id of a lock still held
SELECT job_id FROM unique_locks
 WHERE key = ?1 AND (expires_at IS NULL OR expires_at > ?2);

-- name: take_lock
-- (key, job_id, expires_at or NULL)
INSERT OR REPLACE INTO unique_locks (key, job_id, expires_at) VALUES (?1, ?2, ?3);

-- name: drop_lock
-- (job_id): a job holds at most one lock, and only its own
DELETE FROM unique_locks WHERE job_id = ?1;

-- name: drop_lock_of_row
-- (rowid): the lock of the job in that row, whatever its id column holds
DELETE FROM unique_locks WHERE job_id = (SELECT id FROM jobs WHERE rowid = ?1);

-- name: insert_job
-- (id, queue, job, envelope, available_at, attempt, max_attempts, unique_lock, unique_until)
-- An id that exists already is left as it is (a push never resets a stored job).
INSERT INTO jobs
    (id, queue, job, state, envelope, available_at, attempt, max_attempts,
     unique_lock, unique_until)
VALUES (?1, ?2, ?3, 'pending', ?4, ?5, ?6, ?7, ?8, ?9)
ON CONFLICT (id) DO NOTHING;

-- name: lapsed_to_failed
-- (queue, now, error) -> rowids: lapsed leases on the last allowed attempt go to failed.
-- A lease_until that is not a number (another program wrote it) counts as lapsed.
WITH lapsed AS (  -- two index ranges: an OR of them would scan every reserved row
    SELECT rowid FROM jobs WHERE queue = ?1 AND state = 'reserved' AND lease_until <= ?2
    UNION ALL  -- TEXT and BLOB sort above every number: a lease_until no clock reaches
    SELECT rowid FROM jobs WHERE queue = ?1 AND state = 'reserved' AND lease_until >= '')
UPDATE jobs
   SET state = 'failed', token = NULL, lease_until = NULL, unique_lock = NULL,
       error = ?3, traceback = NULL, failed_at = ?2
 WHERE rowid IN (SELECT rowid FROM lapsed) AND attempt >= max_attempts
RETURNING rowid;

-- name: lapsed_to_pending
-- (queue, now): other lapsed leases become due at once, attempt kept
WITH lapsed AS (  -- two index ranges: an OR of them would scan every reserved row
    SELECT rowid FROM jobs WHERE queue = ?1 AND state = 'reserved' AND lease_until <= ?2
    UNION ALL  -- TEXT and BLOB sort above every number: a lease_until no clock reaches
    SELECT rowid FROM jobs WHERE queue = ?1 AND state = 'reserved' AND lease_until >= '')
UPDATE jobs
   SET state = 'pending', token = NULL, lease_until = NULL, available_at = ?2,
       envelope = CASE WHEN json_valid(envelope)
                       THEN json_set(envelope, '$.available_at', ?2) ELSE envelope END
 WHERE rowid IN (SELECT rowid FROM lapsed);

-- name: due
-- (queue, now, limit) -> due jobs, oldest due first; none while the queue is paused
-- (flow.sql: checked here, in the same statement, so the hot path runs no other).
-- Text columns are read as bytes (rows.py checks them: TEXT that is not UTF-8 cannot be
-- fetched as str).
SELECT rowid, CAST(id AS BLOB), CAST(envelope AS BLOB), attempt, available_at,
       unique_lock IS NOT NULL, unique_until = 'start' FROM jobs
 WHERE queue = ?1 AND state = 'pending' AND available_at <= ?2
   AND NOT EXISTS (SELECT 1 FROM queue_pauses WHERE queue = ?1)
 ORDER BY available_at, id
 LIMIT ?3;

-- name: misfits
-- (queue, max epoch, limit) -> waiting rows whose available_at no job of ours has:
-- beyond the year ~2400, Inf, TEXT or BLOB (all sort above every number), so never due.
-- Same columns as "due"; one index seek, empty in a healthy queue.
SELECT rowid, CAST(id AS BLOB), CAST(envelope AS BLOB), attempt, available_at,
       unique_lock IS NOT NULL, unique_until = 'start' FROM jobs
 WHERE queue = ?1 AND state = 'pending' AND available_at > ?2
 LIMIT ?3;

-- name: mark_reserved
-- (token, lease_until, attempt, envelope, rowid, clear_lock 0/1, max_attempts)
-- max_attempts follows the envelope, which is what the worker obeys.
UPDATE jobs
   SET state = 'reserved', token = ?1, lease_until = ?2, attempt = ?3, envelope = ?4,
       unique_lock = CASE WHEN ?6 THEN NULL ELSE unique_lock END, max_attempts = ?7
 WHERE rowid = ?5;

-- name: mark_corrupt
-- (error, preview of the raw envelope, now, rowid): an unreadable row goes to failed,
-- never to a worker; its columns are kept as they were, for a human to look at
UPDATE jobs
   SET state = 'failed', token = NULL, lease_until = NULL, unique_lock = NULL,
       error = ?1, traceback = ?2, failed_at = ?3
 WHERE rowid = ?4;

-- name: rename_row
-- (new id, rowid): a row whose id cannot be read gets one a user can type
UPDATE jobs SET id = ?1 WHERE rowid = ?2;

-- name: renew
-- (lease_until, queue, id, token, now)
UPDATE jobs SET lease_until = ?1
 WHERE id = ?3 AND queue = ?2 AND state = 'reserved' AND token = ?4 AND lease_until > ?5;

-- name: ack
-- (queue, id, token, now) -> unique_lock of the deleted job
DELETE FROM jobs
 WHERE id = ?2 AND queue = ?1 AND state = 'reserved' AND token = ?3 AND lease_until > ?4
RETURNING unique_lock IS NOT NULL;

-- name: release
-- (queue, id, token, now, available_at, attempts given back 0/1, error)
UPDATE jobs
   SET state = 'pending', token = NULL, lease_until = NULL, available_at = ?5,
       attempt = max(attempt - ?6, 0), error = ?7,
       envelope = json_set(envelope, '$.available_at', ?5, '$.attempt', max(attempt - ?6, 0))
 WHERE id = ?2 AND queue = ?1 AND state = 'reserved' AND token = ?3 AND lease_until > ?4;

-- name: fail
-- (queue, id, token, now, error, traceback); the caller then drops the job's lock
UPDATE jobs
   SET state = 'failed', token = NULL, lease_until = NULL, unique_lock = NULL,
       error = ?5, traceback = ?6, failed_at = ?4
 WHERE id = ?2 AND queue = ?1 AND state = 'reserved' AND token = ?3 AND lease_until > ?4;

-- name: get
-- (queue, id); text columns as bytes, as in "due"
SELECT CAST(id AS BLOB), CAST(queue AS BLOB), CAST(job AS BLOB), state,
       CAST(envelope AS BLOB), attempt, available_at, CAST(error AS BLOB),
       CAST(traceback AS BLOB), failed_at
  FROM jobs WHERE id = ?2 AND queue = ?1;

-- name: delete
-- (queue, id) -> unique_lock; a reserved job is not deleted
DELETE FROM jobs WHERE id = ?2 AND queue = ?1 AND state != 'reserved'
RETURNING unique_lock IS NOT NULL;

-- name: counts
-- (queue, now) -> state, rows, rows not yet due: the live states only (failed jobs are
-- the history: failed_counts.sql keeps their number)
SELECT state, count(*), total(available_at > ?2) FROM jobs
 WHERE queue = ?1 AND state IN ('pending', 'reserved') GROUP BY state;

-- name: list_failed
-- (queue, limit, offset)
SELECT CAST(id AS BLOB), CAST(queue AS BLOB), CAST(job AS BLOB), state,
       CAST(envelope AS BLOB), attempt, available_at, CAST(error AS BLOB),
       CAST(traceback AS BLOB), failed_at
  FROM jobs WHERE queue = ?1 AND state = 'failed'
 ORDER BY failed_at, id
 LIMIT ?2 OFFSET ?3;

-- name: retry_failed_all
-- (queue, now): back to pending, attempts reset; a corrupt envelope is left as it is
UPDATE jobs
   SET state = 'pending', attempt = 0, available_at = ?2, failed_at = NULL,
       unique_lock = NULL,
       envelope = CASE WHEN json_valid(envelope)
                       THEN json_set(envelope, '$.attempt', 0, '$.available_at', ?2)
                       ELSE envelope END
 WHERE queue = ?1 AND state = 'failed';

-- name: retry_failed_one
-- (queue, now, id)
UPDATE jobs
   SET state = 'pending', attempt = 0, available_at = ?2, failed_at = NULL,
       unique_lock = NULL,
       envelope = CASE WHEN json_valid(envelope)
                       THEN json_set(envelope, '$.attempt', 0, '$.available_at', ?2)
                       ELSE envelope END
 WHERE queue = ?1 AND state = 'failed' AND id = ?3;

-- name: purge_failed
-- (queue, older_than or NULL for all)
DELETE FROM jobs
 WHERE queue = ?1 AND state = 'failed' AND (?2 IS NULL OR coalesce(failed_at, 0) < ?2);

-- name: purge_locks
-- (queue)
DELETE FROM unique_locks WHERE job_id IN (SELECT id FROM jobs WHERE queue = ?1);

-- name: purge
-- (queue)
DELETE FROM jobs WHERE queue = ?1;

-- name: add_stats
-- (worker, succeeded, failed, retried)
INSERT INTO worker_stats (worker, succeeded, failed, retried) VALUES (?1, ?2, ?3, ?4)
ON CONFLICT (worker) DO UPDATE SET
    succeeded = succeeded + excluded.succeeded,
    failed = failed + excluded.failed,
    retried = retried + excluded.retried;

-- name: worker_stats
-- (worker)
SELECT succeeded, failed, retried FROM worker_stats WHERE worker = ?1;

-- name: live_instances
-- (worker, now)
SELECT count(*) FROM instances WHERE worker = ?1 AND expires_at > ?2;

-- name: heartbeat
-- (worker, instance, expires_at)
INSERT OR REPLACE INTO instances (worker, instance, expires_at) VALUES (?1, ?2, ?3);

-- name: prune_instances
-- (now)
DELETE FROM instances WHERE expires_at <= ?1;

-- name: leave
-- (worker, instance)
DELETE FROM instances WHERE worker = ?1 AND instance = ?2;

-- name: next_due
-- (queue) -> earliest available_at of a waiting job, earliest lease deadline
SELECT (SELECT min(available_at) FROM jobs WHERE queue = ?1 AND state = 'pending'),
       (SELECT min(lease_until) FROM jobs WHERE queue = ?1 AND state = 'reserved');

-- name: list_pending
-- (queue, now, cursor time, cursor id, limit): due jobs, latest due first (jobs_due index)
SELECT id, queue, job, state, envelope, attempt, available_at, error, traceback, failed_at
  FROM jobs WHERE queue = ?1 AND state = 'pending' AND available_at <= ?2
   AND (available_at, id) < (?3, ?4)
 ORDER BY available_at DESC, id DESC
 LIMIT ?5;

-- name: list_delayed
-- (queue, now, cursor time, cursor id, limit): jobs not due yet, latest due first
SELECT id, queue, job, state, envelope, attempt, available_at, error, traceback, failed_at
  FROM jobs WHERE queue = ?1 AND state = 'pending' AND available_at > ?2
   AND (available_at, id) < (?3, ?4)
 ORDER BY available_at DESC, id DESC
 LIMIT ?5;

-- name: list_failed_newest
-- (queue, now (unused), cursor time, cursor id, limit): latest failure first (jobs_failed index)
SELECT id, queue, job, state, envelope, attempt, available_at, error, traceback, failed_at
  FROM jobs WHERE queue = ?1 AND state = 'failed'
   AND (failed_at, id) < (?3, ?4)
 ORDER BY failed_at DESC, id DESC
 LIMIT ?5;

-- name: cursor_row
-- (queue, id) -> state, available_at, failed_at of a list_jobs cursor
SELECT state, available_at, failed_at FROM jobs WHERE id = ?2 AND queue = ?1;

-- name: oldest_due
-- (queue, now) -> the earliest available_at of a due job, or NULL
SELECT min(available_at) FROM jobs WHERE queue = ?1 AND state = 'pending' AND available_at <= ?2;
