package dev.kiln.server;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * {@code kill -9} of one of three processes in the middle of a batch of slow jobs: the other two
 * finish the batch and every job's effect is committed exactly once. One job is pinned: the test
 * holds a lock its runner's reschedule needs, so that runner is certainly stopped after the job's
 * commit and before its own when the process dies; the next claimer must reschedule it without
 * running it again (the completion mark of {@code kiln_cron_progress}).
 */
@Tag("process")
class CronChaosTest {

    private static final int JOBS = 1000;

    /** Sleeps, then writes its ledger row with the Kiln process's pid: a process is always mid-job. */
    private static final String SLOW = """
            package slowcron;

            import dev.kiln.api.*;
            import java.sql.*;

            public final class SlowCron implements Addon {
                @Override public void register(AddonContext context) {
                    context.cron(CronJob.every(1, CronJob.Unit.DAYS, "slow", this::slow).inactive());
                }

                private void slow(CronContext job) throws Exception {
                    Thread.sleep(60);
                    try (PreparedStatement insert = job.connection().prepareStatement(
                            "INSERT INTO slow_ledger (job_id, kiln_pid) VALUES (?, ?)")) {
                        insert.setLong(1, job.jobId());
                        insert.setLong(2, ProcessHandle.current().pid());
                        insert.executeUpdate();
                    }
                }
            }
            """;

    @TempDir
    Path dir;

    @Test
    void killingAProcessMidBatchLosesNoJobAndRunsNoneTwice() throws Exception {
        Path addons = CronHarness.addon(dir, "slowcron", "slowcron.SlowCron", SLOW, "V1__slow_ledger.sql", """
                CREATE TABLE slow_ledger (id bigserial PRIMARY KEY, job_id bigint NOT NULL, kiln_pid bigint NOT NULL,
                    ran_at timestamptz NOT NULL DEFAULT clock_timestamp());""");

        try (CronHarness cron = CronHarness.shared(dir, "cron_chaos", addons, "slowcron")) {
            List<KilnProcess> kilns = List.of(cron.serve("--max-cron-threads", "2"), cron.serve("--max-cron-threads", "2"),
                    cron.serve("--max-cron-threads", "2"));
            for (KilnProcess kiln : kilns) {
                kiln.awaitCronRunners(2);
            }

            // the pinned job comes first (priority 0) and is also due by a trigger, whose row the test locks
            cron.execute("""
                    INSERT INTO kiln_cron (name, code, interval_number, interval_type, priority, nextcall)
                    VALUES ('pinned', 'slowcron.slow', 1, 'days', 0, now() - interval '1 minute');
                    INSERT INTO kiln_cron_trigger (cron_id, call_at) SELECT id, now() - interval '1 minute'
                    FROM kiln_cron WHERE name = 'pinned';""");
            long pinned = cron.count("SELECT id FROM kiln_cron WHERE name = 'pinned'");
            try (Connection lock = cron.connect()) {
                lock.setAutoCommit(false);
                try (Statement statement = lock.createStatement()) {
                    statement.executeQuery("SELECT 1 FROM kiln_cron_trigger WHERE cron_id = " + pinned + " FOR UPDATE").close();
                }
                int lockPid = lock.unwrap(org.postgresql.PGConnection.class).getBackendPID();

                cron.execute("INSERT INTO kiln_cron (name, code, interval_number, interval_type, nextcall) SELECT 'c_'||g,"
                        + " 'slowcron.slow', 1, 'days', now() - interval '1 minute' FROM generate_series(1, " + JOBS + ") g");
                cron.wake();

                // the pinned job committed its row; its runner now waits for the test's lock to reschedule it
                await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(50)).until(() ->
                        cron.count("SELECT count(*) FROM slow_ledger WHERE job_id = " + pinned) == 1);
                await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(50)).until(() ->
                        cron.count("SELECT count(*) FROM pg_stat_activity WHERE " + lockPid + " = ANY (pg_blocking_pids(pid))") == 1);
                assertThat(cron.query("SELECT completed_at IS NOT NULL FROM kiln_cron_progress WHERE cron_id = " + pinned))
                        .isEqualTo("t");
                long victimPid = cron.count("SELECT kiln_pid FROM slow_ledger WHERE job_id = " + pinned);
                KilnProcess victim = kilns.stream().filter(k -> k.pid() == victimPid).findFirst().orElseThrow();

                // let the victim's other runner work a little, then kill it in the middle of the batch
                await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(20)).until(() ->
                        cron.count("SELECT count(*) FROM slow_ledger WHERE kiln_pid = " + victimPid) >= 10);
                victim.signal("KILL");
                assertThat(victim.process().waitFor(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
                long left = cron.count("SELECT count(*) FROM kiln_cron WHERE name LIKE 'c\\_%' AND nextcall <= now()");
                assertThat(left).as("jobs still due when the process was killed").isGreaterThan(JOBS / 10);
                // The reschedule travels with its COMMIT: a backend still blocked when its client died would
                // commit it once unblocked. End it as a dead client's backend ends when it next reads.
                cron.count("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE " + lockPid
                        + " = ANY (pg_blocking_pids(pid))");
                lock.rollback();
            }

            List<KilnProcess> survivors = kilns.stream().filter(k -> k.process().isAlive()).toList();
            assertThat(survivors).hasSize(2);
            await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(200)).until(() ->
                    cron.count("SELECT count(*) FROM kiln_cron WHERE (name LIKE 'c\\_%' OR name = 'pinned') AND nextcall <= now()") == 0);

            assertThat(cron.count("""
                    SELECT count(*) FROM kiln_cron c
                    WHERE (c.name LIKE 'c\\_%' OR c.name = 'pinned')
                      AND (SELECT count(*) FROM slow_ledger l WHERE l.job_id = c.id) <> 1""")
            ).as("jobs without exactly one committed ledger row").isZero();
            assertThat(cron.count("SELECT count(*) FROM slow_ledger")).isEqualTo(JOBS + 1);
            assertThat(cron.count("SELECT count(*) FROM kiln_cron_trigger WHERE cron_id = " + pinned)).isZero();
            assertThat(survivors.stream().mapToLong(k -> CronHarness.lines(k,
                    cron.db + ": cron job 'pinned' ran at .* but its runner stopped before rescheduling it; rescheduled now")).sum())
                    .as("the pinned job was rescheduled by a survivor without running again").isEqualTo(1);
            for (KilnProcess survivor : survivors) {
                assertThat(CronHarness.lines(survivor, cron.db + ": cron job 'c_\\d+' done in")).as("survivor finished jobs")
                        .isPositive();
            }
        }
    }
}
