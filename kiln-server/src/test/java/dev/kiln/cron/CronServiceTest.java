package dev.kiln.cron;

import dev.kiln.addons.AddonLoader;
import dev.kiln.config.Config;
import dev.kiln.config.ConfigLoader;
import dev.kiln.db.ConnectionPools;
import dev.kiln.db.Notifications;
import dev.kiln.db.ScratchDatabase;
import dev.kiln.registry.AddonInstaller;
import dev.kiln.registry.Registries;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The cron runners of one process, in this JVM against a real PostgreSQL, on a clock the test moves
 * instead of waiting for it.
 */
class CronServiceTest {

    static ScratchDatabase scratch;
    static ConnectionPools pools;
    static String db;

    @BeforeAll
    static void createDatabase() {
        scratch = ScratchDatabase.create("cronservice", 10);
        pools = scratch.pools();
        db = scratch.name();
        new AddonInstaller(AddonLoader.discover(List.of()), pools).prepare(db);
    }

    @AfterAll
    static void dropDatabase() {
        if (scratch != null) {
            scratch.close();
        }
    }

    @Test
    void aRunnerOlderThanLimitTimeWorkerCronIsReplacedByOneOnAFreshThread() {
        Config config = ConfigLoader.load(Map.of("limit_time_worker_cron", List.of("60")), Map.of());
        MovableClock clock = new MovableClock();
        try (Notifications notifications = new Notifications(pools)) {
            Registries registries = new Registries(AddonLoader.discover(List.of()), List.of(), pools, notifications);
            CronService cron = new CronService(config, 1, pools, registries, () -> List.of(db), notifications, clock);
            cron.start();
            try {
                Thread first = cron.runnerThreads().getFirst();

                clock.move(Duration.ofSeconds(61));
                await().atMost(Duration.ofSeconds(20)).until(() -> cron.runnerThreads().getFirst() != first);
                Thread second = cron.runnerThreads().getFirst();
                await().atMost(Duration.ofSeconds(20)).until(() -> !first.isAlive());
                assertThat(second.isAlive()).isTrue();
                assertThat(second.getName()).as("it keeps its number").isEqualTo(first.getName());
                assertThat(cron.runnerThreads()).hasSize(1);
            } finally {
                cron.stop(Duration.ofSeconds(10));
            }
        }
    }

    /** A clock that stands still until the test moves it. */
    private static final class MovableClock extends Clock {
        private volatile Instant now = Instant.now();

        void move(Duration by) {
            now = now.plus(by);
        }

        @Override
        public Instant instant() {
            return now;
        }

        @Override
        public ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
            throw new UnsupportedOperationException("the runners need no zone");
        }
    }
}
