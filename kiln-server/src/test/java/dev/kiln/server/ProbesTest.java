package dev.kiln.server;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The health probes ({@code /web/health/live}, {@code /started}, {@code /ready}, and Odoo's
 * {@code /web/health} with {@code db_server_status}) and the shutdown delay: on TERM the readiness
 * probe turns 503 at once while the server goes on serving for {@code --shutdown-delay} seconds, so
 * a client that follows the probe never meets a closed port.
 */
@Tag("process")
class ProbesTest {

    @TempDir
    Path dir;

    @Test
    void aServingProcessIsLiveStartedAndReadyAndOdoosCheckAsksPostgresWhenTold() throws Exception {
        try (KilnProcess kiln = KilnProcess.start(dir)) {
            await().atMost(Duration.ofSeconds(30)).until(() -> kiln.get("/web/health/ready").startsWith("HTTP/1.1 200"));
            assertThat(kiln.get("/web/health/live")).startsWith("HTTP/1.1 200").contains("Cache-Control: no-store")
                    .endsWith("{\"status\":\"pass\"}");
            assertThat(kiln.get("/web/health/started")).startsWith("HTTP/1.1 200");
            assertThat(kiln.get("/web/health")).startsWith("HTTP/1.1 200").endsWith("{\"status\":\"pass\"}");
            assertThat(kiln.get("/web/health?db_server_status=1")).startsWith("HTTP/1.1 200")
                    .endsWith("{\"status\":\"pass\",\"db_server_status\":true}");
            assertThat(kiln.request("POST", "/web/health/ready", "")).startsWith("HTTP/1.1 405");
        }
    }

    @Test
    void withPostgresUnreachableTheProcessIsLiveButNotReadyAndOdoosCheckFails() throws Exception {
        int nobody = KilnProcess.freePort();       // nothing listens there
        try (KilnProcess kiln = KilnProcess.start(dir, "--db_host=127.0.0.1", "--db_port=" + nobody, "--db_user=kiln",
                "--max-cron-threads=0")) {
            assertThat(kiln.get("/web/health/live")).startsWith("HTTP/1.1 200");
            await().atMost(Duration.ofSeconds(30)).until(() -> kiln.get("/web/health/started").startsWith("HTTP/1.1 200"));
            assertThat(kiln.get("/web/health/ready")).startsWith("HTTP/1.1 503").contains("PostgreSQL does not answer");
            assertThat(kiln.get("/web/health?db_server_status=1")).startsWith("HTTP/1.1 500")
                    .endsWith("{\"status\":\"fail\",\"db_server_status\":false}");
            assertThat(kiln.get("/web/health")).as("without the question, Odoo's answer").startsWith("HTTP/1.1 200");
        }
    }

    @Test
    void threadedUnderTermAClientFollowingReadinessSeesNoFailedRequest() throws Exception {
        followReadinessThroughAStop(KilnProcess.start(dir, "--shutdown-delay=5"));
    }

    @Test
    void preforkUnderTermAClientFollowingReadinessSeesNoFailedRequest() throws Exception {
        KilnProcess kiln = KilnProcess.launch(dir, List.of(), "--workers=2", "--max-cron-threads=0", "--shutdown-delay=5");
        kiln.awaitHttpWorkers(2, 1);
        followReadinessThroughAStop(kiln);
    }

    /**
     * Four clients that each ask the readiness probe before each request and stop once it answers
     * 503; TERM; every request they sent succeeded, the server served on after the probe turned (a
     * request sent without asking still succeeds), and it then stopped cleanly.
     */
    private static void followReadinessThroughAStop(KilnProcess kiln) throws Exception {
        try (kiln) {
            await().atMost(Duration.ofSeconds(30)).until(() -> kiln.get("/web/health/ready").startsWith("HTTP/1.1 200"));
            AtomicInteger served = new AtomicInteger();
            AtomicInteger failed = new AtomicInteger();
            AtomicBoolean stop = new AtomicBoolean();
            List<CompletableFuture<Void>> clients = java.util.stream.IntStream.range(0, 4).mapToObj(i -> CompletableFuture.runAsync(() -> {
                while (!stop.get()) {
                    try {
                        if (!kiln.get("/web/health/ready").startsWith("HTTP/1.1 200")) {
                            return;           // taken out of the rotation
                        }
                    } catch (IOException e) {
                        failed.incrementAndGet();
                        return;
                    }
                    try {
                        if (kiln.get("/hello").startsWith("HTTP/1.1 200")) {
                            served.incrementAndGet();
                        } else {
                            failed.incrementAndGet();
                        }
                    } catch (IOException e) {
                        failed.incrementAndGet();
                    }
                }
            })).toList();
            await().atMost(Duration.ofSeconds(30)).until(() -> served.get() >= 100);
            kiln.signal("TERM");
            CompletableFuture.allOf(clients.toArray(CompletableFuture[]::new)).get(30, java.util.concurrent.TimeUnit.SECONDS);
            stop.set(true);

            assertThat(failed.get()).as("failed requests of clients that follow the probe").isZero();
            assertThat(kiln.get("/hello")).as("still serving during the delay").startsWith("HTTP/1.1 200");
            assertThat(kiln.get("/web/health/ready")).startsWith("HTTP/1.1 503").contains("draining");
            assertThat(kiln.get("/web/health/live")).startsWith("HTTP/1.1 200");
            assertThat(kiln.awaitExit(Duration.ofSeconds(60))).as(kiln.log()).isZero();
        }
    }
}
