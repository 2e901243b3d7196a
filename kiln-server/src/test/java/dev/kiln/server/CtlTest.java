package dev.kiln.server;

import dev.kiln.cli.KilnCommandAccess;
import dev.kiln.db.SharedPostgres;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code kiln ctl} against real servers, run in this JVM as an operator runs it: status (text and
 * JSON), workers +N/-N, retire, reload, stacks and requests, and a user who is not the server's
 * refused at the socket.
 */
@Tag("process")
class CtlTest {

    private static final JsonMapper JSON = JsonMapper.builder().build();

    @TempDir
    Path dir;

    /** What one {@code kiln ctl} printed and its exit code. */
    private record Answer(int code, String out, String err) { }

    @Test
    void thePreforkMasterAnswersStatusAndActsOnWorkersRetireReloadAndStacks() throws Exception {
        try (KilnProcess kiln = KilnProcess.launch(dir, List.of(), "--workers=2", "--max-cron-threads=0")) {
            kiln.awaitHttpWorkers(2, 1);
            JsonNode status = JSON.readTree(ok(kiln, "status", "--json"));
            assertThat(status.get("mode").asString()).isEqualTo("prefork");
            assertThat(status.get("pid").asLong()).isEqualTo(kiln.pid());
            assertThat(status.get("workers")).filteredOn(w -> w.get("kind").asString().equals("http")).hasSize(2);
            assertThat(ok(kiln, "status")).startsWith("PID").contains(" master ");

            assertThat(ok(kiln, "workers", "+1")).contains("+1");
            kiln.awaitHttpWorkers(3, 1);
            assertThat(ok(kiln, "workers", "-1")).contains("-1");
            kiln.awaitHttpWorkers(2, 1);

            long victim = kiln.workers().stream().filter(KilnProcess.Worker::servingHttp).findFirst().orElseThrow().pid();
            assertThat(ok(kiln, "retire", String.valueOf(victim))).startsWith("retiring " + victim);
            kiln.awaitWorkers("worker " + victim + " replaced", Duration.ofSeconds(90), workers -> workers.stream()
                    .noneMatch(w -> w.pid() == victim) && workers.stream().filter(KilnProcess.Worker::servingHttp).count() == 2);

            CompletableFuture<String> slow = CompletableFuture.supplyAsync(() -> {
                try {
                    return kiln.get("/hello/wait?seconds=8");
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }, Executors.newVirtualThreadPerTaskExecutor());
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(30)).until(() ->
                    ok(kiln, "requests").contains("GET /hello/wait"));
            assertThat(slow.get()).startsWith("HTTP/1.1 200");

            long worker = kiln.workers().stream().filter(KilnProcess.Worker::servingHttp).findFirst().orElseThrow().pid();
            assertThat(ok(kiln, "stacks", String.valueOf(worker))).contains("Full thread dump").contains("\"main\"");
            assertThat(ok(kiln, "stacks", String.valueOf(kiln.pid()))).contains("\"main\"").contains("kiln-status");

            Answer stranger = ctl(kiln, "retire", "1");
            assertThat(stranger.code()).isEqualTo(1);
            assertThat(stranger.err()).contains("1 is not one of this master's workers");
            assertThat(ctl(kiln, "launch", "rockets").code()).isEqualTo(2);

            assertThat(ok(kiln, "reload")).contains("SIGHUP");
            kiln.awaitHttpWorkers(2, 2);
        }
    }

    @Test
    void aThreadedServerListsEveryRequestInFlightAndRefusesPreforkVerbs() throws Exception {
        try (KilnProcess kiln = KilnProcess.start(dir); ExecutorService clients = Executors.newVirtualThreadPerTaskExecutor()) {
            List<CompletableFuture<String>> slow = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                slow.add(CompletableFuture.supplyAsync(() -> {
                    try {
                        return kiln.get("/hello/wait?seconds=8");
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                }, clients));
            }
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(30)).until(() ->
                    ok(kiln, "requests").lines().filter(l -> l.contains("GET /hello/wait")).count() == 3);
            JsonNode status = JSON.readTree(ok(kiln, "status", "--json"));
            assertThat(status.get("mode").asString()).isEqualTo("threaded");
            assertThat(status.get("in_flight").asInt()).isEqualTo(3);
            Answer workers = ctl(kiln, "workers", "+1");
            assertThat(workers.code()).isEqualTo(1);
            assertThat(workers.err()).contains("not in prefork mode");
            for (CompletableFuture<String> request : slow) {
                assertThat(request.get()).startsWith("HTTP/1.1 200");
            }
        }
    }

    @Test
    void anotherUserIsRefusedAtTheSocket() throws Exception {
        try (KilnProcess kiln = KilnProcess.start(dir)) {
            Path socket = StatusSocket.pathOf(SharedPostgres.dataDir(), kiln.port());
            assertThat(Files.getPosixFilePermissions(socket)).containsExactlyInAnyOrder(
                    java.nio.file.attribute.PosixFilePermission.OWNER_READ, java.nio.file.attribute.PosixFilePermission.OWNER_WRITE);
            // the unprivileged user the tests run as root have: its connect fails on the socket's mode
            Process nobody = new ProcessBuilder("runuser", "-u", "nobody", "--", "python3", "-c", """
                    import socket, sys
                    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    try:
                        s.connect(sys.argv[1]); s.sendall(b'status\\n'); print('answered:', s.recv(4096))
                    except OSError as e:
                        print('refused:', e.strerror)
                    """, socket.toString()).redirectErrorStream(true).start();
            String said = new String(nobody.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(nobody.waitFor()).as(said).isZero();
            assertThat(said).startsWith("refused:");
            assertThat(ok(kiln, "status")).contains(" threaded ");
        }
    }

    private static String ok(KilnProcess kiln, String... verb) {
        Answer answer = ctl(kiln, verb);
        assertThat(answer.code()).as(answer.err()).isZero();
        return answer.out();
    }

    private static Answer ctl(KilnProcess kiln, String... verb) {
        List<String> args = new ArrayList<>(List.of("ctl"));
        args.addAll(List.of(verb));
        args.addAll(List.of("--data-dir=" + SharedPostgres.dataDir(), "--http-port=" + kiln.port()));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = KilnCommandAccess.run(args, Map.of("HOME", kiln.dir.toString()), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Answer(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }
}
