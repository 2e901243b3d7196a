package dev.kiln.server;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The threaded server as an operator meets it: a real kiln process, real signals, real sockets. */
@Tag("process")
class ThreadedServerTest {

    private static final String RUNNING = "HTTP service \\(Jetty\\) running";

    @TempDir
    Path dir;

    @Test
    void servesTheRoutesOfServerWideAddonsAndWritesThePidfile() throws Exception {
        try (KilnProcess kiln = KilnProcess.start(dir)) {
            assertThat(kiln.get("/hello")).startsWith("HTTP/1.1 200").endsWith("Hello, world");
            assertThat(kiln.get("/web/health")).startsWith("HTTP/1.1 200").contains("{\"status\":\"pass\"}");
            assertThat(Files.readString(kiln.pidfile).trim()).isEqualTo(String.valueOf(kiln.pid()));
            // the access line is written once the response is on its way: wait for it
            kiln.awaitLog("\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d,\\d{3} " + kiln.pid()
                    + " INFO \\? dev\\.kiln\\.http\\.access: 127\\.0\\.0\\.1 \"GET /hello\" 200 12 ", 1);
        }
    }

    @Test
    void termLetsTheRequestInFlightFinishRefusesNewConnectionsAndExitsZero() throws Exception {
        try (KilnProcess kiln = KilnProcess.start(dir)) {
            CompletableFuture<String> slow = CompletableFuture.supplyAsync(() -> get(kiln, "/hello/wait?seconds=3"));
            awaitInFlight(kiln, 1);

            kiln.signal("TERM");
            kiln.awaitLog("Stopping the HTTP service", 1);
            await().atMost(Duration.ofSeconds(5)).until(() -> refused(kiln.port()));

            assertThat(slow.get()).startsWith("HTTP/1.1 200");
            assertThat(kiln.awaitExit(Duration.ofSeconds(15))).isZero();
            assertThat(kiln.pidfile).doesNotExist();
        }
    }

    @Test
    void aSecondTermExitsAtOnceWithoutWaitingForTheRequest() throws Exception {
        try (KilnProcess kiln = KilnProcess.start(dir)) {
            CompletableFuture<String> slow = CompletableFuture.supplyAsync(() -> get(kiln, "/hello/wait?seconds=120"));
            awaitInFlight(kiln, 1);

            kiln.signal("TERM");
            kiln.awaitLog("Stopping the HTTP service", 1);
            kiln.signal("TERM");

            assertThat(kiln.awaitExit(Duration.ofSeconds(10))).isZero();
            assertThat(kiln.log()).contains("Forced shutdown.");
            assertThat(slow.get()).doesNotStartWith("HTTP/1.1 200");
        }
    }

    @Test
    void intStopsGracefullyLikeTerm() throws Exception {
        try (KilnProcess kiln = KilnProcess.start(dir)) {
            kiln.signal("INT");
            assertThat(kiln.awaitExit(Duration.ofSeconds(15))).isZero();
            assertThat(kiln.log()).contains("Initiating shutdown (SIGINT)");
        }
    }

    @Test
    void hupRestartsInPlaceThreeTimesWithoutRefusingOrResettingAConnection() throws Exception {
        try (KilnProcess kiln = KilnProcess.start(dir)) {
            AtomicBoolean running = new AtomicBoolean(true);
            AtomicBoolean paused = new AtomicBoolean(false);
            AtomicInteger busy = new AtomicInteger();
            AtomicInteger served = new AtomicInteger();
            ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
            List<Thread> clients = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                clients.add(Thread.ofPlatform().start(() -> {
                    while (running.get()) {
                        if (paused.get()) {
                            Thread.onSpinWait();
                            continue;
                        }
                        busy.incrementAndGet();
                        try {
                            String response = kiln.get("/hello");
                            if (response.startsWith("HTTP/1.1 200") && response.endsWith("Hello, world")) {
                                served.incrementAndGet();
                            } else {
                                failures.add(response.isEmpty() ? "empty response" : response.lines().findFirst().orElse(""));
                            }
                        } catch (IOException e) {
                            failures.add(e.toString());
                        } finally {
                            busy.decrementAndGet();
                        }
                    }
                }));
            }
            List<Integer> fds = new ArrayList<>();
            for (int restart = 1; restart <= 3; restart++) {
                int before = served.get();
                kiln.signal("HUP");
                kiln.awaitLog(RUNNING + " on 127\\.0\\.0\\.1:\\d+ \\(socket kept across the restart\\)", restart);
                await().atMost(Duration.ofSeconds(10)).until(() -> served.get() > before + 50);
                fds.add(quietFdCount(kiln, paused, busy));
            }
            running.set(false);
            for (Thread client : clients) {
                client.join();
            }

            assertThat(failures).isEmpty();
            assertThat(served.get()).isGreaterThan(150);
            assertThat(kiln.process().isAlive()).isTrue();
            assertThat(Files.readString(kiln.pidfile).trim()).isEqualTo(String.valueOf(kiln.pid()));
            assertThat(fds.get(2)).as("open non-socket fds after each restart, clients paused: %s", fds).isLessThanOrEqualTo(fds.get(0));
            assertThat(kiln.count("Restarting in place \\(SIGHUP\\)")).isEqualTo(3);
        }
    }

    /** The process's open non-socket fds with no client connected: pauses the clients until the count settles. */
    private static int quietFdCount(KilnProcess kiln, AtomicBoolean paused, AtomicInteger busy) throws Exception {
        paused.set(true);
        try {
            await().atMost(Duration.ofSeconds(10)).until(() -> busy.get() == 0);
            int[] last = {-1};
            await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(200)).until(() -> {
                int now = kiln.openNonSocketFds();
                boolean settled = now == last[0];
                last[0] = now;
                return settled;
            });
            return last[0];
        } finally {
            paused.set(false);
        }
    }

    @Test
    void usr1LogsStatistics() throws Exception {
        try (KilnProcess kiln = KilnProcess.start(dir)) {
            kiln.get("/hello");
            // counted once the handler returns, which may be after the client has the response;
            // the access line is written after the count
            kiln.awaitLog("\"GET /hello\" 200", 1);
            kiln.signal("USR1");
            kiln.awaitLog("Statistics: uptime \\d+ s, requests served 1, in flight 0, threads \\d+, heap \\d+/\\d+ MiB "
                    + "\\(max \\d+\\), RSS \\d+ MiB", 1);
        }
    }

    @Test
    void xcpuExitsAtOnce() throws Exception {
        try (KilnProcess kiln = KilnProcess.start(dir)) {
            CompletableFuture.runAsync(() -> get(kiln, "/hello/wait?seconds=60"));
            awaitInFlight(kiln, 1);
            kiln.signal("XCPU");
            assertThat(kiln.awaitExit(Duration.ofSeconds(10))).isEqualTo(1);
            assertThat(kiln.log()).contains("CPU time limit exceeded! Shutting down immediately");
        }
    }

    @Test
    void stopAfterInitReturnsWithoutServing() throws Exception {
        int port = KilnProcess.freePort();      // a port of its own: one it was told to serve on and never did
        try (KilnProcess kiln = KilnProcess.launch(dir, List.of(), "--stop-after-init", "--http-port=" + port)) {
            assertThat(kiln.awaitExit(Duration.ofSeconds(30))).isZero();
            assertThat(kiln.log()).doesNotContain("HTTP service (Jetty) running");
            assertThat(refused(port)).isTrue();
        }
    }

    @Test
    void aRequestOverLimitTimeRealHasItsStackLoggedThenTheServerRestartsOnceTheOthersAreDone() throws Exception {
        try (KilnProcess kiln = KilnProcess.start(dir, "--limit-time-real=4")) {
            CompletableFuture<String> stuck = CompletableFuture.supplyAsync(() -> get(kiln, "/hello/wait?seconds=60"));
            awaitInFlight(kiln, 1);
            Thread.sleep(2000);     // the second request starts later, so it stays under the limit
            CompletableFuture<String> innocent = CompletableFuture.supplyAsync(() -> get(kiln, "/hello/wait?seconds=3"));

            kiln.awaitLog("Limit limit_time_real reached: request GET /hello/wait", 1);
            assertThat(innocent.get()).startsWith("HTTP/1.1 200");
            kiln.awaitLog(RUNNING + " on .* \\(socket kept across the restart\\)", 1);

            assertThat(kiln.log()).containsPattern("request GET /hello/wait on .* running \\d+ s > 4 s; its stack:\n\tat ");
            assertThat(kiln.log()).contains("dev.kiln.addons.hello.HelloAddon.wait");
            assertThat(kiln.count("Limit limit_time_real reached")).isEqualTo(1);
            assertThat(stuck.get()).doesNotStartWith("HTTP/1.1 200");
            assertThat(kiln.get("/hello")).startsWith("HTTP/1.1 200");
            assertThat(kiln.process().isAlive()).isTrue();
        }
    }

    @Test
    void rssOverLimitMemorySoftRestartsGracefullyOnceSomethingWasServed() throws Exception {
        try (KilnProcess kiln = KilnProcess.start(dir, "--limit-memory-soft=1M")) {
            Thread.sleep(1500);     // a loop tick or more: nothing served yet, so no restart
            assertThat(kiln.log()).doesNotContain("limit_memory_soft reached");

            assertThat(kiln.get("/hello")).startsWith("HTTP/1.1 200");
            kiln.awaitLog("Limit limit_memory_soft reached: RSS \\d+ bytes > 1048576 bytes", 1);
            kiln.awaitLog(RUNNING + " on .* \\(socket kept across the restart\\)", 1);
            assertThat(kiln.process().isAlive()).isTrue();
            assertThat(Files.readString(kiln.pidfile).trim()).isEqualTo(String.valueOf(kiln.pid()));
            assertThat(kiln.count("limit_memory_soft reached")).isEqualTo(1);
        }
    }

    @Test
    void aPortInUseIsOneClearLineAndExitCodeOne() throws Exception {
        try (KilnProcess first = KilnProcess.start(dir.resolve(mkdir("a")));
             KilnProcess second = KilnProcess.launch(dir.resolve(mkdir("b")), List.of(), "--http-port=" + first.port())) {
            assertThat(second.awaitExit(Duration.ofSeconds(30))).isEqualTo(1);
            assertThat(second.log()).contains("cannot listen on 127.0.0.1:" + first.port()).doesNotContain("\tat ");
        }
    }

    @Test
    void anAddonWithAMissingDependencyStopsTheStartWithOneLineAndExitCodeOne() throws Exception {
        Path broken = Files.createDirectories(dir.resolve("addons/broken"));
        Files.writeString(broken.resolve("manifest.json"), "{\"name\": \"Broken\", \"version\": \"1.0\", \"depends\": [\"nowhere\"]}");
        try (KilnProcess kiln = KilnProcess.launch(dir, List.of(), "--addons-path=" + dir.resolve("addons"),
                "--load=base,web,broken")) {
            assertThat(kiln.awaitExit(Duration.ofSeconds(30))).isEqualTo(1);
            assertThat(kiln.log()).contains("broken").contains("nowhere").contains(broken.resolve("manifest.json").toString())
                    .doesNotContain("\tat ").doesNotContain("Exception");
            assertThat(kiln.log().lines().filter(line -> line.startsWith("kiln:"))).hasSize(1);
        }
    }

    private String mkdir(String name) throws IOException {
        Files.createDirectories(dir.resolve(name));
        return name;
    }

    /** Asks the server itself, through USR1, until it counts {@code n} requests in flight. */
    private static void awaitInFlight(KilnProcess kiln, int n) throws Exception {
        int seen = kiln.count("Statistics:");
        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(200)).until(() -> {
            kiln.signal("USR1");
            return kiln.log().contains("in flight " + n + ",") || kiln.count("Statistics:") > seen + 40;
        });
        assertThat(kiln.log()).contains("in flight " + n + ",");
    }

    private static boolean refused(int port) {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress("127.0.0.1", port), 1000);
            return false;
        } catch (ConnectException e) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static String get(KilnProcess kiln, String path) {
        try {
            return kiln.get(path);
        } catch (IOException e) {
            return e.toString();
        }
    }
}
