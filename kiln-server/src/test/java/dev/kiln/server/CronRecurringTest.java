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
 * Jobs every minute under three processes, without waiting minutes: the test makes each slot come
 * due by moving the job's next call back onto the last point of its minute grid at or before now
 * (once by several minutes: missed slots are skipped, not replayed), wakes the runners and waits.
 * Each slot runs exactly once, and the next call moves forward to the first point of the job's own
 * grid after now.
 */
@Tag("process")
class CronRecurringTest {

    private static final int SLOTS = 5;
    private static final String JOBS = "name LIKE 'r\\_%'";

    @TempDir
    Path dir;

    @Test
    void eachSlotOfAMinuteJobRunsOnceAndTheNextCallStaysOnItsMinuteGrid() throws Exception {
        try (CronHarness cron = CronHarness.shared(dir, "cron_recurring", null, "hello")) {
            List<KilnProcess> kilns = List.of(cron.serve("--max-cron-threads", "2"), cron.serve("--max-cron-threads", "2"),
                    cron.serve("--max-cron-threads", "2"));
            for (KilnProcess kiln : kilns) {
                kiln.awaitCronRunners(2);
            }
            // the grid's points fall 50 s after now (mod 1 min): no slot of this test reaches the next one by itself
            cron.execute("INSERT INTO kiln_cron (name, code, interval_number, interval_type, nextcall) SELECT 'r_'||g,"
                    + " 'hello.ledger', 1, 'minutes', date_trunc('second', now()) + interval '10 minutes 50 seconds'"
                    + " FROM generate_series(1, 3) g");
            cron.execute("CREATE TABLE recurring_origin AS SELECT id, nextcall AS origin FROM kiln_cron WHERE " + JOBS);

            for (int slot = 1; slot <= SLOTS; slot++) {
                int missed = slot == 3 ? 4 : 0;
                assertThat(cron.count("SELECT count(*) FROM kiln_cron WHERE " + JOBS + " AND nextcall <= now()")).isZero();
                cron.execute("UPDATE kiln_cron SET nextcall = nextcall - interval '1 minute'"
                        + " * (floor(extract(epoch FROM nextcall - now()) / 60) + 1 + " + missed + ") WHERE " + JOBS);
                assertThat(cron.count("SELECT count(*) FROM kiln_cron WHERE " + JOBS + " AND nextcall <= now()"))
                        .as("slot %d due", slot).isEqualTo(3);
                cron.wake();

                await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(50)).until(() ->
                        cron.count("SELECT count(*) FROM kiln_cron WHERE " + JOBS + " AND nextcall <= now()") == 0);
                assertThat(cron.query("""
                        SELECT string_agg(c.name || '=' || (SELECT count(*) FROM hello_cron_ledger l WHERE l.job_id = c.id), ','
                                          ORDER BY c.name)
                        FROM kiln_cron c WHERE c.""" + JOBS)).as("ledger rows per job after slot %d", slot)
                        .isEqualTo("r_1=%d,r_2=%d,r_3=%d".formatted(slot, slot, slot));
                assertThat(cron.count("""
                        SELECT count(*) FROM kiln_cron c JOIN recurring_origin o USING (id)
                        WHERE extract(epoch FROM c.nextcall - o.origin)::numeric % 60 <> 0
                           OR c.nextcall <= now() OR c.nextcall > now() + interval '1 minute'
                           OR c.lastcall IS NULL OR c.lastcall > now()""")).as("next calls on the grid after slot %d", slot)
                        .isZero();
            }
            assertThat(cron.count("SELECT count(*) FROM kiln_cron WHERE " + JOBS + " AND failure_count > 0")).isZero();
        }
    }
}
