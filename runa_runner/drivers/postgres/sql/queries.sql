-- Every statement the driver runs, one per "-- name:" block (loaded by queries.py, which
-- puts the quoted schema name in place of {schema}). Parameters are named (%(x)s); arrays
-- travel in binary (%(x)b): text arrays of JSON would otherwise be escaped element by
-- element on the client, which costs more than the insert itself.
-- "now" is always the server's clock: extract(epoch FROM clock_timestamp())::float8.
-- The fencing condition "held" = the row is reserved with this token and its lease
-- has not lapsed. Blocks named *_ctes are fragments that queries.py prefixes to others.

-- name: recover_ctes
-- (queue, lease_lost): lapsed leases on the last allowed attempt go to failed (with
-- their lock dropped), other lapsed leases are due again at once, attempt kept.
-- Rows another transaction holds are skipped: they are being settled right now.
WITH clock AS (SELECT extract(epoch FROM clock_timestamp())::float8 AS now),
lapsed AS (
    SELECT j.id, j.attempt >= j.max_attempts AS last
      FROM {schema}.jobs j
     WHERE j.queue = %(queue)s AND j.state = 'reserved'
       AND j.lease_until <= (SELECT now FROM clock)
       FOR UPDATE SKIP LOCKED
),
requeued AS (
    UPDATE {schema}.jobs j
       SET state = 'pending', token = NULL, lease_until = NULL, available_at = clock.now
      FROM clock
     WHERE j.id = ANY(ARRAY(SELECT id FROM lapsed WHERE NOT last))
    RETURNING j.id
),
dead AS (
    DELETE FROM {schema}.jobs j
     WHERE j.id = ANY(ARRAY(SELECT id FROM lapsed WHERE last))
    RETURNING j.id, j.queue, j.envelope, j.enqueued_at, j.available_at, j.attempt,
              j.max_attempts, j.unique_lock
),
buried AS (
    INSERT INTO {schema}.failed (id, queue, envelope, enqueued_at, available_at, attempt,
                                 max_attempts, error, traceback, failed_at)
    SELECT d.id, d.queue, d.envelope, d.enqueued_at, d.available_at, d.attempt,
           d.max_attempts, %(lease_lost)s, NULL, clock.now
      FROM dead d, clock
    ON CONFLICT (id) DO NOTHING
    RETURNING id
),
unlocked AS (
    DELETE FROM {schema}.unique_locks u
     WHERE u.key = ANY(ARRAY(SELECT unique_lock FROM dead))
       AND u.job_id = ANY(ARRAY(SELECT id FROM dead))
    RETURNING u.key
)

-- name: recover_tail
-- Data-modifying CTEs run to completion whether or not the query reads them.
SELECT (SELECT count(*) FROM requeued) + (SELECT count(*) FROM buried)

-- name: reserve_tail
-- (queue, count, token, lease) -> the reserved rows, oldest due first. A unique lock
-- held "until start" is dropped here. A paused queue (flow.sql) gives none.
, picked AS (
    SELECT j.id, j.unique_lock, j.unique_until
      FROM {schema}.jobs j
     WHERE j.queue = %(queue)s AND j.state = 'pending'
       AND j.available_at <= (SELECT now FROM clock)
       AND NOT EXISTS (SELECT 1 FROM {schema}.queue_pauses p WHERE p.queue = %(queue)s)
     ORDER BY j.available_at, j.id
     LIMIT %(count)s
       FOR UPDATE SKIP LOCKED
),
started AS (
    DELETE FROM {schema}.unique_locks u
     WHERE u.key = ANY(ARRAY(SELECT unique_lock FROM picked WHERE unique_until = 'start'))
       AND u.job_id = ANY(ARRAY(SELECT id FROM picked WHERE unique_until = 'start'))
    RETURNING u.key
),
taken AS (
    UPDATE {schema}.jobs j
       SET state = 'reserved', token = %(token)s, lease_until = clock.now + %(lease)s,
           attempt = j.attempt + 1,
           unique_lock = CASE WHEN p.unique_until = 'start' THEN NULL ELSE p.unique_lock END
      FROM picked p, clock
     WHERE j.id = p.id AND j.id = ANY(ARRAY(SELECT id FROM picked))
    RETURNING j.id, j.envelope, j.attempt, j.enqueued_at, j.available_at, j.lease_until
)
SELECT id, envelope, attempt, enqueued_at, available_at, lease_until FROM taken

-- name: to_failed
-- (ids, tokens, errors, tracebacks): reserved rows that cannot be read, moved to failed
-- in the transaction of the reserve that found them (fenced by its token).
WITH bad AS (
    SELECT * FROM unnest(%(ids)b::text[], %(tokens)b::text[], %(errors)b::text[],
                         %(tracebacks)b::text[]) AS b(id, token, error, traceback)
),
gone AS (
    DELETE FROM {schema}.jobs j USING bad
     WHERE j.id = bad.id AND j.id = ANY(%(ids)b::text[]) AND j.token = bad.token
       AND j.state = 'reserved'
    RETURNING j.id, j.queue, j.envelope, j.enqueued_at, j.available_at, j.attempt,
              j.max_attempts, j.unique_lock, bad.error, bad.traceback
),
unlocked AS (
    DELETE FROM {schema}.unique_locks u
     WHERE u.key = ANY(ARRAY(SELECT unique_lock FROM gone))
       AND u.job_id = ANY(ARRAY(SELECT id FROM gone))
    RETURNING u.key
)
INSERT INTO {schema}.failed (id, queue, envelope, enqueued_at, available_at, attempt,
                             max_attempts, error, traceback, failed_at)
SELECT g.id, g.queue, g.envelope, g.enqueued_at, g.available_at, g.attempt, g.max_attempts,
       g.error, g.traceback, extract(epoch FROM clock_timestamp())::float8
  FROM gone g
ON CONFLICT (id) DO NOTHING
RETURNING id

-- name: push
-- (ids, queues, envelopes, delays, max_attempts, channel, notify): jobs without a unique
-- key, the whole batch in one statement; wakes idle workers at commit (pg_notify is
-- delivered when the pushing transaction commits, never for a rollback). Each column
-- travels as one text, its values joined by U+001E (ids, queues, envelopes) or by a
-- comma (numbers), split by the server: a text parameter is sent as it is, where an
-- array is built value by value on the client, which cost more than the insert. The
-- caller checks that no value holds the separator (JSON escapes it), else push_arrays.
WITH clock AS (SELECT extract(epoch FROM clock_timestamp())::float8 AS now),
added AS (
    INSERT INTO {schema}.jobs (id, queue, state, envelope, enqueued_at, available_at,
                               attempt, max_attempts)
    SELECT i.id, i.queue, 'pending', i.envelope, clock.now, clock.now + i.delay, 0,
           i.max_attempts
      FROM unnest(string_to_array(%(ids)s::text, E'\x1e'),
                  string_to_array(%(queues)s::text, E'\x1e'),
                  string_to_array(%(envelopes)s::text, E'\x1e'),
                  string_to_array(%(delays)s::text, ',')::float8[],
                  string_to_array(%(max_attempts)s::text, ',')::int[])
           AS i(id, queue, envelope, delay, max_attempts), clock
    ON CONFLICT (id) DO NOTHING
    RETURNING queue
)
SELECT pg_notify(%(channel)s, q.queue)::text
  FROM (SELECT DISTINCT queue FROM added) q
 WHERE %(notify)s

-- name: push_arrays
-- push, its columns as arrays: for a batch where a value holds the separator.
WITH clock AS (SELECT extract(epoch FROM clock_timestamp())::float8 AS now),
added AS (
    INSERT INTO {schema}.jobs (id, queue, state, envelope, enqueued_at, available_at,
                               attempt, max_attempts)
    SELECT i.id, i.queue, 'pending', i.envelope, clock.now, clock.now + i.delay, 0,
           i.max_attempts
      FROM unnest(%(ids)b::text[], %(queues)b::text[], %(envelopes)b::text[],
                  %(delays)b::float8[], %(max_attempts)b::int[])
           AS i(id, queue, envelope, delay, max_attempts), clock
    ON CONFLICT (id) DO NOTHING
    RETURNING queue
)
SELECT pg_notify(%(channel)s, q.queue)::text
  FROM (SELECT DISTINCT queue FROM added) q
 WHERE %(notify)s

-- name: push_one
-- (id, queue, envelope, delay, max_attempts, channel, notify): one job without a unique
-- key (the common single push: scalar parameters cost less to send than arrays)
WITH added AS (
    INSERT INTO {schema}.jobs (id, queue, state, envelope, enqueued_at, available_at,
                               attempt, max_attempts)
    SELECT %(id)s, %(queue)s, 'pending', %(envelope)s, c.now, c.now + %(delay)s, 0,
           %(max_attempts)s
      FROM (SELECT extract(epoch FROM clock_timestamp())::float8 AS now) c
    ON CONFLICT (id) DO NOTHING
    RETURNING queue
)
SELECT pg_notify(%(channel)s, queue)::text FROM added WHERE %(notify)s

-- name: push_unique
-- (id, queue, envelope, delay, max_attempts, key, unique_for, unique_until, channel,
-- notify) -> the id of the job holding the lock: this job's when it took the lock
-- (and was inserted), else the holder's (NULL if the holder committed after this
-- statement's snapshot: the caller runs it again).
WITH clock AS (SELECT extract(epoch FROM clock_timestamp())::float8 AS now),
took AS (
    INSERT INTO {schema}.unique_locks AS u (key, job_id, expires_at)
    SELECT %(key)s, %(id)s, clock.now + %(unique_for)s FROM clock
    ON CONFLICT (key) DO UPDATE SET job_id = excluded.job_id, expires_at = excluded.expires_at
     WHERE u.expires_at IS NOT NULL
       AND u.expires_at <= extract(epoch FROM clock_timestamp())::float8
    RETURNING u.job_id
),
added AS (
    INSERT INTO {schema}.jobs (id, queue, state, envelope, enqueued_at, available_at,
                               attempt, max_attempts, unique_lock, unique_until)
    SELECT %(id)s, %(queue)s, 'pending', %(envelope)s, clock.now, clock.now + %(delay)s, 0,
           %(max_attempts)s, %(key)s, %(unique_until)s
      FROM took, clock
    RETURNING queue
),
woken AS (
    SELECT pg_notify(%(channel)s, queue) FROM added WHERE %(notify)s
)
SELECT coalesce((SELECT job_id FROM took),
                (SELECT job_id FROM {schema}.unique_locks WHERE key = %(key)s)),
       (SELECT count(*) FROM woken)

-- name: renew
-- (queue, id, token, lease) -> id, and whether a cancel asked this run to stop (results.sql)
UPDATE {schema}.jobs
   SET lease_until = extract(epoch FROM clock_timestamp())::float8 + %(lease)s
 WHERE id = %(id)s AND queue = %(queue)s AND state = 'reserved' AND token = %(token)s
   AND lease_until > extract(epoch FROM clock_timestamp())::float8
RETURNING id, EXISTS (SELECT 1 FROM {schema}.cancels c
                       WHERE c.id = %(id)s AND c.token = %(token)s)

-- name: settle
-- (outcomes, stats, channel, notify) -> the ids whose token still held. Every outcome
-- of a batch in one statement: acks delete (and drop their lock), releases make the job
-- due after its delay, fails move it to the failed store (and drop its lock); the worker
-- counters added since the last settle ride along (one round trip less per batch).
-- outcomes and stats are JSON arrays of objects (a batch is mostly one outcome: one
-- text costs the client less than the dozen one-element arrays it replaces).
WITH clock AS (SELECT extract(epoch FROM clock_timestamp())::float8 AS now),
o AS (
    SELECT * FROM json_to_recordset(%(outcomes)s::json)
           AS o(kind text, queue text, id text, token text, delay float8, give_back int,
                error text, traceback text)
),
held AS (
    SELECT j.id, j.unique_lock, o.kind, o.delay, o.give_back, o.error, o.traceback
      FROM {schema}.jobs j JOIN o ON j.id = o.id
     WHERE j.id = ANY(ARRAY(SELECT id FROM o))
       AND j.queue = o.queue AND j.token = o.token AND j.state = 'reserved'
       AND j.lease_until > (SELECT now FROM clock)
       FOR UPDATE OF j
),
acked AS (
    DELETE FROM {schema}.jobs j
     WHERE j.id = ANY(ARRAY(SELECT id FROM held WHERE kind = 'ack'))
    RETURNING j.id
),
released AS (
    UPDATE {schema}.jobs j
       SET state = 'pending', token = NULL, lease_until = NULL,
           available_at = clock.now + h.delay, attempt = greatest(j.attempt - h.give_back, 0),
           error = h.error
      FROM held h, clock
     WHERE j.id = h.id AND j.id = ANY(ARRAY(SELECT id FROM held WHERE kind = 'release'))
    RETURNING j.id, j.queue
),
dead AS (
    DELETE FROM {schema}.jobs j USING held h
     WHERE j.id = h.id AND j.id = ANY(ARRAY(SELECT id FROM held WHERE kind = 'fail'))
    RETURNING j.id, j.queue, j.envelope, j.enqueued_at, j.available_at, j.attempt,
              j.max_attempts, h.error, h.traceback
),
buried AS (
    INSERT INTO {schema}.failed (id, queue, envelope, enqueued_at, available_at, attempt,
                                 max_attempts, error, traceback, failed_at)
    SELECT d.id, d.queue, d.envelope, d.enqueued_at, d.available_at, d.attempt,
           d.max_attempts, d.error, d.traceback, clock.now
      FROM dead d, clock
    ON CONFLICT (id) DO NOTHING
    RETURNING id
),
unlocked AS (
    DELETE FROM {schema}.unique_locks u
     WHERE u.key = ANY(ARRAY(SELECT unique_lock FROM held WHERE kind IN ('ack', 'fail')))
       AND u.job_id = ANY(ARRAY(SELECT id FROM held WHERE kind IN ('ack', 'fail')))
    RETURNING u.key
),
woken AS (
    SELECT pg_notify(%(channel)s, q.queue)
      FROM (SELECT DISTINCT queue FROM released) q WHERE %(notify)s
),
counted AS (
    INSERT INTO {schema}.worker_stats AS s (worker, succeeded, failed, retried)
    SELECT * FROM json_to_recordset(%(stats)s::json)
           AS c(worker text, succeeded int8, failed int8, retried int8)
    ON CONFLICT (worker) DO UPDATE SET
        succeeded = s.succeeded + excluded.succeeded,
        failed = s.failed + excluded.failed,
        retried = s.retried + excluded.retried
    RETURNING 1
)
SELECT id FROM acked
UNION ALL SELECT id FROM released
UNION ALL SELECT id FROM dead
UNION ALL SELECT NULL FROM woken

-- name: get
-- (queue, id) -> the job in the hot table or the failed store, and the server's now
SELECT j.id, j.state, j.envelope, j.attempt, j.enqueued_at, j.available_at, j.error,
       NULL::text AS traceback, NULL::float8 AS failed_at, extract(epoch FROM clock_timestamp())::float8
  FROM {schema}.jobs j WHERE j.id = %(id)s AND j.queue = %(queue)s
UNION ALL
SELECT f.id, 'failed', f.envelope, f.attempt, f.enqueued_at, f.available_at, f.error,
       f.traceback, f.failed_at, extract(epoch FROM clock_timestamp())::float8
  FROM {schema}.failed f WHERE f.id = %(id)s AND f.queue = %(queue)s

-- name: delete
-- (queue, id) -> 1 if a waiting or failed job was deleted (a running one stays)
WITH gone AS (
    DELETE FROM {schema}.jobs
     WHERE id = %(id)s AND queue = %(queue)s AND state = 'pending'
    RETURNING id, unique_lock
),
unlocked AS (
    DELETE FROM {schema}.unique_locks u
     WHERE u.key = ANY(ARRAY(SELECT unique_lock FROM gone)) AND u.job_id = %(id)s
    RETURNING u.key
),
gone_failed AS (
    DELETE FROM {schema}.failed WHERE id = %(id)s AND queue = %(queue)s
    RETURNING id
)
SELECT (SELECT count(*) FROM gone) + (SELECT count(*) FROM gone_failed)

-- name: counts
-- (queue) -> pending (due), delayed, reserved, failed; each an index range
WITH clock AS (SELECT extract(epoch FROM clock_timestamp())::float8 AS now)
SELECT (SELECT count(*) FROM {schema}.jobs
         WHERE queue = %(queue)s AND state = 'pending'
           AND available_at <= (SELECT now FROM clock)),
       (SELECT count(*) FROM {schema}.jobs
         WHERE queue = %(queue)s AND state = 'pending'
           AND available_at > (SELECT now FROM clock)),
       (SELECT count(*) FROM {schema}.jobs WHERE queue = %(queue)s AND state = 'reserved'),
       (SELECT count(*) FROM {schema}.failed WHERE queue = %(queue)s)

-- name: list_failed
-- (queue, limit, offset)
SELECT id, 'failed', envelope, attempt, enqueued_at, available_at, error, traceback,
       failed_at, extract(epoch FROM clock_timestamp())::float8
  FROM {schema}.failed WHERE queue = %(queue)s
 ORDER BY failed_at, id
 LIMIT %(limit)s OFFSET %(offset)s

-- name: retry_failed
-- (queue, ids or NULL for the oldest, limit, channel, notify) -> how many moved back to
-- pending, attempts reset (a batch at a time: the caller repeats until a short batch)
WITH chosen AS (
    SELECT id FROM {schema}.failed
     WHERE queue = %(queue)s AND (%(ids)b::text[] IS NULL OR id = ANY(%(ids)b::text[]))
     ORDER BY failed_at, id
     LIMIT %(limit)s
       FOR UPDATE SKIP LOCKED
),
moved AS (
    DELETE FROM {schema}.failed f WHERE f.id = ANY(ARRAY(SELECT id FROM chosen))
    RETURNING f.id, f.queue, f.envelope, f.enqueued_at, f.max_attempts
),
back AS (
    INSERT INTO {schema}.jobs (id, queue, state, envelope, enqueued_at, available_at,
                               attempt, max_attempts)
    SELECT m.id, m.queue, 'pending', m.envelope, m.enqueued_at,
           extract(epoch FROM clock_timestamp())::float8, 0, m.max_attempts
      FROM moved m
    ON CONFLICT (id) DO NOTHING
    RETURNING id
),
woken AS (
    SELECT pg_notify(%(channel)s, %(queue)s) WHERE %(notify)s AND EXISTS (SELECT 1 FROM back)
)
SELECT (SELECT count(*) FROM moved), (SELECT count(*) FROM woken)

-- name: purge_failed
-- (queue, older_than or NULL, limit) -> rows deleted (a bounded batch)
WITH gone AS (
    DELETE FROM {schema}.failed
     WHERE id = ANY(ARRAY(SELECT id FROM {schema}.failed
                   WHERE queue = %(queue)s
                     AND (%(older_than)s::float8 IS NULL OR failed_at < %(older_than)s::float8)
                   ORDER BY failed_at, id
                   LIMIT %(limit)s))
    RETURNING 1
)
SELECT count(*) FROM gone

-- name: purge_jobs
-- (queue, limit) -> rows deleted from the hot table (a bounded batch), locks with them
WITH chosen AS (
    (SELECT id FROM {schema}.jobs WHERE queue = %(queue)s AND state = 'pending'
      LIMIT %(limit)s)
    UNION ALL
    (SELECT id FROM {schema}.jobs WHERE queue = %(queue)s AND state = 'reserved'
      LIMIT %(limit)s)
),
gone AS (
    DELETE FROM {schema}.jobs j WHERE j.id = ANY(ARRAY(SELECT id FROM chosen))
    RETURNING j.id, j.unique_lock
),
unlocked AS (
    DELETE FROM {schema}.unique_locks u
     WHERE u.key = ANY(ARRAY(SELECT unique_lock FROM gone))
       AND u.job_id = ANY(ARRAY(SELECT id FROM gone))
    RETURNING u.key
)
SELECT count(*) FROM gone

-- name: add_stats
-- (workers, succeeded, failed, retried): one row per worker pool
WITH counted AS (
    INSERT INTO {schema}.worker_stats AS s (worker, succeeded, failed, retried)
    SELECT * FROM unnest(%(workers)b::text[], %(succeeded)b::int8[], %(failed)b::int8[],
                         %(retried)b::int8[])
    ON CONFLICT (worker) DO UPDATE SET
        succeeded = s.succeeded + excluded.succeeded,
        failed = s.failed + excluded.failed,
        retried = s.retried + excluded.retried
    RETURNING 1
)
SELECT count(*) FROM counted

-- name: worker_counts
-- (worker) -> succeeded, failed, retried, live instances
SELECT coalesce((SELECT succeeded FROM {schema}.worker_stats WHERE worker = %(worker)s), 0),
       coalesce((SELECT failed FROM {schema}.worker_stats WHERE worker = %(worker)s), 0),
       coalesce((SELECT retried FROM {schema}.worker_stats WHERE worker = %(worker)s), 0),
       (SELECT count(*) FROM {schema}.instances
         WHERE worker = %(worker)s AND expires_at > extract(epoch FROM clock_timestamp())::float8)

-- name: heartbeat
-- (worker, instance, ttl); also forgets this pool's instances that expired long ago
WITH pruned AS (
    DELETE FROM {schema}.instances
     WHERE worker = %(worker)s AND expires_at <= extract(epoch FROM clock_timestamp())::float8 - 3600
    RETURNING 1
)
INSERT INTO {schema}.instances (worker, instance, expires_at)
VALUES (%(worker)s, %(instance)s, extract(epoch FROM clock_timestamp())::float8 + %(ttl)s)
ON CONFLICT (worker, instance) DO UPDATE SET expires_at = excluded.expires_at

-- name: leave
-- (worker, instance)
DELETE FROM {schema}.instances WHERE worker = %(worker)s AND instance = %(instance)s

-- name: next_due
-- (queues) -> the earliest time a job of these queues falls due (never while paused) or a
-- lease lapses, now
SELECT min(t), extract(epoch FROM clock_timestamp())::float8 FROM unnest(%(queues)b::text[]) AS q(name),
LATERAL (
    SELECT min(available_at) AS t FROM {schema}.jobs
     WHERE queue = q.name AND state = 'pending'
       AND NOT EXISTS (SELECT 1 FROM {schema}.queue_pauses p WHERE p.queue = q.name)
    UNION ALL
    SELECT min(lease_until) FROM {schema}.jobs
     WHERE queue = q.name AND state = 'reserved'
) due

-- name: list_pending
-- (queue, when, last, limit): due jobs, latest due first, from a cursor (jobs_due, backward)
SELECT id, state, envelope, attempt, enqueued_at, available_at, error, NULL::text,
       NULL::float8, c.now
  FROM {schema}.jobs, (SELECT extract(epoch FROM clock_timestamp())::float8 AS now) c
 WHERE queue = %(queue)s AND state = 'pending' AND available_at <= c.now
   AND (available_at, id) < (%(when)s::float8, %(last)s::text)
 ORDER BY available_at DESC, id DESC
 LIMIT %(limit)s

-- name: list_delayed
-- (queue, when, last, limit): jobs not due yet, latest due first, from a cursor
SELECT id, state, envelope, attempt, enqueued_at, available_at, error, NULL::text,
       NULL::float8, c.now
  FROM {schema}.jobs, (SELECT extract(epoch FROM clock_timestamp())::float8 AS now) c
 WHERE queue = %(queue)s AND state = 'pending' AND available_at > c.now
   AND (available_at, id) < (%(when)s::float8, %(last)s::text)
 ORDER BY available_at DESC, id DESC
 LIMIT %(limit)s

-- name: list_failed_newest
-- (queue, when, last, limit): latest failure first, from a cursor (failed_by_time, backward)
SELECT id, 'failed', envelope, attempt, enqueued_at, available_at, error, traceback,
       failed_at, extract(epoch FROM clock_timestamp())::float8
  FROM {schema}.failed
 WHERE queue = %(queue)s AND (failed_at, id) < (%(when)s::float8, %(last)s::text)
 ORDER BY failed_at DESC, id DESC
 LIMIT %(limit)s

-- name: cursor_row
-- (queue, id) -> where a list_jobs cursor's job sits: its state and ordering time
SELECT state, available_at FROM {schema}.jobs WHERE id = %(id)s AND queue = %(queue)s
UNION ALL
SELECT 'failed', failed_at FROM {schema}.failed WHERE id = %(id)s AND queue = %(queue)s

-- name: oldest_due
-- (queue) -> the earliest available_at of a due job, or NULL
SELECT min(available_at) FROM {schema}.jobs
 WHERE queue = %(queue)s AND state = 'pending'
   AND available_at <= extract(epoch FROM clock_timestamp())::float8
