package dev.kiln.server;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Three Kiln processes with two runners each on one PostgreSQL drain 2,000 due jobs whose effect
 * is a row in a ledger without a unique constraint, written in the job's transaction: every job
 * leaves exactly one row, and more than one process took part.
 */
@Tag("process")
class CronExactlyOnceTest {

    private static final int JOBS = 2000;

    @TempDir
    Path dir;

    @Test
    void threeProcessesRunEachOfTwoThousandDueJobsExactlyOnce() throws Exception {
        try (CronHarness cron = CronHarness.shared(dir, "cron_once", null, "hello")) {
            List<KilnProcess> kilns = List.of(cron.serve("--max-cron-threads", "2"), cron.serve("--max-cron-threads", "2"),
                    cron.serve("--max-cron-threads", "2"));
            for (KilnProcess kiln : kilns) {
                kiln.awaitCronRunners(2);
            }

            cron.execute("INSERT INTO kiln_cron (name, code, interval_number, interval_type, nextcall) SELECT 'j_'||g,"
                    + " 'hello.ledger', 1, 'days', now() - interval '1 minute' FROM generate_series(1, " + JOBS + ") g");
            cron.wake();

            await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200)).until(() ->
                    cron.count("SELECT count(*) FROM kiln_cron WHERE name LIKE 'j\\_%' AND nextcall <= now()") == 0);

            assertThat(cron.count("SELECT count(*) FROM kiln_cron WHERE name LIKE 'j\\_%'")).isEqualTo(JOBS);
            assertThat(cron.count("""
                    SELECT count(*) FROM kiln_cron c
                    WHERE c.name LIKE 'j\\_%' AND (SELECT count(*) FROM hello_cron_ledger l WHERE l.job_id = c.id) <> 1""")
            ).as("jobs without exactly one ledger row").isZero();
            assertThat(cron.count("SELECT count(*) FROM hello_cron_ledger")).isEqualTo(JOBS);
            assertThat(cron.count("SELECT count(*) FROM kiln_cron WHERE name LIKE 'j\\_%' AND nextcall <= lastcall"))
                    .as("every job rescheduled after its call").isZero();

            List<Long> perProcess = kilns.stream()
                    .map(kiln -> CronHarness.lines(kiln, cron.db + ": cron job 'j_\\d+' done in")).toList();
            assertThat(perProcess.stream().mapToLong(Long::longValue).sum()).as("done lines " + perProcess).isEqualTo(JOBS);
            assertThat(perProcess.stream().filter(n -> n > 0).count()).as("processes that ran jobs " + perProcess)
                    .isGreaterThanOrEqualTo(2);
            assertThat(cron.count("SELECT count(DISTINCT backend_pid) FROM hello_cron_ledger")).isGreaterThanOrEqualTo(2);
        }
    }
}
