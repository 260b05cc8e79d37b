-- Kept results and cancel requests (issue 18): tables of their own, created on every
-- open (idempotent), so a file made by an older version gains them. The hot `jobs`
-- table is untouched: a job without result_ttl costs nothing here.

-- name: results_table
-- A succeeded job kept with its handler's return value until expires_at; reads skip
-- expired rows, and each keep deletes a bounded batch of them.
CREATE TABLE IF NOT EXISTS job_results (
    id          TEXT PRIMARY KEY,
    queue       TEXT NOT NULL,
    envelope    TEXT NOT NULL,
    result      TEXT NOT NULL,
    finished_at REAL NOT NULL,
    expires_at  REAL NOT NULL
);

-- name: results_expiry
CREATE INDEX IF NOT EXISTS job_results_expiry ON job_results (expires_at);

-- name: cancels_table
-- A cancel asked of the run holding `token`; renew of that token reports it. Rows of
-- runs that ended are deleted in bounded batches by later cancels.
CREATE TABLE IF NOT EXISTS job_cancels (
    id    TEXT PRIMARY KEY,
    queue TEXT NOT NULL,
    token TEXT NOT NULL
);

-- name: keep
-- (queue, id, token, now, result, expires_at): copy a held job before its ack deletes it
INSERT OR REPLACE INTO job_results (id, queue, envelope, result, finished_at, expires_at)
SELECT id, queue, envelope, ?5, ?4, ?6 FROM jobs
 WHERE id = ?2 AND queue = ?1 AND state = 'reserved' AND token = ?3 AND lease_until > ?4;

-- name: sweep_results
-- (now, batch)
DELETE FROM job_results WHERE id IN
    (SELECT id FROM job_results WHERE expires_at <= ?1 LIMIT ?2);

-- name: kept
-- (queue, id, now) -> the kept job, text columns as bytes (they are decoded, untrusted)
SELECT CAST(envelope AS BLOB), CAST(result AS BLOB), finished_at FROM job_results
 WHERE id = ?2 AND queue = ?1 AND expires_at > ?3;

-- name: state
-- (queue, id) -> state, token
SELECT state, token FROM jobs WHERE id = ?2 AND queue = ?1;

-- name: request_cancel
-- (queue, id, token)
INSERT OR REPLACE INTO job_cancels (id, queue, token) VALUES (?2, ?1, ?3);

-- name: sweep_cancels
-- (batch): requests whose run ended (the job left or holds another token)
DELETE FROM job_cancels WHERE id IN
    (SELECT c.id FROM job_cancels c
      WHERE NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = c.id AND j.token = c.token)
      LIMIT ?1);

-- name: cancelled
-- (queue, id, token) -> 1 when a cancel asked this run to stop
SELECT 1 FROM job_cancels WHERE id = ?2 AND queue = ?1 AND token = ?3;
