-- pgbench script of `bench/cron`: one call of one due job with the SQL that Kiln's cron runner
-- sends for it (dev.kiln.cron.CronStore: ACQUIRE, START, COMPLETE, RESCHEDULE), as prepared
-- statements (-M prepared), with the same three commits. It measures what PostgreSQL alone can do
-- with that SQL, without a JVM: tps = jobs/s, the ceiling of the Kiln figures.
--
-- Variables (-D): base = the lowest id of the batch, clients = -c, pos = -1 (the client's call
-- counter; pgbench keeps a client's variables from one transaction to the next).
--
-- Kiln keeps two connections per runner: the claim transaction holds the job's row lock from
-- ACQUIRE to RESCHEDULE while START and the job's own transaction (COMPLETE) commit on the second.
-- pgbench has one connection per client, so here ACQUIRE and START commit together, COMPLETE
-- commits alone and RESCHEDULE commits as one pipeline: three commits as in Kiln, in 6 round trips
-- (BEGIN, ACQUIRE, START, COMMIT, COMPLETE, the RESCHEDULE pipeline) where pgjdbc makes 7 (it sends
-- BEGIN with the first statement, and each COMMIT alone). As the row lock ends at the first commit,
-- clients must never want the same job: client k takes the ids base + k, base + k + clients, ...
-- in order; its ACQUIRE window is its next 64 ids (Kiln's WINDOW), so it reads, filters and sorts
-- 64 rows and locks one, as a runner does; SKIP LOCKED never has to skip here.
\set pos :pos + 1
\set lo :base + :client_id + :pos * :clients
\set hi :lo + 63 * :clients
BEGIN;
SELECT c.id, c.nextcall, c.failure_count, now() AS now, c.nextcall + interval '1 day' AS next,
       c.name, c.code, c.interval_number, c.interval_type, c.timezone, c.first_failure_date
FROM kiln_cron c WHERE c.id = ANY (ARRAY(SELECT generate_series(:lo::bigint, :hi::bigint, :clients::bigint))) AND c.active
    AND (c.nextcall <= now() OR c.id IN (SELECT t.cron_id FROM kiln_cron_trigger t WHERE t.call_at <= now()))
ORDER BY c.failure_count, c.priority, c.id LIMIT 1 FOR NO KEY UPDATE SKIP LOCKED \gset
INSERT INTO kiln_cron_progress AS p (cron_id, timed_out_counter, updated_at)
SELECT c.id, 1, now() FROM kiln_cron c
WHERE c.id = :id AND c.active AND (c.nextcall <= :now
    OR EXISTS (SELECT 1 FROM kiln_cron_trigger t WHERE t.cron_id = c.id AND t.call_at <= :now)
    OR EXISTS (SELECT 1 FROM kiln_cron_progress q WHERE q.cron_id = c.id AND q.completed_at IS NOT NULL))
ON CONFLICT (cron_id) DO UPDATE SET timed_out_counter = p.timed_out_counter + 1, updated_at = now()
RETURNING p.timed_out_counter, p.completed_at;
COMMIT;
UPDATE kiln_cron_progress SET completed_at = :now, done = 0, remaining = 0, timed_out_counter = 0, updated_at = now()
WHERE cron_id = :id;
\startpipeline
UPDATE kiln_cron SET nextcall = :next, lastcall = :now, failure_count = 0, first_failure_date = NULL, active = true
WHERE id = :id;
DELETE FROM kiln_cron_trigger WHERE cron_id = :id AND call_at <= :now;
UPDATE kiln_cron_progress SET completed_at = NULL, timed_out_counter = 0, updated_at = now() WHERE cron_id = :id;
\endpipeline
