package dev.kiln.server;

import dev.kiln.addons.TestAddons;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * limit_time_cpu in prefork HTTP workers, with real worker JVMs: a request whose thread is found
 * running on the CPU for longer than the limit is answered 500 at once (its handler spins on, unanswered) and its worker is
 * replaced, and a database route cut this way commits nothing; a request that sleeps past the limit
 * uses no CPU and is served.
 */
@Tag("process")
class PreforkCpuLimitTest {

    /** {@code GET /spin}: ten seconds of busy loop that never looks at its thread's interrupt. */
    private static final String SPIN = """
            package spin;

            import dev.kiln.api.*;

            public final class Spin implements Addon {
                @Override public void register(AddonContext context) { context.routes(this); }

                @Route(value = "/spin", auth = Route.Auth.NONE, methods = "GET")
                public Response spin(Request request) {
                    long end = System.nanoTime() + 10_000_000_000L;
                    long sum = 0;
                    while (System.nanoTime() < end) {
                        sum += System.nanoTime() & 7;
                    }
                    return Response.text("spun " + sum);
                }
            }
            """;

    /** {@code GET /spin/insert}, in a database: inserts a row, then three seconds of busy loop. */
    private static final String SPIN_DB = """
            package spindb;

            import dev.kiln.api.*;
            import java.sql.*;

            public final class SpinDb implements Addon {
                @Override public void register(AddonContext context) { context.routes(this); }

                @Route(value = "/spin/insert", auth = Route.Auth.PUBLIC, methods = "GET")
                public Response insert(Request request) throws SQLException {
                    try (Statement s = request.env().connection().createStatement()) {
                        s.executeUpdate("INSERT INTO spin_mark VALUES (1)");
                    }
                    long end = System.nanoTime() + 3_000_000_000L;
                    long sum = 0;
                    while (System.nanoTime() < end) {
                        sum += System.nanoTime() & 7;
                    }
                    return Response.text("inserted " + sum);
                }
            }
            """;

    @TempDir
    Path dir;

    @Test
    void aRequestOverLimitTimeCpuIsAnswered500AndItsWorkerIsReplaced() throws Exception {
        try (KilnProcess kiln = launch()) {
            long first = PreforkServerTest.workerPids(kiln).iterator().next();
            long start = System.nanoTime();
            String response = CompletableFuture.supplyAsync(() -> get(kiln, "/spin")).get(20, TimeUnit.SECONDS);
            long millis = (System.nanoTime() - start) / 1_000_000;

            assertThat(response).as("the client's answer").startsWith("HTTP/1.1 500").endsWith("CPU time limit exceeded\n")
                    .doesNotContain("at spin.Spin");
            assertThat(millis).as("answered when the limit was seen, not when the handler ended (10 s)").isLessThan(8_000);
            kiln.awaitLog("limit limit_time_cpu reached: request GET /spin", 1);
            assertThat(kiln.log()).containsPattern("Worker " + first + ": limit limit_time_cpu reached: request GET /spin on "
                            + "VirtualThread\\[#\\d+,kiln-http\\d+].* ran \\d+\\.\\d s on the CPU \\(sampled\\) > 1 s; answered 500 and its thread "
                            + "interrupted; a replacement is asked for; its stack:")
                    .contains("spin.Spin.spin");
            assertThat(kiln.count("limit limit_time_cpu")).as("one line for the event").isEqualTo(1);

            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100)).untilAsserted(() ->
                    assertThat(PreforkServerTest.workerPids(kiln)).as("the replacement, once the first is retired").hasSize(1).doesNotContain(first));
            assertThat(get(kiln, "/hello")).startsWith("HTTP/1.1 200").endsWith("Hello, world");
            assertThat(kiln.log()).containsPattern("Retiring Worker \\d+ \\(pid " + first + ", limit_time_cpu\\)");
        }
    }

    @Test
    void aRequestThatSleepsLongerThanLimitTimeCpuIsServed() throws Exception {
        try (KilnProcess kiln = launch()) {
            String response = CompletableFuture.supplyAsync(() -> get(kiln, "/hello/wait?seconds=3")).get(20, TimeUnit.SECONDS);
            assertThat(response).as("real time is not CPU time").startsWith("HTTP/1.1 200");
            assertThat(kiln.log()).doesNotContain("limit_time_cpu");
        }
    }

    @Test
    void aDatabaseRequestOverLimitTimeCpuCommitsNothing() throws Exception {
        Path addons = CronHarness.addon(dir, "spindb", "spindb.SpinDb", SPIN_DB, "V1__mark.sql", "CREATE TABLE spin_mark (id int);");
        try (CronHarness database = CronHarness.shared(dir, "cpu_limit", addons, "spindb");
             KilnProcess kiln = KilnProcess.launch(Files.createDirectories(dir.resolve("run")), List.of(), "--workers=1",
                     "--max-cron-threads=0", "--limit-time-cpu=1", "--addons-path=" + addons, "-d", database.db)) {
            kiln.awaitHttpWorkers(1, 1);
            long first = PreforkServerTest.workerPids(kiln).iterator().next();
            String response = CompletableFuture.supplyAsync(() -> get(kiln, "/spin/insert")).get(20, TimeUnit.SECONDS);
            assertThat(response).startsWith("HTTP/1.1 500").endsWith("CPU time limit exceeded\n");

            // the handler returns (3 s of CPU) before or after its worker is retired: either way, no commit
            kiln.awaitLog("Worker \\d+ \\(pid " + first + "\\) retired", 1);
            assertThat(database.count("SELECT count(*) FROM spin_mark")).as("rows the aborted request inserted").isZero();
            assertThat(kiln.log()).contains("limit limit_time_cpu reached: request GET /spin/insert");
        }
    }

    private KilnProcess launch() throws Exception {
        Path addons = Files.createDirectories(dir.resolve("addons"));
        TestAddons.addon(addons, "spin", TestAddons.manifest("spin.Spin", "base"), Map.of("spin.Spin", SPIN));
        KilnProcess kiln = KilnProcess.launch(Files.createDirectories(dir.resolve("run")), List.of(), "--workers=1",
                "--max-cron-threads=0", "--limit-time-cpu=1", "--addons-path=" + addons, "--load=base,web,hello,spin");
        try {
            kiln.awaitHttpWorkers(1, 1);
        } catch (RuntimeException | AssertionError e) {
            kiln.close();
            throw e;
        }
        return kiln;
    }

    private static String get(KilnProcess kiln, String path) {
        try {
            return kiln.get(path);
        } catch (Exception e) {
            return e.toString();
        }
    }
}
