-- Kept results and cancel requests (issue 18), in tables of their own: the hot `jobs`
-- table and the settle statement are untouched, so a job without result_ttl costs
-- nothing here. The table blocks run idempotently under the schema's advisory lock
-- (connection.ensure_schema), whatever the schema version: an older schema gains them.

-- name: results_table
-- A succeeded job kept with its handler's return value until expires_at; reads skip
-- expired rows, and each keep deletes a bounded batch of them.
CREATE TABLE IF NOT EXISTS {schema}.results (
    id           text PRIMARY KEY,
    queue        text NOT NULL,
    envelope     text NOT NULL,
    attempt      integer NOT NULL,
    enqueued_at  double precision NOT NULL,
    available_at double precision NOT NULL,
    result       text NOT NULL,
    finished_at  double precision NOT NULL,
    expires_at   double precision NOT NULL
)

-- name: results_expiry
CREATE INDEX IF NOT EXISTS results_expiry ON {schema}.results (expires_at)

-- name: cancels_table
-- A cancel asked of the run holding `token`; renew of that token reports it. Rows of
-- runs that ended are deleted in bounded batches by later cancels.
CREATE TABLE IF NOT EXISTS {schema}.cancels (
    id    text PRIMARY KEY,
    queue text NOT NULL,
    token text NOT NULL
)

-- name: keep
-- (queues, ids, tokens, results, ttls, channel, notify): copy each held job with its
-- result before the settle statement (same transaction) acks it; expired results go in
-- a bounded batch; NOTIFY "result:<id>" wakes registry.result.
WITH clock AS (SELECT extract(epoch FROM clock_timestamp())::float8 AS now),
o AS (
    SELECT * FROM unnest(%(queues)b::text[], %(ids)b::text[], %(tokens)b::text[],
                         %(results)b::text[], %(ttls)b::float8[])
           AS o(queue, id, token, result, ttl)
),
swept AS (
    DELETE FROM {schema}.results
     WHERE id IN (SELECT id FROM {schema}.results
                   WHERE expires_at <= (SELECT now FROM clock) LIMIT 100)
),
kept AS (
    INSERT INTO {schema}.results AS r (id, queue, envelope, attempt, enqueued_at,
                                       available_at, result, finished_at, expires_at)
    SELECT j.id, j.queue, j.envelope, j.attempt, j.enqueued_at, j.available_at, o.result,
           clock.now, clock.now + o.ttl
      FROM {schema}.jobs j JOIN o ON j.id = o.id, clock
     WHERE j.queue = o.queue AND j.token = o.token AND j.state = 'reserved'
       AND j.lease_until > clock.now
    ON CONFLICT (id) DO UPDATE SET
        envelope = excluded.envelope, attempt = excluded.attempt, result = excluded.result,
        finished_at = excluded.finished_at, expires_at = excluded.expires_at
    RETURNING r.id
)
SELECT pg_notify(%(channel)s, 'result:' || id) FROM kept WHERE %(notify)s

-- name: kept
-- (queue, id) -> the kept job as a `get` row (id, state, envelope, attempt, enqueued_at,
-- available_at, error, traceback, failed_at, now), then result and finished_at
SELECT id, 'succeeded', envelope, attempt, enqueued_at, available_at, NULL::text,
       NULL::text, NULL::float8, extract(epoch FROM clock_timestamp())::float8, result,
       finished_at
  FROM {schema}.results
 WHERE id = %(id)s AND queue = %(queue)s
   AND expires_at > extract(epoch FROM clock_timestamp())::float8

-- name: state
-- (queue, id) -> state, token of a job in the hot table, locked for the cancel
SELECT state, token FROM {schema}.jobs WHERE id = %(id)s AND queue = %(queue)s FOR UPDATE

-- name: in_failed
-- (queue, id)
SELECT 1 FROM {schema}.failed WHERE id = %(id)s AND queue = %(queue)s

-- name: request_cancel
-- (queue, id, token)
INSERT INTO {schema}.cancels (id, queue, token) VALUES (%(id)s, %(queue)s, %(token)s)
ON CONFLICT (id) DO UPDATE SET queue = excluded.queue, token = excluded.token

-- name: sweep_cancels
-- requests whose run ended (the job left, or holds another token), a bounded batch
DELETE FROM {schema}.cancels WHERE id IN
    (SELECT c.id FROM {schema}.cancels c
      WHERE NOT EXISTS (SELECT 1 FROM {schema}.jobs j WHERE j.id = c.id AND j.token = c.token)
      LIMIT 100)

-- name: cancelled
-- (id, token) -> a row when a cancel asked this run to stop
SELECT 1 FROM {schema}.cancels WHERE id = %(id)s AND token = %(token)s
