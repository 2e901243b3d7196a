package dev.kiln.server;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A batch job whose process is killed after the call committed and before its runner rescheduled
 * it: the next runner finishes that reschedule without calling it again, and, since the call
 * reported work left, calls it again at once as an uninterrupted runner would.
 */
@Tag("process")
class CronRecoveryTest {

    private static final String BATCH = """
            package recovercron;

            import dev.kiln.api.*;
            import java.sql.*;

            public final class RecoverCron implements Addon {
                @Override public void register(AddonContext context) {
                    context.cron(CronJob.every(1, CronJob.Unit.DAYS, "batch", this::batch).inactive());
                }

                /** Four items, one per call, each call's number in the ledger. */
                private void batch(CronContext job) throws Exception {
                    int calls;
                    try (Statement statement = job.connection().createStatement();
                         ResultSet row = statement.executeQuery(
                                 "INSERT INTO recover_ledger (kiln_pid) VALUES (" + ProcessHandle.current().pid() + ") RETURNING"
                                 + " (SELECT count(*) FROM recover_ledger) + 1")) {
                        row.next();
                        calls = row.getInt(1);
                    }
                    job.progress(1, Math.max(0, 4 - calls));
                }
            }
            """;

    @TempDir
    Path dir;

    @Test
    void aBatchWhoseRunnerDiedBeforeReschedulingIsRescheduledOnceAndCalledAgainForItsRemainingWork() throws Exception {
        Path addons = CronHarness.addon(dir, "recovercron", "recovercron.RecoverCron", BATCH,
                "V1__recover_ledger.sql", "CREATE TABLE recover_ledger (id bigserial PRIMARY KEY, kiln_pid bigint NOT NULL);");

        try (CronHarness cron = CronHarness.shared(dir, "cron_recover", addons, "recovercron")) {
            // due by its next call and by a trigger, whose row the test locks: the runner's reschedule waits for it
            cron.execute("""
                    INSERT INTO kiln_cron (name, code, interval_number, interval_type, nextcall)
                    VALUES ('batch', 'recovercron.batch', 1, 'days', now() - interval '1 minute');
                    INSERT INTO kiln_cron_trigger (cron_id, call_at) SELECT id, now() - interval '1 minute'
                    FROM kiln_cron WHERE name = 'batch';""");
            long id = cron.count("SELECT id FROM kiln_cron WHERE name = 'batch'");
            KilnProcess victim;
            try (Connection lock = cron.connect()) {
                lock.setAutoCommit(false);
                try (Statement statement = lock.createStatement()) {
                    statement.executeQuery("SELECT 1 FROM kiln_cron_trigger WHERE cron_id = " + id + " FOR UPDATE").close();
                }
                int lockPid = lock.unwrap(org.postgresql.PGConnection.class).getBackendPID();

                victim = cron.serve("--max-cron-threads", "1");
                await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(50)).until(() ->
                        cron.count("SELECT count(*) FROM recover_ledger") == 1);
                await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(50)).until(() ->
                        cron.count("SELECT count(*) FROM pg_stat_activity WHERE " + lockPid + " = ANY (pg_blocking_pids(pid))") == 1);
                assertThat(cron.query("SELECT (completed_at IS NOT NULL) || ',' || done || ',' || remaining"
                        + " FROM kiln_cron_progress WHERE cron_id = " + id)).isEqualTo("true,1,3");
                victim.signal("KILL");
                assertThat(victim.process().waitFor(10, TimeUnit.SECONDS)).isTrue();
                // The reschedule travels with its COMMIT: a backend still blocked when its client died would
                // commit it once unblocked. End it as a dead client's backend ends when it next reads.
                cron.count("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE " + lockPid
                        + " = ANY (pg_blocking_pids(pid))");
                lock.rollback();
            }

            KilnProcess next = cron.serve("--max-cron-threads", "1");
            next.awaitLog(cron.db + ": cron job 'batch' ran at .* but its runner stopped before rescheduling it; rescheduled now", 1);
            await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(100)).untilAsserted(() ->
                    assertThat(cron.query("SELECT (SELECT count(*) FROM recover_ledger) || ' calls, next call '"
                            + " || (SELECT CASE WHEN nextcall > now() + interval '1 hour' THEN 'a day later' ELSE 'now' END"
                            + " FROM kiln_cron WHERE name = 'batch')")).as("the batch called again for its remaining work")
                            .startsWith("4 calls"));
            await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(100)).until(() ->
                    cron.count("SELECT count(*) FROM kiln_cron_trigger") == 0 && !cron.claimed("batch"));
            assertThat(cron.query("SELECT count(*) || ',' || count(*) FILTER (WHERE kiln_pid = " + victim.pid() + ")"
                    + " FROM recover_ledger")).as("calls in all, by the killed process").isEqualTo("4,1");
            assertThat(cron.query("SELECT failure_count || ',' || (nextcall > now()) FROM kiln_cron WHERE name = 'batch'"))
                    .isEqualTo("0,true");
        }
    }
}
