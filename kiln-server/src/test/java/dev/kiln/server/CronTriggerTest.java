package dev.kiln.server;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Triggers as Odoo's {@code _trigger}: one written while its job runs asks for another call after
 * that one (a run serves only the triggers written before it started), and a job can trigger
 * another, which runs once its transaction commits, in whichever process.
 */
@Tag("process")
class CronTriggerTest {

    private static final String TRIG = """
            package trigcron;

            import dev.kiln.api.*;
            import java.sql.*;
            import java.time.Instant;

            public final class TrigCron implements Addon {
                private static final Instant FAR = Instant.parse("2100-01-01T00:00:00Z");

                @Override public void register(AddonContext context) {
                    context.routes(this);
                    context.cron(CronJob.every(1, CronJob.Unit.DAYS, "long", this::longCall).firstCall(FAR));
                    context.cron(CronJob.every(1, CronJob.Unit.DAYS, "chain", this::chain).firstCall(FAR));
                    context.cron(CronJob.every(1, CronJob.Unit.DAYS, "chained", this::mark).firstCall(FAR));
                }

                @Route(value = "/trig/trigger", auth = Route.Auth.PUBLIC)
                public Response trigger(Request request) {
                    request.env().trigger(request.param("job").orElseThrow());
                    return Response.text("triggered");
                }

                private void longCall(CronContext job) throws Exception {
                    mark(job);
                    Thread.sleep(3_000);
                }

                private void chain(CronContext job) throws Exception {
                    mark(job);
                    job.trigger("trigcron.chained");
                }

                private void mark(CronContext job) throws SQLException {
                    try (PreparedStatement insert = job.connection().prepareStatement(
                            "INSERT INTO trig_ledger (job, kiln_pid) VALUES (?, ?)")) {
                        insert.setString(1, job.job());
                        insert.setLong(2, ProcessHandle.current().pid());
                        insert.executeUpdate();
                    }
                }
            }
            """;

    @TempDir
    Path dir;

    @Test
    void aTriggerWrittenDuringARunCallsTheJobOnceMoreAndAJobCanTriggerAnother() throws Exception {
        Path addons = CronHarness.addon(dir, "trigcron", "trigcron.TrigCron", TRIG,
                "V1__trig_ledger.sql", "CREATE TABLE trig_ledger (id bigserial PRIMARY KEY, job text NOT NULL, kiln_pid bigint NOT NULL);");

        try (CronHarness cron = CronHarness.shared(dir, "cron_trigger", addons, "trigcron")) {
            KilnProcess one = cron.serve("--max-cron-threads", "1");
            KilnProcess two = cron.serve("--max-cron-threads", "1");
            one.awaitCronRunners(1);
            two.awaitCronRunners(1);

            // a trigger while the job runs: one more call after this one, and no more
            assertThat(one.get("/trig/trigger?job=trigcron.long")).startsWith("HTTP/1.1 200");
            await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(50)).until(() -> cron.claimed("trigcron.long"));
            assertThat(two.get("/trig/trigger?job=trigcron.long")).startsWith("HTTP/1.1 200");
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100)).until(() ->
                    cron.count("SELECT count(*) FROM trig_ledger WHERE job = 'trigcron.long'") == 2);
            await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(100)).until(() ->
                    cron.count("SELECT count(*) FROM kiln_cron_trigger") == 0 && !cron.claimed("trigcron.long"));
            assertThat(cron.count("SELECT count(*) FROM trig_ledger WHERE job = 'trigcron.long'")).isEqualTo(2);

            // a job's trigger, committed with it
            assertThat(two.get("/trig/trigger?job=trigcron.chain")).startsWith("HTTP/1.1 200");
            await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(100)).until(() ->
                    cron.count("SELECT count(*) FROM trig_ledger WHERE job = 'trigcron.chained'") == 1);
            await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(100)).until(() ->
                    cron.count("SELECT count(*) FROM kiln_cron_trigger") == 0 && !cron.claimed("trigcron.chained"));
            assertThat(cron.query("SELECT string_agg(job, ',' ORDER BY id) FROM trig_ledger WHERE job LIKE 'trigcron.chain%'"))
                    .isEqualTo("trigcron.chain,trigcron.chained");
            assertThat(cron.count("SELECT count(*) FROM kiln_cron WHERE name LIKE 'trigcron.%' AND"
                    + " (failure_count > 0 OR nextcall < '2100-01-01')")).as("failed or rescheduled").isZero();
        }
    }
}
