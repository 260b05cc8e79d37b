-- runa-runner PostgreSQL schema, version 2 (the row of {schema}.schema_version; version 2
-- added schedule_slots: a version-1 schema gets it by running these idempotent statements).
--
-- Run once per schema, inside one transaction under pg_advisory_xact_lock, by the
-- first driver that opens it (connection.py); every statement is idempotent.
--
-- The hot table `jobs` holds only waiting and running jobs:
--   pending   waiting; "delayed" is not stored, it is pending with available_at > now
--             (so one index range serves both, and a job falls due without a write)
--   reserved  held by a worker until lease_until; token fences renew/ack/release/fail
-- A succeeded job is deleted by its ack; a failed job moves to `failed`; counters
-- live in `worker_stats`. So `jobs` stays as small as the backlog, and its dead
-- rows are few enough for autovacuum to keep up.
-- Times are epoch seconds from the server's clock (clock_timestamp()).
-- The envelope is stored as pushed (text); the columns attempt, enqueued_at and
-- available_at are the truth and are laid over it when it is read.

CREATE SCHEMA IF NOT EXISTS {schema};

CREATE TABLE IF NOT EXISTS {schema}.schema_version (
    version integer NOT NULL
);

CREATE TABLE IF NOT EXISTS {schema}.jobs (
    id           text PRIMARY KEY,
    queue        text NOT NULL,
    state        text NOT NULL CHECK (state IN ('pending', 'reserved')),
    envelope     text NOT NULL,
    enqueued_at  double precision NOT NULL,
    available_at double precision NOT NULL,
    lease_until  double precision,
    token        text,
    attempt      integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL DEFAULT 1,
    unique_lock  text,
    unique_until text NOT NULL DEFAULT 'done',
    error        text
) WITH (fillfactor = 80);

-- Reserve (oldest due first, ties by id), counts of pending/delayed, next due time.
CREATE INDEX IF NOT EXISTS jobs_due ON {schema}.jobs (queue, available_at, id)
    WHERE state = 'pending';
-- Lapsed-lease recovery, counts of reserved, next lease deadline.
CREATE INDEX IF NOT EXISTS jobs_leases ON {schema}.jobs (queue, lease_until)
    WHERE state = 'reserved';

-- The failed store, oldest failure first; written once per failed job, read by people.
CREATE TABLE IF NOT EXISTS {schema}.failed (
    id           text PRIMARY KEY,
    queue        text NOT NULL,
    envelope     text NOT NULL,
    enqueued_at  double precision NOT NULL,
    available_at double precision NOT NULL,
    attempt      integer NOT NULL,
    max_attempts integer NOT NULL,
    error        text,
    traceback    text,
    failed_at    double precision NOT NULL
);
CREATE INDEX IF NOT EXISTS failed_by_time ON {schema}.failed (queue, failed_at, id);

-- A held unique lock: key = unique_lock_key(queue, job, key). A lock whose expires_at
-- has passed (unique_for ran out) is free; the next push takes the row over. A job
-- drops only a lock it still holds (key and job_id both match).
CREATE TABLE IF NOT EXISTS {schema}.unique_locks (
    key        text PRIMARY KEY,
    job_id     text NOT NULL,
    expires_at double precision
);

-- Outcome counters of a worker pool, summed over every process (processed is derived).
CREATE TABLE IF NOT EXISTS {schema}.worker_stats (
    worker    text PRIMARY KEY,
    succeeded bigint NOT NULL DEFAULT 0,
    failed    bigint NOT NULL DEFAULT 0,
    retried   bigint NOT NULL DEFAULT 0
);

-- Live worker processes: an instance counts while expires_at is in the future.
CREATE TABLE IF NOT EXISTS {schema}.instances (
    worker     text NOT NULL,
    instance   text NOT NULL,
    expires_at double precision NOT NULL,
    PRIMARY KEY (worker, instance)
);

-- Per schedule (DESIGN §10): the newest slot claimed (watermark, epoch seconds) and the
-- last slot that pushed a job, with that job's id. A claim is one transaction that locks
-- this row, moves the watermark forward and inserts the job (sql/schedules.sql).
CREATE TABLE IF NOT EXISTS {schema}.schedule_slots (
    queue     text NOT NULL,
    schedule  text NOT NULL,
    watermark double precision,
    fired     double precision,
    job_id    text,
    PRIMARY KEY (queue, schedule)
);

-- The hot table churns (insert, update, delete per job): vacuum it early and often,
-- so dead rows are reclaimed while they are few (see the README's "PostgreSQL").
ALTER TABLE {schema}.jobs SET (
    autovacuum_vacuum_scale_factor = 0.0,
    autovacuum_vacuum_threshold = 5000,
    autovacuum_vacuum_insert_scale_factor = 0.0,
    autovacuum_vacuum_insert_threshold = 5000,
    autovacuum_analyze_scale_factor = 0.0,
    autovacuum_analyze_threshold = 5000
);
