package dev.kiln.server;

import dev.kiln.db.PgAddress;
import dev.kiln.db.Postgres;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * PostgreSQL restarting under the cron runners: they notice, keep trying, reconnect and listen
 * again by themselves; once the server is back a trigger runs its job, and the Kiln process never
 * went down. Stopped in the middle of a batch, it costs no job and runs none twice: a call whose
 * commit went through is not called again, one whose commit did not is. The server here is one
 * this test starts, stops and starts again on the same port.
 */
@Tag("process")
class CronOutageTest {

    private static final int JOBS = 600;

    /** Sleeps a little, then writes its ledger row: the runners are always in the middle of jobs. */
    private static final String SLOW = """
            package slowcron;

            import dev.kiln.api.*;
            import java.sql.*;

            public final class SlowCron implements Addon {
                @Override public void register(AddonContext context) {
                    context.cron(CronJob.every(1, CronJob.Unit.DAYS, "slow", this::slow).inactive());
                }

                private void slow(CronContext job) throws Exception {
                    Thread.sleep(20);
                    try (PreparedStatement insert = job.connection().prepareStatement(
                            "INSERT INTO slow_ledger (job_id) VALUES (?)")) {
                        insert.setLong(1, job.jobId());
                        insert.executeUpdate();
                    }
                }
            }
            """;

    @TempDir
    Path dir;

    @Test
    void afterPostgresRestartsATriggerRunsItsJobAndKilnIsStillUp() throws Exception {
        Path data = dir.resolve("pg");
        Postgres postgres = Postgres.startEmbedded(data);
        try {
            PgAddress server = postgres.await();
            List<String> external = List.of("--db_host=" + server.host(), "--db_port=" + server.port(), "--db_user=postgres", "--db-allow-superuser");
            try (CronHarness cron = CronHarness.external(dir, "cron_outage", server.port(), external, "hello")) {
                KilnProcess kiln = cron.serve("--max-cron-threads", "2");
                kiln.awaitCronRunners(2);
                cron.execute("INSERT INTO kiln_cron (name, code, interval_number, interval_type, nextcall)"
                        + " VALUES ('outage', 'hello.ledger', 1, 'days', '2100-01-01')");
                triggerAndAwaitRun(cron, 1);

                postgres.close();
                kiln.awaitLog("Notifications: .*; connecting again every 1 s", 1);

                postgres = Postgres.startEmbedded(data);
                assertThat(postgres.await().port()).isEqualTo(server.port());
                // the process listens again; a moment for the runners' catch-up pass, so that the trigger below is heard asleep
                await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(100)).until(() -> cron.count(
                        "SELECT count(*) FROM pg_stat_activity WHERE " + CronHarness.listenerOn("kiln_cron")) == 1);
                Thread.sleep(2_000);

                triggerAndAwaitRun(cron, 2);
                assertThat(kiln.process().isAlive()).isTrue();
                assertThat(kiln.get("/hello")).startsWith("HTTP/1.1 200");
                assertThat(cron.query("SELECT failure_count || ',' || (nextcall = '2100-01-01') FROM kiln_cron WHERE name = 'outage'"))
                        .isEqualTo("0,true");
            }
        } finally {
            postgres.close();
        }
    }

    @Test
    void postgresRestartingInTheMiddleOfABatchLosesNoJobAndRunsNoneTwice() throws Exception {
        Path addons = CronHarness.addon(dir, "slowcron", "slowcron.SlowCron", SLOW,
                "V1__slow_ledger.sql", "CREATE TABLE slow_ledger (id bigserial PRIMARY KEY, job_id bigint NOT NULL);");
        Path data = dir.resolve("pg");
        Postgres postgres = Postgres.startEmbedded(data);
        try {
            PgAddress server = postgres.await();
            List<String> external = List.of("--addons-path=" + addons, "--db_host=" + server.host(),
                    "--db_port=" + server.port(), "--db_user=postgres", "--db-allow-superuser");
            try (CronHarness cron = CronHarness.external(dir, "cron_outage_batch", server.port(), external, "slowcron")) {
                KilnProcess kiln = cron.serve("--max-cron-threads", "2");
                kiln.awaitCronRunners(2);
                cron.execute("INSERT INTO kiln_cron (name, code, interval_number, interval_type, nextcall) SELECT 'b_'||g,"
                        + " 'slowcron.slow', 1, 'days', now() - interval '1 minute' FROM generate_series(1, " + JOBS + ") g");
                cron.wake();
                await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(20)).until(() ->
                        cron.count("SELECT count(*) FROM slow_ledger") >= 50);

                postgres.close();
                postgres = Postgres.startEmbedded(data);
                assertThat(postgres.await().port()).isEqualTo(server.port());
                assertThat(cron.count("SELECT count(*) FROM kiln_cron WHERE name LIKE 'b\\_%' AND nextcall <= now()"))
                        .as("jobs left when PostgreSQL stopped").isPositive();

                await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(200)).until(() ->
                        cron.count("SELECT count(*) FROM kiln_cron WHERE name LIKE 'b\\_%' AND nextcall <= now()") == 0);
                assertThat(cron.count("""
                        SELECT count(*) FROM kiln_cron c
                        WHERE c.name LIKE 'b\\_%' AND (SELECT count(*) FROM slow_ledger l WHERE l.job_id = c.id) <> 1""")
                ).as("jobs without exactly one committed ledger row").isZero();
                assertThat(cron.count("SELECT count(*) FROM slow_ledger")).isEqualTo(JOBS);
                assertThat(cron.count("SELECT count(*) FROM kiln_cron WHERE name LIKE 'b\\_%' AND failure_count > 0"))
                        .as("jobs counted failed").isZero();
                assertThat(kiln.process().isAlive()).isTrue();
            }
        } finally {
            postgres.close();
        }
    }

    /** A trigger for the job, written and announced as a committed request would; waits for its ledger row. */
    private static void triggerAndAwaitRun(CronHarness cron, int rows) throws Exception {
        cron.execute("INSERT INTO kiln_cron_trigger (cron_id, call_at) SELECT id, now() FROM kiln_cron WHERE name = 'outage'");
        cron.wake();
        await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(100)).until(() ->
                cron.count("SELECT count(*) FROM hello_cron_ledger l JOIN kiln_cron c ON c.id = l.job_id WHERE c.name = 'outage'") == rows);
    }
}
