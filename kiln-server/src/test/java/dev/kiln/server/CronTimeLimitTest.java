package dev.kiln.server;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * {@code --limit-time-real-cron}: a job over the limit has its stack logged and is interrupted; one
 * that stops then is a failure and its runner goes on; one that ignores the interruption is
 * abandoned 5 s later, its transactions ended so its claim is released and its effect never
 * committed, and a new runner takes the old one's place; so is one waiting in a SQL statement,
 * which an interruption does not reach: the statement ends with its backend.
 */
@Tag("process")
class CronTimeLimitTest {

    private static final String LIMIT = """
            package limitcron;

            import dev.kiln.api.*;
            import java.sql.*;

            public final class LimitCron implements Addon {
                @Override public void register(AddonContext context) {
                    context.cron(CronJob.every(1, CronJob.Unit.DAYS, "stubborn", this::stubborn).inactive());
                    context.cron(CronJob.every(1, CronJob.Unit.DAYS, "polite", this::polite).inactive());
                    context.cron(CronJob.every(1, CronJob.Unit.DAYS, "mark", this::mark).inactive());
                    context.cron(CronJob.every(1, CronJob.Unit.DAYS, "stuck_in_sql", this::stuckInSql).inactive());
                }

                /** Waits in PostgreSQL, where an interruption of the thread does not reach. */
                private void stuckInSql(CronContext job) throws Exception {
                    try (Statement statement = job.connection().createStatement()) {
                        statement.execute("SELECT pg_sleep(30) /* limitcron stuck */");
                    }
                    mark(job);
                }

                /** Runs 12 s whatever happens, then writes its row: never committed when it is abandoned at 2 + 5 s. */
                private void stubborn(CronContext job) throws Exception {
                    long end = System.nanoTime() + 12_000_000_000L;
                    while (System.nanoTime() < end) {
                        try {
                            Thread.sleep(100);
                        } catch (InterruptedException e) {
                            System.out.println("limitcron: stubborn interrupted, going on");
                        }
                    }
                    System.out.println("limitcron: stubborn loop over, writing its row");
                    try {
                        mark(job);
                    } catch (SQLException e) {
                        System.out.println("limitcron: stubborn could not write its row: " + e.getSQLState());
                        throw e;
                    }
                }

                /** Sleeps a minute unless interrupted. */
                private void polite(CronContext job) throws Exception {
                    Thread.sleep(60_000);
                    mark(job);
                }

                private void mark(CronContext job) throws SQLException {
                    try (PreparedStatement insert = job.connection().prepareStatement(
                            "INSERT INTO limit_ledger (job) VALUES (?)")) {
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
        Path addons = CronHarness.addon(dir, "limitcron", "limitcron.LimitCron", LIMIT,
                "V1__limit_ledger.sql", "CREATE TABLE limit_ledger (id bigserial PRIMARY KEY, job text NOT NULL);");
        cron = CronHarness.shared(dir, "cron_limit", addons, "limitcron");
    }

    @AfterAll
    static void drop() throws Exception {
        if (cron != null) {
            cron.close();
        }
    }

    @Test
    void aJobIgnoringItsInterruptionIsAbandonedItsClaimReleasedAndItsEffectNotCommitted() throws Exception {
        try (KilnProcess kiln = cron.serve("--max-cron-threads", "1", "--limit-time-real-cron", "2")) {
            kiln.awaitCronRunners(1);
            // due by a trigger only: once the trigger is gone the job is not due, so nobody claims it again
            cron.execute("""
                    INSERT INTO kiln_cron (name, code, interval_number, interval_type, nextcall)
                    VALUES ('stubborn', 'limitcron.stubborn', 1, 'days', now() + interval '1 day');
                    INSERT INTO kiln_cron_trigger (cron_id, call_at) SELECT id, now() - interval '1 second'
                    FROM kiln_cron WHERE name = 'stubborn';""");
            cron.wake();

            await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(100)).until(() -> cron.claimed("stubborn"));
            kiln.awaitLog(cron.db + ": cron job 'stubborn' over limit_time_real_cron \\(\\d+ s > 2 s\\) on kiln-cron-1:"
                    + " interrupting it; its stack:", 1);
            assertThat(stackAfter(kiln.log(), "cron job 'stubborn' over limit_time_real_cron"))
                    .as("the logged stack").anyMatch(frame -> frame.contains("limitcron.LimitCron.stubborn("));
            assertThat(cron.claimed("stubborn")).as("still held while it runs").isTrue();
            cron.execute("DELETE FROM kiln_cron_trigger WHERE cron_id = (SELECT id FROM kiln_cron WHERE name = 'stubborn')");

            kiln.awaitLog(cron.db + ": cron job 'stubborn' did not stop within 5 s of its interruption: its transactions"
                    + " were ended \\(claim released\\) and runner 1 replaced", 1);
            await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(100)).until(() -> !cron.claimed("stubborn"));

            // the abandoned code ends its loop later and tries to write: its transaction is gone
            kiln.awaitLog("limitcron: stubborn loop over, writing its row", 1);
            kiln.awaitLog("limitcron: stubborn could not write its row", 1);
            assertThat(cron.count("SELECT count(*) FROM limit_ledger WHERE job = 'stubborn'")).isZero();

            // the new runner serves the database
            cron.execute("""
                    INSERT INTO kiln_cron (name, code, interval_number, interval_type, nextcall)
                    VALUES ('after_stubborn', 'limitcron.mark', 1, 'days', now() - interval '1 second');""");
            cron.wake();
            await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(100)).until(() ->
                    cron.count("SELECT count(*) FROM limit_ledger WHERE job = 'after_stubborn'") == 1);
            assertThat(cron.count("SELECT count(*) FROM limit_ledger WHERE job = 'stubborn'")).isZero();
            assertThat(kiln.process().isAlive()).isTrue();
        }
    }

    @Test
    void aJobThatStopsWhenInterruptedAtTheLimitIsAFailureAndItsRunnerGoesOn() throws Exception {
        try (KilnProcess kiln = cron.serve("--max-cron-threads", "1", "--limit-time-real-cron", "2")) {
            kiln.awaitCronRunners(1);
            // one runner: the polite job first (priority 0), then the mark job on the same runner
            cron.execute("""
                    INSERT INTO kiln_cron (name, code, interval_number, interval_type, priority, nextcall) VALUES
                        ('polite', 'limitcron.polite', 1, 'days', 0, now() - interval '1 second'),
                        ('after_polite', 'limitcron.mark', 1, 'days', 10, now() - interval '1 second');""");
            cron.wake();

            kiln.awaitLog(cron.db + ": cron job 'polite' over limit_time_real_cron \\(\\d+ s > 2 s\\) on kiln-cron-1", 1);
            assertThat(stackAfter(kiln.log(), "cron job 'polite' over limit_time_real_cron"))
                    .anyMatch(frame -> frame.contains("limitcron.LimitCron.polite("));
            kiln.awaitLog(cron.db + ": cron job 'polite' failed \\(1 in a row\\) after [\\d.]+ s: stopped at"
                    + " limit_time_real_cron \\(2 s\\)", 1);
            await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(100)).until(() ->
                    cron.count("SELECT count(*) FROM limit_ledger WHERE job = 'after_polite'") == 1);

            assertThat(cron.query("SELECT failure_count || ',' || (first_failure_date IS NOT NULL) || ',' || (nextcall > now())"
                    + " FROM kiln_cron WHERE name = 'polite'")).isEqualTo("1,true,true");
            assertThat(cron.count("SELECT count(*) FROM limit_ledger WHERE job = 'polite'")).isZero();
            String log = kiln.log();
            assertThat(log.indexOf(cron.db + ": cron job 'after_polite' done in"))
                    .as("the mark job ran after the failure").isGreaterThan(log.indexOf(cron.db + ": cron job 'polite' failed"));
            assertThat(log).doesNotContain("did not stop within").doesNotContain("replaced");
            assertThat(cron.claimed("polite")).isFalse();
        }
    }

    @Test
    void aJobWaitingInSqlIsAbandonedAndItsStatementEnded() throws Exception {
        try (KilnProcess kiln = cron.serve("--max-cron-threads", "1", "--limit-time-real-cron", "2")) {
            kiln.awaitCronRunners(1);
            cron.execute("""
                    INSERT INTO kiln_cron (name, code, interval_number, interval_type, nextcall)
                    VALUES ('in_sql', 'limitcron.stuck_in_sql', 1, 'days', now() + interval '1 day');
                    INSERT INTO kiln_cron_trigger (cron_id, call_at) SELECT id, now() - interval '1 second'
                    FROM kiln_cron WHERE name = 'in_sql';""");
            cron.wake();

            kiln.awaitLog(cron.db + ": cron job 'in_sql' over limit_time_real_cron \\(\\d+ s > 2 s\\) on kiln-cron-1", 1);
            assertThat(stackAfter(kiln.log(), "cron job 'in_sql' over limit_time_real_cron"))
                    .anyMatch(frame -> frame.contains("limitcron.LimitCron.stuckInSql("));
            cron.execute("DELETE FROM kiln_cron_trigger WHERE cron_id = (SELECT id FROM kiln_cron WHERE name = 'in_sql')");
            String sleeping = "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%limitcron stuck%' AND pid <> pg_backend_pid()";
            assertThat(cron.count(sleeping)).as("still waiting in PostgreSQL").isEqualTo(1);

            kiln.awaitLog(cron.db + ": cron job 'in_sql' did not stop within 5 s of its interruption: its transactions"
                    + " were ended \\(claim released\\) and runner 1 replaced", 1);
            await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(100)).until(() ->
                    !cron.claimed("in_sql") && cron.count(sleeping) == 0);
            assertThat(cron.count("SELECT count(*) FROM limit_ledger WHERE job = 'in_sql'")).isZero();

            cron.execute("""
                    INSERT INTO kiln_cron (name, code, interval_number, interval_type, nextcall)
                    VALUES ('after_in_sql', 'limitcron.mark', 1, 'days', now() - interval '1 second');""");
            cron.wake();
            await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(100)).until(() ->
                    cron.count("SELECT count(*) FROM limit_ledger WHERE job = 'after_in_sql'") == 1);
            assertThat(cron.count("SELECT count(*) FROM limit_ledger WHERE job = 'in_sql'")).isZero();
            assertThat(kiln.process().isAlive()).isTrue();
        }
    }

    /** The stack frames logged after the first line containing {@code marker}. */
    private static List<String> stackAfter(String log, String marker) {
        List<String> lines = log.lines().toList();
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).contains(marker)) {
                return lines.subList(i + 1, lines.size()).stream().takeWhile(line -> line.startsWith("\tat ")).toList();
            }
        }
        return List.of();
    }
}
