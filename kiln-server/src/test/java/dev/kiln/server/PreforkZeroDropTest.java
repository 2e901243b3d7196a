package dev.kiln.server;

import dev.kiln.bench.LoadClients;
import dev.kiln.bench.LoadClients.Outcome;
import dev.kiln.bench.LoadClients.Tally;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.function.BooleanSupplier;

import static dev.kiln.server.PreforkServerTest.workerPids;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Zero-drop in prefork mode, shown with concurrent clients ({@link LoadClients#harsh}: fresh
 * connections, requests sent a few milliseconds after the connect, keep-alive clients; about 600
 * requests a second in all) that sort every request into success, empty, reset, refused, timeout or 5xx while the
 * workers are reloaded, recycled, added, retired, stopped or killed.
 */
@Tag("process")
@Tag("slow")
class PreforkZeroDropTest {

    private static final int CLIENTS = 4;
    private static final String RETIRED = "Worker \\d+ \\(pid \\d+\\) retired";
    /** How long a worker JVM may take to boot while the harsh clients keep both cores busy (measured: 12 s per reload). */
    private static final Duration UNDER_LOAD = Duration.ofSeconds(120);
    /**
     * The pause of each harsh client after each request: about 600 requests a second in all, half
     * of what this machine serves flat out, so that the test run's other forks keep their CPU.
     */
    private static final Duration PACE = Duration.ofMillis(25);

    @TempDir
    Path dir;

    @Test
    void threeRollingReloadsFailNoRequest() throws Exception {
        try (KilnProcess kiln = KilnProcess.launch(dir, List.of(), "--workers=2", "--max-cron-threads=0")) {
            kiln.awaitHttpWorkers(2, 1);
            Set<Long> first = workerPids(kiln);
            Tally tally;
            try (LoadClients load = harshLoad(kiln.port())) {
                load.awaitRequests(20, Duration.ofSeconds(10));
                for (int generation = 2; generation <= 4; generation++) {
                    kiln.signal("HUP");
                    kiln.awaitHttpWorkers(2, generation, UNDER_LOAD);       // the older generation gone
                }
                load.awaitRequests(20, Duration.ofSeconds(10));      // served by the last generation
                tally = load.stop();
            }
            assertNoFailure(tally, kiln);
            assertThat(workerPids(kiln)).hasSize(2).doesNotContainAnyElementsOf(first);
        }
    }

    @Test
    void hupsAtRandomGapsAndATermRightAfterAHupFailNoRequest() throws Exception {
        long seed = System.nanoTime();
        java.util.Random random = new java.util.Random(seed);
        KilnProcess kiln = KilnProcess.launch(dir, List.of(), "--workers=2", "--max-cron-threads=0");
        kiln.awaitHttpWorkers(2, 1);
        try (kiln; LoadClients load = harshLoad(kiln.port())) {
            load.awaitRequests(50, Duration.ofSeconds(10));
            for (int i = 0; i < 4; i++) {
                kiln.signal("HUP");
                Thread.sleep(100 + random.nextInt(1900));      // the gaps are the test's input
            }
            // a HUP during a reload is acted on once that reload is done: every reload begun ends serving
            await().atMost(UNDER_LOAD).until(() ->
                    kiln.count("SIGHUP: generation \\d+ serving") == kiln.count("SIGHUP: reloading")
                            && !kiln.log().endsWith("another reload follows it\n"));
            load.awaitRequests(50, Duration.ofSeconds(30));
            assertThat(load.tally().failed()).as("seed %d: %s%n%s", seed, load.tally(), kiln.log()).isZero();

            kiln.signal("HUP");
            long term = System.nanoTime();
            kiln.signal("TERM");
            assertThat(kiln.awaitExit(Duration.ofSeconds(60))).as(kiln.log()).isZero();
            Tally tally = load.stop();
            assertThat(tally.failuresConnectedBefore(term)).as("seed %d: %s%n%s", seed, tally, kiln.log()).isEmpty();
            assertThat(tally.failed()).as(tally.toString()).isEqualTo(tally.count(Outcome.REFUSED));
        }
    }

    @Test
    void limitRequestRecyclingFailsNoRequest() throws Exception {
        try (KilnProcess kiln = KilnProcess.launch(dir, List.of(), "--workers=2", "--max-cron-threads=0",
                "--limit-request=100", "--worker-heap=256M")) {
            kiln.awaitHttpWorkers(2, 1);
            assertThat(PreforkServerTest.commandLine(workerPids(kiln).iterator().next()))
                    .contains(" -Xmx268435456 -Xms16777216 dev.kiln.Main worker http ");
            Tally tally = underLoad(kiln, () -> kiln.count(RETIRED) >= 4);
            assertNoFailure(tally, kiln);
            assertThat(kiln.log()).containsPattern("Retiring Worker \\d+ \\(pid \\d+, limit_request\\)");
        }
    }

    @Test
    void softMemoryRecyclingFailsNoRequest() throws Exception {
        // below any JVM's RSS: every worker asks to be replaced once it has served a request
        try (KilnProcess kiln = KilnProcess.launch(dir, List.of(), "--workers=2", "--max-cron-threads=0",
                "--limit-memory-soft=32M")) {
            kiln.awaitHttpWorkers(2, 1);
            Tally tally = underLoad(kiln, () -> kiln.count(RETIRED) >= 3);
            assertNoFailure(tally, kiln);
            assertThat(kiln.log()).containsPattern("Worker \\d+: limit limit_memory_soft reached \\(RSS \\d+ bytes > 33554432 bytes\\)")
                    .containsPattern("Retiring Worker \\d+ \\(pid \\d+, limit_memory_soft\\)");
        }
    }

    @Test
    void ttinAndTtouFailNoRequest() throws Exception {
        try (KilnProcess kiln = KilnProcess.launch(dir, List.of(), "--workers=2", "--max-cron-threads=0")) {
            kiln.awaitHttpWorkers(2, 1);
            Tally tally;
            try (LoadClients load = harshLoad(kiln.port())) {
                load.awaitRequests(20, Duration.ofSeconds(10));
                // one signal at a time: two of a kind sent before the master took the first are one (POSIX does not queue them)
                for (int workers = 3; workers <= 4; workers++) {
                    kiln.signal("TTIN");
                    kiln.awaitHttpWorkers(workers, 1, UNDER_LOAD);
                }
                load.awaitRequests(20, Duration.ofSeconds(10));
                for (int workers = 3; workers >= 1; workers--) {
                    kiln.signal("TTOU");
                    kiln.awaitHttpWorkers(workers, 1, UNDER_LOAD);
                }
                load.awaitRequests(20, Duration.ofSeconds(10));
                tally = load.stop();
            }
            assertNoFailure(tally, kiln);
        }
    }

    @Test
    void termServesEveryRequestAcceptedBeforeIt() throws Exception {
        KilnProcess kiln = KilnProcess.launch(dir, List.of(), "--workers=2", "--max-cron-threads=0");
        kiln.awaitHttpWorkers(2, 1);
        try (kiln; LoadClients load = harshLoad(kiln.port())) {
            load.awaitRequests(50, Duration.ofSeconds(10));
            long term = System.nanoTime();
            kiln.signal("TERM");
            assertThat(kiln.awaitExit(Duration.ofSeconds(60))).as(kiln.log()).isZero();
            Tally tally = load.stop();
            assertThat(tally.failuresConnectedBefore(term)).as(tally + "\n" + kiln.log()).isEmpty();
            // after TERM, new connections are refused once the last worker let go of the socket; the
            // kernel completes none in between (ListenSocket.stopQueueing), so none is reset
            assertThat(tally.failed()).as(tally.toString()).isEqualTo(tally.count(Outcome.REFUSED));
            assertThat(tally.count(Outcome.SUCCESS)).isGreaterThanOrEqualTo(50);
        }
    }

    @Test
    void killingOneWorkerFailsOnlyTheRequestsItHeld() throws Exception {
        try (KilnProcess kiln = KilnProcess.launch(dir, List.of(), "--workers=2", "--max-cron-threads=0")) {
            kiln.awaitHttpWorkers(2, 1);
            Tally tally;
            try (LoadClients load = LoadClients.start(kiln.port(), "/hello", CLIENTS)) {
                load.awaitRequests(50, Duration.ofSeconds(10));
                long victim = workerPids(kiln).iterator().next();
                ProcessHandle.of(victim).orElseThrow().destroyForcibly();
                kiln.awaitWorkers("the dead worker replaced", UNDER_LOAD, workers -> workers.stream().noneMatch(w -> w.pid() == victim)
                        && workers.stream().filter(KilnProcess.Worker::servingHttp).count() == 2);
                load.awaitRequests(50, Duration.ofSeconds(10));
                tally = load.stop();
            }
            // each client has one request outstanding at a time: at most that many were in the dead worker
            assertThat(tally.failed()).as(tally.toString()).isLessThanOrEqualTo(CLIENTS);
            assertThat(tally.failed()).as(tally.toString()).isEqualTo(tally.count(Outcome.RESET) + tally.count(Outcome.EMPTY));
        }
    }

    /** Runs the clients until {@code done} (at most 90 s) and a few more requests after it. */
    private static Tally underLoad(KilnProcess kiln, BooleanSupplier done) throws Exception {
        try (LoadClients load = harshLoad(kiln.port())) {
            await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(100)).until(done::getAsBoolean);
            load.awaitRequests(20, Duration.ofSeconds(10));
            return load.stop();
        }
    }

    /** {@link LoadClients#harsh}'s mix of clients on {@code GET /hello}, paced. */
    static LoadClients harshLoad(int port) {
        return LoadClients.harsh(port, "/hello", PACE);
    }

    private static void assertNoFailure(Tally tally, KilnProcess kiln) {
        assertThat(tally.failed()).as(tally + "\n" + kiln.log()).isZero();
        assertThat(tally.count(Outcome.SUCCESS)).as(tally.toString()).isGreaterThan(50);
    }
}
