-- What hello.ledger writes, one row per call: the cron tests count these rows per job (no unique
-- constraint on purpose: a job run twice would show as two rows).
CREATE TABLE hello_cron_ledger (
    id bigserial PRIMARY KEY,
    job_id bigint NOT NULL,
    job text NOT NULL,
    ran_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    backend_pid integer NOT NULL DEFAULT pg_backend_pid());
CREATE INDEX hello_cron_ledger_job ON hello_cron_ledger (job_id);
