package dev.kiln.server;

import dev.kiln.bench.LoadClients;
import dev.kiln.bench.LoadClients.Outcome;
import dev.kiln.bench.LoadClients.Tally;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The in-place restart (threaded and {@code kiln evented}) under {@link LoadClients#harsh}: fresh
 * connections, requests sent a few milliseconds after the connect, keep-alive clients, about 600
 * requests a second in all ({@link PreforkZeroDropTest#harshLoad}); and signals sent at every point of the restart, the new image's boot included.
 */
@Tag("process")
@Tag("slow")
class InPlaceRestartTest {

    private static final String RESTARTING = "Restarting in place \\(SIGHUP\\)";
    private static final String KEPT = "running on 127\\.0\\.0\\.1:\\d+ \\(socket kept across the restart\\)";

    @TempDir
    Path dir;

    @Test
    void tenHupsAtRandomGapsLeaveTheSamePidServingAndFailNoRequest() throws Exception {
        long seed = System.nanoTime();
        Random random = new Random(seed);
        try (KilnProcess kiln = KilnProcess.start(dir); LoadClients load = PreforkZeroDropTest.harshLoad(kiln.port())) {
            load.awaitRequests(50, Duration.ofSeconds(10));
            for (int i = 0; i < 10; i++) {
                kiln.signal("HUP");
                Thread.sleep(100 + random.nextInt(1900));      // the gaps are the test's input
            }
            await().atMost(Duration.ofSeconds(120)).untilAsserted(() -> assertThat(kiln.count(KEPT))
                    .as("restarts done of those begun; the log:%n%s", kiln.log()).isEqualTo(kiln.count(RESTARTING)));
            load.awaitRequests(50, Duration.ofSeconds(30));
            Tally tally = load.stop();

            assertThat(tally.failed()).as("seed %d: %s%n%s", seed, tally, kiln.log()).isZero();
            assertThat(tally.count(Outcome.SUCCESS)).isGreaterThan(100);
            assertThat(kiln.process().isAlive()).isTrue();
            assertThat(Files.readString(kiln.pidfile).trim()).isEqualTo(String.valueOf(kiln.pid()));
            assertThat(kiln.count(RESTARTING)).as("HUPs acted on or coalesced into a restart").isBetween(1, 10);
            assertThat(kiln.get("/hello")).startsWith("HTTP/1.1 200");
        }
    }

    @Test
    void aHupDuringTheNewImagesBootRestartsItAgainOnceItIsReady() throws Exception {
        try (KilnProcess kiln = KilnProcess.start(dir); LoadClients load = PreforkZeroDropTest.harshLoad(kiln.port())) {
            hupAndAwaitTheNewImagesBoot(kiln, load);
            kiln.signal("HUP");                                 // before the new image has its handlers

            kiln.awaitLog(KEPT, 2);
            assertThat(kiln.count(RESTARTING)).isEqualTo(2);
            load.awaitRequests(50, Duration.ofSeconds(30));
            Tally tally = load.stop();
            assertThat(tally.failed()).as("%s%n%s", tally, kiln.log()).isZero();
            assertThat(kiln.process().isAlive()).isTrue();
        }
    }

    @Test
    void hupsDuringTheGracefulStopAreCoalescedIntoTheRestart() throws Exception {
        try (KilnProcess kiln = KilnProcess.start(dir)) {
            kiln.signal("HUP");
            kiln.signal("HUP");
            kiln.signal("HUP");
            kiln.awaitLog(KEPT, 1);
            // signals are taken in order: had a HUP been kept for the new image, its restart would come first
            kiln.signal("USR1");
            kiln.awaitLog("Statistics: uptime", 1);
            assertThat(kiln.count(RESTARTING)).isEqualTo(1);
            assertThat(kiln.count(KEPT)).isEqualTo(1);
        }
    }

    @Test
    void aTermDuringTheNewImagesBootStopsItOnceItIsReady() throws Exception {
        try (KilnProcess kiln = KilnProcess.start(dir); LoadClients load = PreforkZeroDropTest.harshLoad(kiln.port())) {
            hupAndAwaitTheNewImagesBoot(kiln, load);
            terminate(kiln, load);
            // acted on by the new image once it served, not lost, and not the default action's death
            assertThat(kiln.count(KEPT)).isEqualTo(1);
            assertThat(kiln.log()).containsOnlyOnce("Initiating shutdown (SIGTERM)").doesNotContain("Forced shutdown");
        }
    }

    @Test
    void aTermRightAfterAHupStopsTheServer() throws Exception {
        try (KilnProcess kiln = KilnProcess.start(dir); LoadClients load = PreforkZeroDropTest.harshLoad(kiln.port())) {
            load.awaitRequests(50, Duration.ofSeconds(10));
            kiln.signal("HUP");
            terminate(kiln, load);
        }
    }

    @Test
    void theEventedServerRestartsThreeTimesUnderLoadFailingNoRequest() throws Exception {
        try (KilnProcess kiln = KilnProcess.startEvented(dir); LoadClients load = PreforkZeroDropTest.harshLoad(kiln.port())) {
            load.awaitRequests(50, Duration.ofSeconds(10));
            for (int restart = 1; restart <= 3; restart++) {
                kiln.signal("HUP");
                kiln.awaitLog("Evented service \\(Jetty\\) " + KEPT, restart);
                load.awaitRequests(50, Duration.ofSeconds(30));
            }
            Tally tally = load.stop();
            assertThat(tally.failed()).as("%s%n%s", tally, kiln.log()).isZero();
            assertThat(kiln.process().isAlive()).isTrue();
        }
    }

    /**
     * Sends TERM and checks the stop: exit 0, the pidfile gone, every request connected before the
     * TERM served, and after it only refusals (once the last process let go of the socket).
     */
    private static void terminate(KilnProcess kiln, LoadClients load) throws Exception {
        long term = System.nanoTime();
        kiln.signal("TERM");
        assertThat(kiln.awaitExit(Duration.ofSeconds(60))).as(kiln.log()).isZero();
        Tally tally = load.stop();
        assertThat(tally.failuresConnectedBefore(term)).as("%s%n%s", tally, kiln.log()).isEmpty();
        assertThat(tally.failed()).as(tally.toString()).isEqualTo(tally.count(Outcome.REFUSED));
        assertThat(kiln.pidfile).doesNotExist();
    }

    /** Under load, sends HUP and returns once the process runs its new image and that image does not serve yet. */
    private static void hupAndAwaitTheNewImagesBoot(KilnProcess kiln, LoadClients load) throws Exception {
        load.awaitRequests(50, Duration.ofSeconds(10));
        int served = kiln.count(KEPT);
        kiln.signal("HUP");
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(5)).until(kiln::execedInPlace);
        assertThat(kiln.count(KEPT)).as("the new image was not serving yet").isEqualTo(served);
    }
}
