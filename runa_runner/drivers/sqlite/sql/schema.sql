-- runa-runner SQLite schema, version 2 (PRAGMA user_version = 2; version 2 added
-- schedule_slots, so a version-1 file gets it by running these idempotent statements).
--
-- One row per job in `jobs`, whatever its state:
--   pending   waiting; "delayed" is not stored, it is pending with available_at > now
--             (so one index range serves both, and a job becomes due without a write)
--   reserved  held by a worker until lease_until; token fences renew/ack/release/fail
--   failed    in the failed store, with error, traceback and failed_at
-- Acked jobs are deleted. The columns attempt and available_at are the truth; the
-- envelope JSON is kept in step with them (and overlaid with them when read).

CREATE TABLE IF NOT EXISTS jobs (
    id           TEXT PRIMARY KEY,
    queue        TEXT NOT NULL,
    job          TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('pending', 'reserved', 'failed')),
    envelope     TEXT NOT NULL,
    available_at REAL NOT NULL,
    lease_until  REAL,
    token        TEXT,
    attempt      INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 1,
    unique_lock  TEXT,
    unique_until TEXT NOT NULL DEFAULT 'done',
    error        TEXT,
    traceback    TEXT,
    failed_at    REAL
);

-- Reserve (oldest due first, ties by id), counts, next due time.
CREATE INDEX IF NOT EXISTS jobs_due ON jobs (queue, state, available_at, id);
-- Lapsed-lease recovery and the next lease deadline; only reserved rows are indexed.
CREATE INDEX IF NOT EXISTS jobs_leases ON jobs (queue, lease_until) WHERE state = 'reserved';
-- The failed store, oldest failure first; only failed rows are indexed.
CREATE INDEX IF NOT EXISTS jobs_failed ON jobs (queue, failed_at, id) WHERE state = 'failed';

-- A held unique lock: key = unique_lock_key(queue, job, key). A lock whose expires_at
-- has passed (unique_for ran out) is free; the next push replaces the row.
CREATE TABLE IF NOT EXISTS unique_locks (
    key        TEXT PRIMARY KEY,
    job_id     TEXT NOT NULL,
    expires_at REAL
);
CREATE INDEX IF NOT EXISTS unique_locks_job ON unique_locks (job_id);

-- Outcome counters of a worker pool, summed over every process (processed is derived).
CREATE TABLE IF NOT EXISTS worker_stats (
    worker    TEXT PRIMARY KEY,
    succeeded INTEGER NOT NULL DEFAULT 0,
    failed    INTEGER NOT NULL DEFAULT 0,
    retried   INTEGER NOT NULL DEFAULT 0
);

-- Live worker processes: an instance counts while expires_at is in the future.
CREATE TABLE IF NOT EXISTS instances (
    worker     TEXT NOT NULL,
    instance   TEXT NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (worker, instance)
);

-- Per schedule (DESIGN §10): the newest slot claimed (watermark, epoch seconds), and the
-- last slot that pushed a job with that job's id. A claim is one transaction: an UPDATE
-- (or INSERT) guarded by watermark < slot, then the job's INSERT (sql/schedules.sql).
CREATE TABLE IF NOT EXISTS schedule_slots (
    queue     TEXT NOT NULL,
    schedule  TEXT NOT NULL,
    watermark REAL NOT NULL,
    fired     REAL,
    job_id    TEXT,
    PRIMARY KEY (queue, schedule)
);
