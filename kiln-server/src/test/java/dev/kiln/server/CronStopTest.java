package dev.kiln.server;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A graceful stop (TERM) with a job running: no new job starts; the running one finishes and is
 * rescheduled when it ends within the stop timeout; when it does not, its transaction is rolled
 * back and the job is left as it was, due, for the next runner to call it.
 */
@Tag("process")
class CronStopTest {

    private static final String STOP = """
            package stopcron;

            import dev.kiln.api.*;
            import java.sql.*;

            public final class StopCron implements Addon {
                @Override public void register(AddonContext context) {
                    context.cron(CronJob.every(1, CronJob.Unit.DAYS, "slow", this::slow).inactive());
                    context.cron(CronJob.every(1, CronJob.Unit.DAYS, "mark", this::mark).inactive());
                }

                /** Sleeps as long as stop_sleep says for this job, then writes its row. */
                private void slow(CronContext job) throws Exception {
                    try (PreparedStatement query = job.connection().prepareStatement(
                            "SELECT coalesce(max(millis), 0) FROM stop_sleep WHERE job = ?")) {
                        query.setString(1, job.job());
                        try (ResultSet row = query.executeQuery()) {
                            row.next();
                            Thread.sleep(row.getLong(1));
                        }
                    }
                    mark(job);
                }

                private void mark(CronContext job) throws SQLException {
                    try (PreparedStatement insert = job.connection().prepareStatement(
                            "INSERT INTO stop_ledger (job) VALUES (?)")) {
                        insert.setString(1, job.job());
                        insert.executeUpdate();
                    }
                }
            }
            """;

    @TempDir
    static Path dir;
    private static CronHarness cron;

    @BeforeAll
    static void database() throws Exception {
        Path addons = CronHarness.addon(dir, "stopcron", "stopcron.StopCron", STOP, "V1__stop_tables.sql", """
                CREATE TABLE stop_ledger (id bigserial PRIMARY KEY, job text NOT NULL);
                CREATE TABLE stop_sleep (job text PRIMARY KEY, millis bigint NOT NULL);""");
        cron = CronHarness.shared(dir, "cron_stop", addons, "stopcron");
    }

    @AfterAll
    static void drop() throws Exception {
        if (cron != null) {
            cron.close();
        }
    }

    @Test
    void aJobRunningAtTheStopFinishesAndIsRescheduledAndNoNewJobStarts() throws Exception {
        cron.execute("""
                INSERT INTO stop_sleep VALUES ('finishing', 3000);
                INSERT INTO kiln_cron (name, code, interval_number, interval_type, priority, nextcall) VALUES
                    ('finishing', 'stopcron.slow', 1, 'days', 0, now() - interval '1 second'),
                    ('queued', 'stopcron.mark', 1, 'days', 10, now() - interval '1 second');""");
        try (KilnProcess kiln = cron.serve("--max-cron-threads", "1", "--limit-time-real-cron", "0")) {
            kiln.awaitCronRunners(1);
            await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(100)).until(() -> cron.claimed("finishing"));
            kiln.signal("TERM");
            assertThat(kiln.awaitExit(Duration.ofSeconds(30))).as(kiln.log()).isZero();
            assertThat(kiln.log()).contains(cron.db + ": cron job 'finishing' done in")
                    .doesNotContain("cron job 'queued'").doesNotContain("still running at the stop timeout");
        }
        assertThat(cron.query("SELECT string_agg(job, ',') FROM stop_ledger WHERE job IN ('finishing', 'queued')")).isEqualTo("finishing");
        assertThat(cron.query("SELECT failure_count || ',' || (nextcall > now()) FROM kiln_cron WHERE name = 'finishing'"))
                .isEqualTo("0,true");
        assertThat(cron.query("SELECT (lastcall IS NULL) || ',' || (nextcall <= now()) FROM kiln_cron WHERE name = 'queued'"))
                .as("the queued job was not started").isEqualTo("true,true");
    }

    @Test
    void aJobCutShortByTheStopTimeoutIsRolledBackAndLeftDueNotFailed() throws Exception {
        cron.execute("""
                INSERT INTO stop_sleep VALUES ('cut', 60000);
                INSERT INTO kiln_cron (name, code, interval_number, interval_type, nextcall)
                VALUES ('cut', 'stopcron.slow', 1, 'days', now() - interval '1 second');""");
        String nextcall = cron.query("SELECT nextcall FROM kiln_cron WHERE name = 'cut'");
        String cronLog;
        // the stop timeout is limit_time_real: 2 s; no limit for cron jobs themselves
        try (KilnProcess kiln = cron.serve("--max-cron-threads", "1", "--limit-time-real", "2", "--limit-time-real-cron", "0")) {
            kiln.awaitCronRunners(1);
            await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(100)).until(() -> cron.claimed("cut"));
            kiln.signal("TERM");
            kiln.awaitExit(Duration.ofSeconds(30));
            assertThat(kiln.log()).contains("Cron: a job was still running at the stop timeout; its transaction is rolled back");
            cronLog = String.join("\n", kiln.log().lines().filter(line -> line.contains("Cron") || line.contains("'cut'")).toList());
        }
        assertThat(cron.count("SELECT count(*) FROM stop_ledger WHERE job = 'cut'")).isZero();
        assertThat(cron.query("SELECT failure_count || ',' || (lastcall IS NULL) || ',' || (nextcall = '" + nextcall + "')"
                + " FROM kiln_cron WHERE name = 'cut'")).as("failures, never called, next call kept; the log said:\n" + cronLog).isEqualTo("0,true,true");

        // the next runner calls it
        cron.execute("UPDATE stop_sleep SET millis = 0 WHERE job = 'cut'");
        try (KilnProcess kiln = cron.serve("--max-cron-threads", "1")) {
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100)).until(() ->
                    cron.count("SELECT count(*) FROM stop_ledger WHERE job = 'cut'") == 1);
        }
    }
}
