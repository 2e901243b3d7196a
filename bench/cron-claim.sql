-- pgbench script of `bench/cron`: one call of one due job with the SQL that Kiln's cron runner
-- sends for it (dev.kiln.cron.store.CronStore: ACQUIRE, START, COMPLETE, RESCHEDULE), as prepared
-- statements (-M prepared), with the same commits. It measures what PostgreSQL alone can do with
-- that SQL, without a JVM: tps = jobs/s, the ceiling of the Kiln figures.
--
-- Variables (-D): base = the lowest id of the batch, clients = -c, pos = -1 (the client's call
-- counter; pgbench keeps a client's variables from one transaction to the next).
--
-- Kiln keeps two connections per runner: the claim transaction holds the job's row lock from
-- ACQUIRE to RESCHEDULE while START (autocommit) and the job's own transaction (COMPLETE) commit on
-- the second. Kiln sends 4 round trips per job: BEGIN+ACQUIRE, START, BEGIN+COMPLETE+COMMIT,
-- RESCHEDULE+COMMIT; only the job's commit waits for the WAL flush (START and RESCHEDULE set
-- synchronous_commit off for their transaction). pgbench has one connection per client, so here
-- ACQUIRE and START commit together, and it makes 5 round trips (pgbench cannot store a result
-- with \gset inside a pipeline, so BEGIN goes alone), with the same three commits and the same one
-- flush. As the row lock ends at the first commit, clients must never want the same job: client k
-- takes the ids base + k, base + k + clients, ... in order; its ACQUIRE window is its next 64 ids
-- (Kiln's WINDOW), so it reads, filters and sorts 64 rows and locks one, as a runner does; SKIP
-- LOCKED never has to skip here.
\set pos :pos + 1
\set lo :base + :client_id + :pos * :clients
\set hi :lo + 63 * :clients
BEGIN;
SELECT c.id, c.nextcall, c.failure_count, now() AS now, c.nextcall + interval '1 day' AS next,
       c.name, c.code, c.interval_number, c.interval_type, c.timezone, c.first_failure_date, c.wall_time
FROM kiln_cron c WHERE c.id = ANY (ARRAY(SELECT generate_series(:lo::bigint, :hi::bigint, :clients::bigint))) AND c.active
    AND (c.nextcall <= now() OR c.id IN (SELECT t.cron_id FROM kiln_cron_trigger t WHERE t.call_at <= now()))
ORDER BY c.failure_count, c.priority, c.id LIMIT 1 FOR NO KEY UPDATE SKIP LOCKED \gset
\startpipeline
INSERT INTO kiln_cron_progress AS p (cron_id, timed_out_counter, updated_at)
SELECT c.id, 1, now() FROM kiln_cron c
WHERE c.id = :id AND c.active AND (c.nextcall <= :now
    OR EXISTS (SELECT 1 FROM kiln_cron_trigger t WHERE t.cron_id = c.id AND t.call_at <= :now)
    OR EXISTS (SELECT 1 FROM kiln_cron_progress q WHERE q.cron_id = c.id AND q.completed_at IS NOT NULL))
  AND set_config('synchronous_commit', 'off', true) = 'off'
ON CONFLICT (cron_id) DO UPDATE SET timed_out_counter = p.timed_out_counter + 1, updated_at = now()
RETURNING p.timed_out_counter, p.completed_at, p.done, p.remaining;
COMMIT;
\endpipeline
\startpipeline
BEGIN;
UPDATE kiln_cron_progress SET completed_at = :now, done = 0, remaining = 0, timed_out_counter = 0, updated_at = now()
WHERE cron_id = :id;
COMMIT;
\endpipeline
\startpipeline
BEGIN;
WITH served AS (DELETE FROM kiln_cron_trigger WHERE cron_id = :id AND call_at <= :now),
     progress AS (UPDATE kiln_cron_progress SET completed_at = NULL, timed_out_counter = 0, updated_at = now()
                  WHERE cron_id = :id),
     again AS (INSERT INTO kiln_cron_trigger (cron_id, call_at) SELECT :id, now() WHERE false)
UPDATE kiln_cron SET nextcall = :next, lastcall = :now, failure_count = 0, first_failure_date = NULL, active = true,
    wall_time = (:nextcall::timestamptz AT TIME ZONE 'UTC')::time
WHERE id = :id AND set_config('synchronous_commit', 'off', true) = 'off';
COMMIT;
\endpipeline
