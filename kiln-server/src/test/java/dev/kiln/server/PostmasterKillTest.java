package dev.kiln.server;

import dev.kiln.addons.TestAddons;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The embedded PostgreSQL's postmaster killed ({@code kill -9}) under the Kiln that owns it, while a
 * client keeps asking for a database route: Kiln starts it again on the same port; every request
 * meanwhile is served or answered 503 with Retry-After (none hangs, none is a 500, no connection is
 * reset); once it is back
 * the committed data is there, a cron job runs and a bus message reaches a long poll. Threaded, and
 * prefork, where the master owns the server and the workers only reconnect.
 */
@Tag("process")
@Timeout(value = 600, unit = TimeUnit.SECONDS)
class PostmasterKillTest {

    private static final Duration BOUND = Duration.ofSeconds(120);
    private static final String DB = "pgkill";
    /** What a request may get while the postmaster is away: served, or told to come back. */
    private static final Set<String> SERVED_OR_LATER = Set.of("200", "503");

    private static final String ADDON = """
            package pgkill;

            import dev.kiln.api.*;
            import java.sql.*;
            import java.util.Map;

            public final class PgKill implements Addon {
                @Override public void register(AddonContext context) { context.routes(this); }

                @Route(value = "/pgkill/ping", auth = Route.Auth.PUBLIC)
                public Response ping(Request request) throws SQLException {
                    try (Statement s = request.env().connection().createStatement();
                         ResultSet r = s.executeQuery("SELECT count(*) FROM pgkill_note")) {
                        r.next();
                        return Response.text("notes: " + r.getLong(1));
                    }
                }

                @Route(value = "/pgkill/add", auth = Route.Auth.PUBLIC, methods = "GET")
                public Response add(Request request) throws SQLException {
                    try (PreparedStatement insert = request.env().connection().prepareStatement(
                            "INSERT INTO pgkill_note (v) VALUES (?)")) {
                        insert.setString(1, request.param("v").orElseThrow());
                        insert.executeUpdate();
                    }
                    return Response.text("added");
                }

                @Route(value = "/pgkill/notes", auth = Route.Auth.PUBLIC)
                public Response notes(Request request) throws SQLException {
                    try (Statement s = request.env().connection().createStatement();
                         ResultSet r = s.executeQuery("SELECT coalesce(string_agg(v, ',' ORDER BY id), '') FROM pgkill_note")) {
                        r.next();
                        return Response.text("notes: " + r.getString(1));
                    }
                }

                @Route(value = "/pgkill/send", auth = Route.Auth.PUBLIC, methods = "GET")
                public Response send(Request request) {
                    request.env().bus().send("pgkill", "note", Map.of("text", request.param("text").orElseThrow()));
                    return Response.text("sent");
                }
            }
            """;

    @TempDir
    Path dir;

    @Test
    void threadedKilnRestartsItsKilledPostmasterAndServesAgain() throws Exception {
        Path data = install();
        try (KilnProcess kiln = KilnProcess.start(Files.createDirectories(dir.resolve("serve")), serveArgs(data,
                "--max-cron-threads=1"))) {
            killThePostmasterAndCheckTheRecovery(kiln, kiln.port(), data);
        } finally {
            stopLeftovers(data);
        }
    }

    @Test
    void aKilnRestartedInPlaceRestartsThePostmasterItAdopted() throws Exception {
        Path data = install();
        try (KilnProcess kiln = KilnProcess.start(Files.createDirectories(dir.resolve("serve")), serveArgs(data,
                "--max-cron-threads=1"))) {
            assertThat(kiln.get("/pgkill/notes")).startsWith("HTTP/1.1 200");
            kiln.signal("HUP");
            kiln.awaitLog("running on 127\\.0\\.0\\.1:\\d+ \\(socket kept across the restart\\)", 1, BOUND);
            // the new image's postmaster is the old image's: no child of this JVM, watched all the same
            killThePostmasterAndCheckTheRecovery(kiln, kiln.port(), data);
            assertThat(kiln.count("embedded PostgreSQL in \\S+: adopting the running server")).isEqualTo(1);
        } finally {
            stopLeftovers(data);
        }
    }

    @Test
    void preforkMasterRestartsItsKilledPostmasterAndItsWorkersServeAgain() throws Exception {
        Path data = install();
        int geventPort = KilnProcess.freePort();
        try (KilnProcess kiln = KilnProcess.launch(Files.createDirectories(dir.resolve("serve")), List.of(), serveArgs(data,
                "--workers=2", "--max-cron-threads=1", "--gevent-port=" + geventPort))) {
            kiln.awaitHttpWorkers(2, 1, BOUND);
            kiln.awaitReadyWorkers("cron", 1, BOUND);
            kiln.awaitReadyWorkers("evented", 1, BOUND);
            killThePostmasterAndCheckTheRecovery(kiln, geventPort, data);
            assertThat(kiln.log()).as("no worker restarted anything").containsOnlyOnce("died; restarting it");
        } finally {
            stopLeftovers(data);
        }
    }

    private void killThePostmasterAndCheckTheRecovery(KilnProcess kiln, int pollPort, Path data) throws Exception {
        assertThat(kiln.get("/pgkill/add?v=before")).startsWith("HTTP/1.1 200");      // the server started in the background by now
        int pgPort = portFile(data, "port");
        assertThat(portFile(data, "pid")).as("the Kiln process (prefork: its master) owns the server").isEqualTo((int) kiln.pid());
        execute(pgPort, DB, "INSERT INTO kiln_cron (name, code, interval_number, interval_type, nextcall)"
                + " VALUES ('pgkill', 'hello.ledger', 1, 'days', '2100-01-01')");
        triggerAndAwaitRun(pgPort, 1);
        JsonNode before = sendAndPoll(kiln, pollPort, 0, "before");

        ProcessHandle killed = postmaster(data).orElseThrow();
        Client client = Client.start(kiln.port(), "/pgkill/ping");
        ProcessHandle restarted;
        try {
            client.awaitServed(10);
            killed.destroyForcibly();       // SIGKILL: its backends are orphaned, its postmaster.pid stale

            restarted = await().atMost(BOUND).pollInterval(Duration.ofMillis(100)).until(
                    () -> postmaster(data).filter(p -> p.pid() != killed.pid()), Optional::isPresent).orElseThrow();
            await().atMost(BOUND).pollInterval(Duration.ofMillis(200)).until(() -> kiln.get("/pgkill/ping").startsWith("HTTP/1.1 200"));
            client.awaitServed(client.served() + 20);
        } finally {
            client.stop();
        }
        System.out.printf("requests while the postmaster was restarted: %s; a sample of each: %s%n", client.outcomes, client.samples);
        assertThat(client.outcomes.keySet()).as("%s%n%s", client.samples, kiln.log()).isSubsetOf(SERVED_OR_LATER);

        assertThat(portFile(data, "port")).as("the same port").isEqualTo(pgPort);
        assertThat(portFile(data, "pid")).isEqualTo((int) kiln.pid());
        assertThat(kiln.count("embedded PostgreSQL in \\S+: the postmaster \\(pid " + killed.pid() + "\\) died; restarting it")).isEqualTo(1);
        assertThat(kiln.count("embedded PostgreSQL in \\S+: restarted \\(pid " + restarted.pid()
                + "\\), listening on localhost:" + pgPort + " again")).isEqualTo(1);

        assertThat(kiln.get("/pgkill/notes")).as("committed before the kill").endsWith("notes: before");
        triggerAndAwaitRun(pgPort, 2);
        sendAndPoll(kiln, pollPort, before.get("id").asLong(), "after");
        assertThat(kiln.process().isAlive()).isTrue();

        kiln.close();
        assertThat(restarted.isAlive()).as("the restarted postmaster, stopped with Kiln").isFalse();
    }

    /** Makes the database with hello (its cron ledger), bus and the test addon; the data dir it used. */
    private Path install() throws Exception {
        Path addons = Files.createDirectories(dir.resolve("addons"));
        Path addon = TestAddons.addon(addons, "pgkill", TestAddons.manifest("pgkill.PgKill", "base", "bus"), Map.of("pgkill.PgKill", ADDON));
        Files.createDirectories(addon.resolve("migrations"));
        Files.writeString(addon.resolve("migrations/V1__pgkill_note.sql"),
                "CREATE TABLE pgkill_note (id bigserial PRIMARY KEY, v text NOT NULL);");
        Path data = dir.resolve("data");
        List<String> args = new ArrayList<>(List.of(serveArgs(data)));
        args.addAll(List.of("-i", "hello,bus,pgkill", "--stop-after-init"));
        try (KilnProcess init = KilnProcess.launch(Files.createDirectories(dir.resolve("init")), List.of(), args.toArray(String[]::new))) {
            assertThat(init.awaitExit(Duration.ofSeconds(180))).as(init.log()).isZero();
        }
        return data;
    }

    /** A data dir of this test's own (not the shared one of the process tests): its Kiln owns the server. */
    private String[] serveArgs(Path data, String... more) {
        List<String> args = new ArrayList<>(List.of("--addons-path=" + dir.resolve("addons"), "--data-dir=" + data, "-d", DB));
        args.addAll(List.of(more));
        return args.toArray(String[]::new);
    }

    /** Sends {@code text} on the test channel and long-polls it from {@code last}; the message received. */
    private static JsonNode sendAndPoll(KilnProcess kiln, int pollPort, long last, String text) throws Exception {
        CompletableFuture<List<JsonNode>> waiting = CompletableFuture.supplyAsync(() -> poll(pollPort, last));
        await().atMost(BOUND).pollInterval(Duration.ofMillis(200)).until(() -> kiln.get("/pgkill/send?text=" + text).startsWith("HTTP/1.1 200"));
        List<JsonNode> received = waiting.get(BOUND.toSeconds(), TimeUnit.SECONDS);
        assertThat(received).extracting(m -> m.at("/message/payload/text").asString()).as("the poll from id %d", last).contains(text);
        return received.stream().filter(m -> m.at("/message/payload/text").asString().equals(text)).findFirst().orElseThrow();
    }

    private static List<JsonNode> poll(int port, long last) {
        try {
            String response = KilnProcess.request(port, "POST", "/longpolling/poll", "{\"jsonrpc\": \"2.0\", \"method\": \"call\","
                    + " \"id\": 1, \"params\": {\"channels\": [\"pgkill\"], \"last\": " + last + ", \"timeout\": 50}}",
                    "Content-Type: application/json");
            assertThat(response).startsWith("HTTP/1.1 200");
            JsonNode answer = BusClient.JSON.readTree(response.substring(response.indexOf("\r\n\r\n") + 4));
            assertThat(answer.has("result")).as(answer.toString()).isTrue();
            List<JsonNode> messages = new ArrayList<>();
            answer.get("result").forEach(messages::add);
            return messages;
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A trigger for the test's job, announced as a committed request would; waits for its ledger row, announcing it again meanwhile. */
    private static void triggerAndAwaitRun(int pgPort, int rows) throws Exception {
        execute(pgPort, DB, "INSERT INTO kiln_cron_trigger (cron_id, call_at) SELECT id, now() FROM kiln_cron WHERE name = 'pgkill'");
        await().atMost(BOUND).pollInterval(Duration.ofMillis(500)).until(() -> {
            execute(pgPort, "postgres", "SELECT pg_notify('kiln_cron', '" + DB + "')");
            return count(pgPort, "SELECT count(*) FROM hello_cron_ledger l JOIN kiln_cron c ON c.id = l.job_id WHERE c.name = 'pgkill'") >= rows;
        });
        assertThat(count(pgPort, "SELECT count(*) FROM hello_cron_ledger l JOIN kiln_cron c ON c.id = l.job_id WHERE c.name = 'pgkill'"))
                .isEqualTo(rows);
    }

    /** A postmaster still running for {@code data} once its Kiln is gone (a failed test): stopped, by its pid. */
    private static void stopLeftovers(Path data) {
        postmaster(data).ifPresent(p -> {
            p.destroy();
            p.onExit().orTimeout(30, TimeUnit.SECONDS).exceptionally(e -> p).join();
        });
    }

    /** The postmaster {@code postmaster.pid} names, while it runs. */
    private static Optional<ProcessHandle> postmaster(Path data) {
        try {
            String pid = Files.readAllLines(data.resolve("postgres-15/postmaster.pid")).getFirst().strip();
            return ProcessHandle.of(Long.parseLong(pid)).filter(ProcessHandle::isAlive);
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    private static int portFile(Path data, String key) throws IOException {
        Properties properties = new Properties();
        try (var reader = Files.newBufferedReader(data.resolve("postgres-15.port"))) {
            properties.load(reader);
        }
        return Integer.parseInt(properties.getProperty(key));
    }

    private static void execute(int pgPort, String database, String sql) throws SQLException {
        try (Connection connection = DriverManager.getConnection("jdbc:postgresql://localhost:" + pgPort + "/" + database, "postgres", "");
             Statement statement = connection.createStatement()) {
            statement.execute(sql);
        }
    }

    private static long count(int pgPort, String sql) throws SQLException {
        try (Connection connection = DriverManager.getConnection("jdbc:postgresql://localhost:" + pgPort + "/" + DB, "postgres", "");
             Statement statement = connection.createStatement(); ResultSet row = statement.executeQuery(sql)) {
            row.next();
            return row.getLong(1);
        }
    }

    /** A client asking for one route over and over, one new connection each; it tallies what each request got. */
    private static final class Client {
        final Map<String, AtomicInteger> outcomes = new ConcurrentSkipListMap<>();
        final Map<String, String> samples = new ConcurrentHashMap<>();
        private final AtomicBoolean running = new AtomicBoolean(true);
        private Thread thread;

        static Client start(int port, String path) {
            Client client = new Client();
            client.thread = Thread.ofPlatform().name("pgkill-client").daemon().start(() -> client.run(port, path));
            return client;
        }

        private void run(int port, String path) {
            while (running.get()) {
                String outcome;
                String sample;
                try {
                    String response = KilnProcess.request(port, path);
                    outcome = response.startsWith("HTTP/1.1 ") && response.length() >= 12 ? response.substring(9, 12) : "no status line";
                    sample = response.substring(response.indexOf("\r\n\r\n") + 4).strip();
                } catch (IOException e) {
                    outcome = e.getClass().getSimpleName();
                    sample = String.valueOf(e.getMessage());
                }
                outcomes.computeIfAbsent(outcome, o -> new AtomicInteger()).incrementAndGet();
                samples.putIfAbsent(outcome, sample.length() > 300 ? sample.substring(0, 300) : sample);
            }
        }

        int served() {
            AtomicInteger ok = outcomes.get("200");
            return ok == null ? 0 : ok.get();
        }

        void awaitServed(int count) {
            await().atMost(BOUND).pollInterval(Duration.ofMillis(50)).until(() -> served() >= count);
        }

        void stop() throws InterruptedException {
            running.set(false);
            thread.join(BOUND.toMillis() + 10_000);
        }
    }
}
