-- Pause and flow control (drivers/flow.py) on PostgreSQL, one statement per "-- name:"
-- block (loaded by flow.py, which puts the quoted schema name in place of {schema}).
-- The *_table/*_index blocks are created by the first open that misses them, under the
-- schema's advisory lock (connection.ensure_schema), whatever the schema version.
-- A queue with limits reserves in one transaction that first takes the advisory lock of
-- that queue (flow_lock), so counting its running jobs and starts, then reserving, is
-- atomic across every process; a queue without limits never takes it.

-- name: pauses_table
CREATE TABLE IF NOT EXISTS {schema}.queue_pauses (
    queue     text PRIMARY KEY,
    paused_at double precision NOT NULL
)

-- name: starts_table
-- One row per reservation of a queue with a rate, kept while inside its window.
CREATE TABLE IF NOT EXISTS {schema}.queue_starts (
    queue      text NOT NULL,
    started_at double precision NOT NULL
)

-- name: starts_index
CREATE INDEX IF NOT EXISTS queue_starts_by_time ON {schema}.queue_starts (queue, started_at)

-- name: flow_lock
-- (key): held until the reserve's transaction ends
SELECT pg_advisory_xact_lock(hashtextextended(%(key)s, 0))

-- name: usage
-- (queue, window) -> running (live leases), starts inside the window, the oldest of them,
-- paused, a job is due, now. Starts that left the window are deleted on the way.
WITH clock AS (SELECT extract(epoch FROM clock_timestamp())::float8 AS now),
gone AS (
    DELETE FROM {schema}.queue_starts s
     WHERE s.queue = %(queue)s AND s.started_at <= (SELECT now FROM clock) - %(window)s
    RETURNING 1
)
SELECT (SELECT count(*) FROM {schema}.jobs j
         WHERE j.queue = %(queue)s AND j.state = 'reserved' AND j.lease_until > c.now),
       (SELECT count(*) FROM {schema}.queue_starts s
         WHERE s.queue = %(queue)s AND s.started_at > c.now - %(window)s),
       (SELECT min(s.started_at) FROM {schema}.queue_starts s
         WHERE s.queue = %(queue)s AND s.started_at > c.now - %(window)s),
       EXISTS (SELECT 1 FROM {schema}.queue_pauses p WHERE p.queue = %(queue)s),
       EXISTS (SELECT 1 FROM {schema}.jobs j
                WHERE j.queue = %(queue)s AND j.state = 'pending' AND j.available_at <= c.now),
       (SELECT count(*) FROM gone),
       c.now
  FROM clock c

-- name: add_starts
-- (queue, n)
INSERT INTO {schema}.queue_starts (queue, started_at)
SELECT %(queue)s, extract(epoch FROM clock_timestamp())::float8 FROM generate_series(1, %(n)s)

-- name: is_paused
-- (queue) -> paused
SELECT EXISTS (SELECT 1 FROM {schema}.queue_pauses WHERE queue = %(queue)s)

-- name: pause
-- (queue) -> whether it was paused before
WITH added AS (
    INSERT INTO {schema}.queue_pauses (queue, paused_at)
    VALUES (%(queue)s, extract(epoch FROM clock_timestamp())::float8)
    ON CONFLICT (queue) DO NOTHING
    RETURNING 1
)
SELECT NOT EXISTS (SELECT 1 FROM added)

-- name: resume
-- (queue, channel, notify) -> whether it was paused before; wakes idle workers at commit
WITH gone AS (
    DELETE FROM {schema}.queue_pauses WHERE queue = %(queue)s RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM gone),
       CASE WHEN %(notify)s THEN pg_notify(%(channel)s, %(queue)s)::text END
