package dev.kiln.server;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * {@code limit_time_worker_cron}: a runner older than the limit ends between two passes and a fresh
 * one takes its place, which still hears triggers and runs jobs. (That the runner's thread is a new
 * one each time is asserted in-process, with a clock moved instead of waited on: CronServiceTest.)
 */
@Tag("process")
class WorkerCronAgeTest {

    @TempDir
    Path dir;

    @Test
    void aRunnerPastLimitTimeWorkerCronIsReplacedAndJobsKeepRunning() throws Exception {
        try (CronHarness cron = CronHarness.shared(dir, "cron_age", null, "hello")) {
            KilnProcess kiln = cron.serve("--max-cron-threads=1", "--limit-time-worker-cron=1");
            kiln.awaitCronRunners(1);
            kiln.awaitLog("Cron runner 1: it reached limit_time_worker_cron \\(1 s\\); a fresh runner takes its place", 2);

            cron.execute("INSERT INTO kiln_cron (name, code, interval_number, interval_type, nextcall)"
                    + " VALUES ('aged', 'hello.ledger', 1, 'days', '2100-01-01')");
            cron.execute("INSERT INTO kiln_cron_trigger (cron_id, call_at) SELECT id, now() FROM kiln_cron WHERE name = 'aged'");
            cron.wake();
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(200))
                    .until(() -> cron.count("SELECT count(*) FROM hello_cron_ledger WHERE job = 'aged'") == 1);
            kiln.awaitLog("Cron runner 1: it reached limit_time_worker_cron", 3);
            assertThat(kiln.log()).doesNotContain("Cron runner 1: PostgreSQL");
        }
    }
}
