package dev.kiln.server;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Jobs that all update one row, on three runners at once: their REPEATABLE READ transactions hit
 * real serialization failures and are run again, as a request is. Whatever the retries, each job's
 * effect is committed at most once, together with its ledger row, and a job is either done once
 * or counted failed: the counter they increment equals the rows of the ledger.
 */
@Tag("process")
class CronRetryTest {

    private static final int JOBS = 12;

    private static final String HOT = """
            package hotcron;

            import dev.kiln.api.*;
            import java.sql.*;

            public final class HotCron implements Addon {
                @Override public void register(AddonContext context) {
                    context.cron(CronJob.every(1, CronJob.Unit.DAYS, "bump", this::bump).inactive());
                }

                /** Reads the counter, waits so that others read it too, then increments it and writes its row. */
                private void bump(CronContext job) throws Exception {
                    Connection connection = job.connection();
                    try (Statement statement = connection.createStatement()) {
                        statement.executeQuery("SELECT n FROM hot_counter WHERE id = 1").close();
                        Thread.sleep(100);
                        statement.executeUpdate("UPDATE hot_counter SET n = n + 1 WHERE id = 1");
                    }
                    try (PreparedStatement insert = connection.prepareStatement("INSERT INTO hot_ledger (job_id) VALUES (?)")) {
                        insert.setLong(1, job.jobId());
                        insert.executeUpdate();
                    }
                }
            }
            """;

    @TempDir
    Path dir;

    @Test
    void serializationFailuresAreRetriedAndEachJobTakesEffectAtMostOnceWithItsRow() throws Exception {
        Path addons = CronHarness.addon(dir, "hotcron", "hotcron.HotCron", HOT, "V1__hot.sql", """
                CREATE TABLE hot_counter (id int PRIMARY KEY, n int NOT NULL);
                INSERT INTO hot_counter VALUES (1, 0);
                CREATE TABLE hot_ledger (id bigserial PRIMARY KEY, job_id bigint NOT NULL);""");

        try (CronHarness cron = CronHarness.shared(dir, "cron_retry", addons, "hotcron");
             KilnProcess kiln = cron.serve("--max-cron-threads", "3")) {
            kiln.awaitCronRunners(3);
            cron.execute("INSERT INTO kiln_cron (name, code, interval_number, interval_type, nextcall) SELECT 'h_'||g,"
                    + " 'hotcron.bump', 1, 'days', now() - interval '1 minute' FROM generate_series(1, " + JOBS + ") g");
            cron.wake();

            await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(200)).until(() ->
                    cron.count("SELECT count(*) FROM kiln_cron WHERE name LIKE 'h\\_%' AND nextcall <= now()") == 0);

            assertThat(kiln.log()).as("serialization failures were retried")
                    .containsPattern(cron.db + ": cron job 'h_\\d+': .* \\(SQLSTATE 40001\\), try 2 of 5 again in \\d+ ms");
            assertThat(cron.count("""
                    SELECT count(*) FROM kiln_cron c
                    WHERE c.name LIKE 'h\\_%' AND NOT (
                        (c.failure_count = 0 AND (SELECT count(*) FROM hot_ledger l WHERE l.job_id = c.id) = 1)
                     OR (c.failure_count = 1 AND (SELECT count(*) FROM hot_ledger l WHERE l.job_id = c.id) = 0))"""))
                    .as("jobs neither done once nor failed").isZero();
            assertThat(cron.query("SELECT n FROM hot_counter")).isEqualTo(cron.query("SELECT count(*) FROM hot_ledger"));
            assertThat(cron.count("SELECT count(*) FROM hot_ledger")).isPositive();
        }
    }
}
