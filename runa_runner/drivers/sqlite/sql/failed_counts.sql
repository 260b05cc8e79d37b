-- Failed jobs per queue, kept by triggers on `jobs`: counting the failed store (a queue's
-- history, which may hold millions) reads one row instead of scanning an index (DESIGN
-- §12). Created, and filled once from `jobs`, by the first open that finds it missing
-- (connection._setup), in the same write transaction, so no failure slips between.

-- name: table
CREATE TABLE IF NOT EXISTS failed_counts (
    queue TEXT PRIMARY KEY,
    n     INTEGER NOT NULL
);

-- name: on_insert
CREATE TRIGGER IF NOT EXISTS failed_counts_insert AFTER INSERT ON jobs
WHEN NEW.state = 'failed'
BEGIN
    INSERT INTO failed_counts (queue, n) VALUES (NEW.queue, 1)
        ON CONFLICT (queue) DO UPDATE SET n = n + 1;
END;

-- name: on_enter
CREATE TRIGGER IF NOT EXISTS failed_counts_enter AFTER UPDATE OF state ON jobs
WHEN NEW.state = 'failed' AND OLD.state <> 'failed'
BEGIN
    INSERT INTO failed_counts (queue, n) VALUES (NEW.queue, 1)
        ON CONFLICT (queue) DO UPDATE SET n = n + 1;
END;

-- name: on_leave
CREATE TRIGGER IF NOT EXISTS failed_counts_leave AFTER UPDATE OF state ON jobs
WHEN OLD.state = 'failed' AND NEW.state <> 'failed'
BEGIN
    UPDATE failed_counts SET n = n - 1 WHERE queue = OLD.queue;
END;

-- name: on_delete
CREATE TRIGGER IF NOT EXISTS failed_counts_delete AFTER DELETE ON jobs
WHEN OLD.state = 'failed'
BEGIN
    UPDATE failed_counts SET n = n - 1 WHERE queue = OLD.queue;
END;

-- name: fill
INSERT INTO failed_counts (queue, n)
SELECT queue, count(*) FROM jobs WHERE state = 'failed' GROUP BY queue;

-- name: exists
SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'failed_counts';

-- name: read
-- (queue) -> n
SELECT n FROM failed_counts WHERE queue = ?1;
