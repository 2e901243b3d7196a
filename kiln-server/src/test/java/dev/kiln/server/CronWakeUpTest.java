package dev.kiln.server;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A request that triggers a job wakes the sleeping runners once it commits: the job runs within
 * seconds, not at the runners' next poll a minute later. A request that triggers and then fails is
 * rolled back with its trigger: that job never runs, even when a later trigger wakes the runners.
 * A trigger for a later time runs its job then: not before, and not at the next poll.
 */
@Tag("process")
class CronWakeUpTest {

    private static final String WAKE = """
            package wakecron;

            import dev.kiln.api.*;
            import java.sql.*;
            import java.time.Instant;

            public final class WakeCron implements Addon {
                private static final Instant FAR = Instant.parse("2100-01-01T00:00:00Z");

                @Override public void register(AddonContext context) {
                    context.routes(this);
                    for (String name : new String[] {"first", "rolledback", "later", "delayed"}) {
                        context.cron(CronJob.every(1, CronJob.Unit.DAYS, name, this::mark).firstCall(FAR));
                    }
                }

                @Route(value = "/wake/trigger", auth = Route.Auth.PUBLIC)
                public Response trigger(Request request) {
                    request.env().trigger(request.param("job").orElseThrow());
                    return Response.text("triggered");
                }

                /** Asks for the job in {@code seconds}; answers the instant asked for. */
                @Route(value = "/wake/trigger-in", auth = Route.Auth.PUBLIC)
                public Response triggerIn(Request request) {
                    Instant at = Instant.now().plusSeconds(Long.parseLong(request.param("seconds").orElseThrow()));
                    request.env().trigger(request.param("job").orElseThrow(), at);
                    return Response.text(at.toString());
                }

                @Route(value = "/wake/trigger-fail", auth = Route.Auth.PUBLIC)
                public Response triggerAndFail(Request request) {
                    request.env().trigger(request.param("job").orElseThrow());
                    throw new IllegalStateException("failing after the trigger");
                }

                private void mark(CronContext job) throws SQLException {
                    try (PreparedStatement insert = job.connection().prepareStatement(
                            "INSERT INTO wake_ledger (job) VALUES (?)")) {
                        insert.setString(1, job.job());
                        insert.executeUpdate();
                    }
                }
            }
            """;

    @TempDir
    Path dir;

    @Test
    void aTriggerFromACommittedRequestRunsTheJobAtOnceAndOneFromAFailedRequestNever() throws Exception {
        Path addons = CronHarness.addon(dir, "wakecron", "wakecron.WakeCron", WAKE,
                "V1__wake_ledger.sql", "CREATE TABLE wake_ledger (id bigserial PRIMARY KEY, job text NOT NULL, ran_at timestamptz NOT NULL DEFAULT now());");

        try (CronHarness cron = CronHarness.shared(dir, "cron_wake", addons, "wakecron");
             KilnProcess kiln = cron.serve("--max-cron-threads", "2")) {
            kiln.awaitCronRunners(2);
            assertThat(cron.count("SELECT count(*) FROM kiln_cron WHERE name LIKE 'wakecron.%' AND active AND nextcall > now() + interval '1 year'"))
                    .isEqualTo(4);
            // the process listens (one listener for both runners); give them a moment to finish their
            // first pass and fall asleep (a minute, nothing is due)
            await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(100)).until(() -> cron.count(
                    "SELECT count(*) FROM pg_stat_activity WHERE " + CronHarness.listenerOn("kiln_cron")) == 1);
            Thread.sleep(2_000);

            assertThat(kiln.get("/wake/trigger?job=wakecron.first")).startsWith("HTTP/1.1 200").endsWith("triggered");
            await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(100)).until(() ->
                    cron.count("SELECT count(*) FROM wake_ledger WHERE job = 'wakecron.first'") == 1);

            assertThat(kiln.get("/wake/trigger-fail?job=wakecron.rolledback")).startsWith("HTTP/1.1 500")
                    .doesNotContain("failing after the trigger");
            assertThat(cron.count("SELECT count(*) FROM kiln_cron_trigger")).as("the trigger was rolled back").isZero();

            assertThat(kiln.get("/wake/trigger?job=wakecron.later")).startsWith("HTTP/1.1 200");
            await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(100)).until(() ->
                    cron.count("SELECT count(*) FROM wake_ledger WHERE job = 'wakecron.later'") == 1);
            await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(100)).until(() ->
                    cron.count("SELECT count(*) FROM kiln_cron_trigger") == 0 && !cron.claimed("wakecron.later"));

            assertThat(cron.query("SELECT string_agg(job, ',' ORDER BY id) FROM wake_ledger")).isEqualTo("wakecron.first,wakecron.later");
            assertThat(cron.query("SELECT (lastcall IS NULL) || ',' || (nextcall > now() + interval '1 year')"
                    + " FROM kiln_cron WHERE name = 'wakecron.rolledback'")).isEqualTo("true,true");
            assertThat(cron.query("SELECT (lastcall IS NOT NULL) || ',' || (nextcall > now() + interval '1 year')"
                    + " FROM kiln_cron WHERE name = 'wakecron.first'")).as("a trigger leaves the schedule as it was")
                    .isEqualTo("true,true");
            assertThat(kiln.log()).doesNotContain("cron job 'wakecron.rolledback'");

            // a trigger for later: the runners woken by its commit sleep until then, not a minute, and not less
            String response = kiln.get("/wake/trigger-in?job=wakecron.delayed&seconds=4");
            assertThat(response).startsWith("HTTP/1.1 200");
            String at = response.substring(response.lastIndexOf('\n') + 1).strip();
            await().atMost(Duration.ofSeconds(25)).pollInterval(Duration.ofMillis(100)).until(() ->
                    cron.count("SELECT count(*) FROM wake_ledger WHERE job = 'wakecron.delayed'") == 1);
            assertThat(cron.query("SELECT ran_at >= '" + at + "'::timestamptz FROM wake_ledger WHERE job = 'wakecron.delayed'"))
                    .as("ran at or after " + at).isEqualTo("t");
            assertThat(cron.count("SELECT count(*) FROM kiln_cron_trigger")).isZero();
        }
    }
}
