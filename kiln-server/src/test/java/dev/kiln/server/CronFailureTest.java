package dev.kiln.server;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Jobs that fail and jobs that report progress, on one runner: a failure is logged with the
 * database and the job, counted on the job, and the runner goes on with the next job; a batch that
 * reports work done and work left is called again at once until nothing is left; one that reports
 * nothing done while work is left is called once and waits for its next interval. The fifth
 * failure in a row deactivates a job only when the first was 7 days ago; a job whose last three calls
 * never ended is counted as failed without running.
 */
@Tag("process")
class CronFailureTest {

    private static final String FAIL = """
            package failcron;

            import dev.kiln.api.*;
            import java.sql.*;

            public final class FailCron implements Addon {
                @Override public void register(AddonContext context) {
                    context.cron(CronJob.every(1, CronJob.Unit.DAYS, "boom", this::boom).inactive());
                    context.cron(CronJob.every(1, CronJob.Unit.DAYS, "batch", this::batch).inactive());
                    context.cron(CronJob.every(1, CronJob.Unit.DAYS, "stalled", this::stalled).inactive());
                    context.cron(CronJob.every(1, CronJob.Unit.DAYS, "mark", this::mark).inactive());
                }

                private void boom(CronContext job) throws Exception {
                    mark(job);      // rolled back with the failure
                    throw new IllegalStateException("boom: the job failed on purpose");
                }

                /** Five items, one per call. */
                private void batch(CronContext job) throws Exception {
                    int calls = call(job);
                    job.progress(1, Math.max(0, 5 - calls));
                }

                /** Never gets anything done. */
                private void stalled(CronContext job) throws Exception {
                    call(job);
                    job.progress(0, 5);
                }

                private static int call(CronContext job) throws SQLException {
                    try (PreparedStatement count = job.connection().prepareStatement(
                            "INSERT INTO fail_calls (job, calls) VALUES (?, 1)"
                            + " ON CONFLICT (job) DO UPDATE SET calls = fail_calls.calls + 1 RETURNING calls")) {
                        count.setString(1, job.job());
                        try (ResultSet row = count.executeQuery()) {
                            row.next();
                            return row.getInt(1);
                        }
                    }
                }

                private void mark(CronContext job) throws SQLException {
                    try (PreparedStatement insert = job.connection().prepareStatement(
                            "INSERT INTO fail_ledger (job) VALUES (?)")) {
                        insert.setString(1, job.job());
                        insert.executeUpdate();
                    }
                }
            }
            """;

    @TempDir
    Path dir;

    @Test
    void aFailureIsCountedAndLoggedABatchWithProgressLoopsAndOneWithoutDoesNot() throws Exception {
        Path addons = CronHarness.addon(dir, "failcron", "failcron.FailCron", FAIL, "V1__fail_tables.sql", """
                CREATE TABLE fail_ledger (id bigserial PRIMARY KEY, job text NOT NULL);
                CREATE TABLE fail_calls (job text PRIMARY KEY, calls int NOT NULL);""");

        try (CronHarness cron = CronHarness.shared(dir, "cron_failure", addons, "failcron");
             KilnProcess kiln = cron.serve("--max-cron-threads", "1")) {
            kiln.awaitCronRunners(1);
            // one runner takes them in this order (priority): the failure, the two batches, then the mark
            cron.execute("""
                    INSERT INTO kiln_cron (name, code, interval_number, interval_type, priority, nextcall) VALUES
                        ('boom', 'failcron.boom', 1, 'days', 0, now() - interval '1 second'),
                        ('batch', 'failcron.batch', 1, 'days', 1, now() - interval '1 second'),
                        ('stalled', 'failcron.stalled', 1, 'days', 2, now() - interval '1 second'),
                        ('after', 'failcron.mark', 1, 'days', 10, now() - interval '1 second');
                    -- Odoo's rule: the fifth failure in a row deactivates a job failing for 7 days or more, not one failing since yesterday
                    INSERT INTO kiln_cron (name, code, interval_number, interval_type, priority, nextcall, failure_count,
                                           first_failure_date) VALUES
                        ('boom_old', 'failcron.boom', 1, 'days', 3, now() - interval '1 second', 4, now() - interval '8 days'),
                        ('boom_recent', 'failcron.boom', 1, 'days', 3, now() - interval '1 second', 4, now() - interval '1 day');
                    -- a job whose last three calls never ended (killed, abandoned) is failed without running
                    INSERT INTO kiln_cron (name, code, interval_number, interval_type, priority, nextcall)
                        VALUES ('zombie', 'failcron.mark', 1, 'days', 4, now() - interval '1 second');
                    INSERT INTO kiln_cron_progress (cron_id, timed_out_counter) SELECT id, 3 FROM kiln_cron WHERE name = 'zombie';""");
            cron.wake();

            // well before the runners' minute of sleep: the batch's calls again are immediate
            await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(100)).until(() ->
                    cron.count("SELECT count(*) FROM fail_ledger WHERE job = 'after'") == 1
                            && "5".equals(cron.query("SELECT calls FROM fail_calls WHERE job = 'batch'"))
                            && cron.count("SELECT count(*) FROM kiln_cron WHERE nextcall <= now() AND name IN"
                            + " ('boom', 'batch', 'stalled', 'after', 'boom_old', 'boom_recent', 'zombie')") == 0
                            && cron.count("SELECT count(*) FROM kiln_cron_trigger") == 0);

            // the failure: logged with database, job and cause; counted; its row rolled back; the runner went on
            String log = kiln.log();
            String failed = cron.db + ": cron job 'boom' failed (1 in a row) after ";
            assertThat(log).contains(failed).containsPattern("failed \\(1 in a row\\) after [\\d.]+ s: boom: the job failed on purpose")
                    .contains("java.lang.IllegalStateException: boom: the job failed on purpose")
                    .contains("failcron.FailCron.boom(FailCron.java");
            assertThat(cron.query("SELECT failure_count || ',' || (first_failure_date IS NOT NULL) || ',' || active"
                    + " || ',' || (nextcall > now()) FROM kiln_cron WHERE name = 'boom'")).isEqualTo("1,true,true,true");
            assertThat(cron.count("SELECT count(*) FROM fail_ledger WHERE job = 'boom'")).isZero();
            assertThat(log.indexOf(cron.db + ": cron job 'after' done in")).isGreaterThan(log.indexOf(failed));
            assertThat(cron.query("SELECT failure_count FROM kiln_cron WHERE name = 'after'")).isEqualTo("0");

            // the batch: called until nothing was left, each call but the last saying it goes on
            assertThat(CronHarness.lines(kiln, cron.db + ": cron job 'batch' done in")).isEqualTo(5);
            for (int remaining = 4; remaining >= 1; remaining--) {
                assertThat(log).contains("(1 done, " + remaining + " remaining: called again)");
            }
            assertThat(cron.query("SELECT failure_count || ',' || (nextcall > now()) FROM kiln_cron WHERE name = 'batch'"))
                    .isEqualTo("0,true");

            // the stalled batch: once, with a warning, and no trigger to call it again
            assertThat(log).contains(cron.db + ": cron job 'stalled' reported no progress with 5 items remaining;"
                    + " it waits for its next call");
            assertThat(cron.query("SELECT calls FROM fail_calls WHERE job = 'stalled'")).isEqualTo("1");

            // five failures in a row: deactivated only when the first of them is 7 days old
            // deactivated with a fresh record, as Odoo: turned on again, it is not deactivated by its next failure
            assertThat(cron.query("SELECT failure_count || ',' || coalesce(first_failure_date::text, 'none') || ',' || active"
                    + " FROM kiln_cron WHERE name = 'boom_old'")).isEqualTo("0,none,false");
            assertThat(log).containsPattern(cron.db + ": cron job 'boom_old' failed 5 times in a row since [-\\d]+ [:\\d]+: deactivated");
            assertThat(cron.query("SELECT failure_count || ',' || active FROM kiln_cron WHERE name = 'boom_recent'")).isEqualTo("5,true");
            assertThat(log).doesNotContain("cron job 'boom_recent' failed 5 times in a row since");

            // the zombie: counted as a failure, not run, its counter of unfinished calls cleared
            assertThat(log).contains(cron.db + ": cron job 'zombie' did not end in its last 3 calls (killed or abandoned);"
                    + " counted as a failure without running it");
            assertThat(cron.count("SELECT count(*) FROM fail_ledger WHERE job = 'zombie'")).isZero();
            assertThat(cron.query("SELECT c.failure_count || ',' || c.active || ',' || (c.nextcall > now()) || ',' || p.timed_out_counter"
                    + " FROM kiln_cron c JOIN kiln_cron_progress p ON p.cron_id = c.id WHERE c.name = 'zombie'")).isEqualTo("1,true,true,0");

            // a later job ran after all that: had the stalled job been asked again, it would have run by now
            cron.execute("INSERT INTO kiln_cron (name, code, interval_number, interval_type, priority, nextcall)"
                    + " VALUES ('later', 'failcron.mark', 1, 'days', 10, now() - interval '1 second')");
            cron.wake();
            await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(100)).until(() ->
                    cron.count("SELECT count(*) FROM fail_ledger WHERE job = 'later'") == 1);
            assertThat(cron.query("SELECT calls FROM fail_calls WHERE job = 'stalled'")).isEqualTo("1");
            assertThat(cron.query("SELECT calls FROM fail_calls WHERE job = 'batch'")).isEqualTo("5");
            assertThat(CronHarness.lines(kiln, cron.db + ": cron job 'boom' failed")).isEqualTo(1);
            assertThat(cron.count("SELECT count(*) FROM fail_ledger WHERE job LIKE 'boom%'")).isZero();
        }
    }
}
