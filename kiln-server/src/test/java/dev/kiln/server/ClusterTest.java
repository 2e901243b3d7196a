package dev.kiln.server;

import dev.kiln.addons.TestAddons;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Three Kiln hosts behind nginx, on one PostgreSQL primary and its synchronous streaming standby
 * (Debian's servers, {@link StreamingPair}), the standby also their read replica through PgBouncer
 * in transaction mode; each host on its own loopback address (127.0.0.2–4), nginx run from
 * {@code docs/nginx.conf}. A client writes through nginx all along and classifies
 * every answer. Shown: a session made on one host is valid on the others; a bus message sent
 * through host A reaches a websocket on host C once, and one through nginx's upgrade; 2,000 cron
 * jobs run exactly once across the hosts while one of them is {@code kill -9}ed mid-run, and nginx
 * serves on from the two left; then the primary dies and the standby is promoted: the same
 * processes serve again without a restart, every write the client was told of is on the new
 * primary, and sessions, the bus (a websocket open through the failover too, and a long poll),
 * cron and the registry's signals (an addon installed afterwards by another process) hold as
 * before. The failed-request windows are printed.
 */
@Tag("process")
class ClusterTest {

    private static final int JOBS = 2000;
    private static final String DB = "cluster";

    private static final String ADDON = """
            package clustered;

            import dev.kiln.api.*;
            import java.sql.*;
            import java.util.Map;

            public final class Clustered implements Addon {
                @Override public void register(AddonContext context) {
                    context.routes(this);
                    context.cron(CronJob.every(1, CronJob.Unit.DAYS, "tick", this::tick).inactive());
                }

                /** A short job that leaves one ledger row, with the pid of the host that ran it. */
                private void tick(CronContext job) throws Exception {
                    Thread.sleep(10);
                    try (PreparedStatement insert = job.connection().prepareStatement(
                            "INSERT INTO cluster_ledger (job_id, kiln_pid) VALUES (?, ?)")) {
                        insert.setLong(1, job.jobId());
                        insert.setLong(2, ProcessHandle.current().pid());
                        insert.executeUpdate();
                    }
                }

                @Route(value = "/clustered/send", auth = Route.Auth.PUBLIC, methods = "GET")
                public Response send(Request request) {
                    request.env().bus().send(request.param("channel").orElseThrow(), "note",
                            Map.of("text", request.param("text").orElseThrow()));
                    return Response.text("sent");
                }

                @Route(value = "/clustered/where", readonly = true)
                public Response where(Request request) throws SQLException {
                    try (Statement statement = request.env().connection().createStatement();
                         ResultSet row = statement.executeQuery("SELECT pg_is_in_recovery()")) {
                        row.next();
                        return Response.text(row.getBoolean(1) ? "standby" : "primary");
                    }
                }

                @Route(value = "/clustered/whoami")
                public Response whoami(Request request) {
                    return Response.text("uid " + request.uid().getAsLong());
                }
            }
            """;

    /**
     * Creates partners through nginx until told to stop, one at a time; each answer is one line of
     * its events file, {@code phase time kind} (the phase, read from a file the test writes, that the
     * answer came in), and each acknowledged id a line of the acked file.
     */
    private static final String LOAD = """
            import http.client, os, socket, sys, time, xmlrpc.client
            url, db, acked_path, events_path, phase_path, stop_path = sys.argv[1:7]
            socket.setdefaulttimeout(30)           # a call that hangs is a failure of its own
            models = xmlrpc.client.ServerProxy(url + "/xmlrpc/2/object")
            n = 0
            with open(acked_path, "a") as acked, open(events_path, "a") as events:
                while not os.path.exists(stop_path):
                    n += 1
                    try:
                        made = models.execute_kw(db, 2, "admin", "res.partner", "create", [{"name": f"load {n}"}])
                        acked.write(f"{made}\\n")
                        acked.flush()
                        kind = "ok"
                    except xmlrpc.client.ProtocolError as e:
                        kind = f"HTTP-{e.errcode}"
                    except xmlrpc.client.Fault as e:
                        kind = f"fault-{e.faultCode}:" + e.faultString.splitlines()[0][:100].replace(" ", "_")
                    except (OSError, http.client.HTTPException) as e:
                        kind = type(e).__name__
                        models = xmlrpc.client.ServerProxy(url + "/xmlrpc/2/object")
                    with open(phase_path) as p:            # the phase the answer came in
                        phase = p.read().strip()
                    events.write(f"{phase} {time.monotonic():.3f} {kind}\\n")
                    events.flush()
                    if kind != "ok":
                        time.sleep(0.02)
            """;

    @TempDir
    Path dir;

    @Test
    void threeHostsBehindNginxShareSessionsBusAndCronThroughAKillAndAFailover() throws Exception {
        Path addons = Files.createDirectories(dir.resolve("addons"));
        Path addon = TestAddons.addon(addons, "clustered", TestAddons.manifest("clustered.Clustered", "base", "bus"),
                Map.of("clustered.Clustered", ADDON));
        Files.createDirectories(addon.resolve("migrations"));
        Files.writeString(addon.resolve("migrations/V1__ledger.sql"), """
                CREATE TABLE cluster_ledger (id bigserial PRIMARY KEY, job_id bigint NOT NULL, kiln_pid bigint NOT NULL);""");
        TestAddons.addon(addons, "latecomer", TestAddons.manifest("latecomer.Latecomer", "base"), Map.of("latecomer.Latecomer", """
                package latecomer;

                import dev.kiln.api.*;

                public final class Latecomer implements Addon {
                    @Override public void register(AddonContext context) { context.routes(this); }

                    @Route(value = "/latecomer", auth = Route.Auth.PUBLIC)
                    public Response late(Request request) { return Response.text("late"); }
                }
                """));

        try (StreamingPair pair = StreamingPair.start(true);
             PgBouncer replicaPool = PgBouncer.start(dir, pair.standbyPort)) {
            List<KilnProcess> hosts = new ArrayList<>();
            try {
                hosts.add(host(pair, replicaPool, addons, 2, "-i", "clustered"));
                hosts.getFirst().awaitReady();        // the database made and the addon installed, once
                hosts.add(host(pair, replicaPool, addons, 3));
                hosts.add(host(pair, replicaPool, addons, 4));
                for (KilnProcess host : hosts) {
                    host.awaitCronRunners(1);
                }
                try (Nginx nginx = Nginx.start(dir, hosts)) {
                    run(pair, hosts, nginx, addons);
                }
            } finally {
                for (KilnProcess host : hosts.reversed()) {
                    host.close();
                }
            }
        }
    }

    private void run(StreamingPair pair, List<KilnProcess> hosts, Nginx nginx, Path addons) throws Exception {
        KilnProcess a = hosts.get(0);
        KilnProcess b = hosts.get(1);
        KilnProcess c = hosts.get(2);
        String cookie = a.login(DB);
        for (KilnProcess host : hosts) {
            assertThat(host.okBody("/clustered/whoami", cookie)).as("A's session on " + host.host()).isEqualTo("uid 2");
        }
        assertMessageFromAReachesCOnce(a, c, nginx, "before");
        // patience for a loaded machine, where the standby's replay may wait out a conflict with a
        // query (max_standby_streaming_delay, 30 s); C's log says why if it never comes
        await().atMost(Duration.ofSeconds(90)).untilAsserted(() -> assertThat(c.okBody("/clustered/where", cookie))
                .as(() -> "a read-only route, on the standby through PgBouncer once it has replayed the session; "
                        + walPositions(pair) + "; C's log:\n" + c.log()).isEqualTo("standby"));
        for (KilnProcess host : hosts) {
            // through PgBouncer in transaction mode the replica's watch reads its position every second:
            // with statements prepared by name (pgjdbc's fifth use) it failed now and then
            assertThat(host.log()).as("the replica's watch on " + host.host()).doesNotContain("replica: cannot be reached");
        }

        Path phase = dir.resolve("phase");
        Path stop = dir.resolve("stop");
        Path acked = dir.resolve("acked");
        Path events = dir.resolve("events");
        enter(phase, "steady");
        CompletableFuture<String> load = CompletableFuture.supplyAsync(() -> {
            try {
                return Commands.run(dir, Duration.ofMinutes(10), false, List.of("python3", "-c", LOAD,
                        "http://127.0.0.1:" + nginx.port, DB, acked.toString(), events.toString(), phase.toString(),
                        stop.toString()));
            } catch (Exception e) {
                throw new CompletionException(e);
            }
        }, task -> Thread.ofPlatform().daemon().name("load").start(task));   // not the common pool: the JDK's
                                                                          // websocket client needs it
        await().atMost(Duration.ofSeconds(60)).until(() -> okCount(events, "steady") >= 20 || load.isDone());

        // 2,000 jobs due at once; B is killed while it is among their runners
        int primary = pair.primaryPort;
        pair.psql(primary, DB, "INSERT INTO kiln_cron (name, code, interval_number, interval_type, nextcall) SELECT 'c_'||g,"
                + " 'clustered.tick', 1, 'days', now() - interval '1 minute' FROM generate_series(1, " + JOBS + ") g");
        pair.psql(primary, "SELECT pg_notify('kiln_cron', '" + DB + "')");
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(50)).until(() ->
                count(pair, primary, "SELECT count(*) FROM cluster_ledger WHERE kiln_pid = " + b.pid()) >= 20);
        enter(phase, "kill");
        b.signal("KILL");
        assertThat(b.process().waitFor(10, TimeUnit.SECONDS)).isTrue();
        assertThat(count(pair, primary, "SELECT count(*) FROM kiln_cron WHERE name LIKE 'c\\_%' AND nextcall <= now()"))
                .as("jobs still due when B was killed").isPositive();
        await().atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(200)).until(() ->
                count(pair, primary, "SELECT count(*) FROM kiln_cron WHERE name LIKE 'c\\_%' AND nextcall <= now()") == 0);
        assertExactlyOnce(pair, primary, "c\\_%", JOBS);
        for (KilnProcess survivor : List.of(a, c)) {
            assertThat(count(pair, primary, "SELECT count(*) FROM cluster_ledger WHERE kiln_pid = " + survivor.pid()))
                    .as("jobs run by " + survivor.host()).isPositive();
        }
        enter(phase, "after-kill");
        long okBefore = okCount(events, "after-kill");
        await().atMost(Duration.ofSeconds(60)).until(() -> okCount(events, "after-kill") >= okBefore + 20 || load.isDone());

        // the primary dies, the standby is promoted: A and C find it without a restart
        long pidA = a.pid();
        long pidC = c.pid();
        BusClient through = BusClient.open(c, "?db=" + DB);         // connected across the failover
        through.subscribe(List.of("lobby"), 0);
        assertThat(a.okBody("/clustered/send?channel=lobby&text=before-failover&db=" + DB, null)).isEqualTo("sent");
        messagesUpTo(through, "before-failover");
        enter(phase, "failover");
        pair.failOver();
        int promoted = pair.standbyPort;
        enter(phase, "promoted");
        await().atMost(Duration.ofMinutes(2)).until(() -> okCount(events, "promoted") >= 20 || load.isDone());
        enter(phase, "settled");
        await().atMost(Duration.ofMinutes(2)).until(() -> okCount(events, "settled") >= 20 || load.isDone());
        Files.createFile(stop);
        String loadOut = load.get(2, TimeUnit.MINUTES);

        Map<String, Map<String, Integer>> kinds = kinds(events);
        String report = "answers by phase: " + kinds + "; failover window: " + window(events);
        System.out.println("ClusterTest: " + report);
        assertThat(kinds.getOrDefault("steady", Map.of())).as(report + loadOut).containsOnlyKeys("ok");
        assertThat(kinds.getOrDefault("settled", Map.of())).as("once settled, every call served: " + report)
                .containsOnlyKeys("ok");
        assertThat(kinds.getOrDefault("after-kill", Map.of())).as("nginx routes around the dead host: " + report)
                .containsOnlyKeys("ok");
        assertThat(failures(kinds.getOrDefault("kill", Map.of()))).as("only what was in flight on B: " + report)
                .isLessThanOrEqualTo(2);

        List<String> ids = Files.readAllLines(acked).stream().filter(line -> !line.isBlank()).toList();
        assertThat(ids).hasSizeGreaterThan(60);
        assertThat(count(pair, promoted, "SELECT count(*) FROM res_partner WHERE id IN (" + String.join(",", ids) + ")"))
                .as("every acknowledged write is on the new primary").isEqualTo(ids.size());
        assertThat(List.of(a.pid(), c.pid())).as("the same processes").containsExactly(pidA, pidC);
        assertThat(pair.psql(promoted, "SELECT pg_is_in_recovery()").strip()).isEqualTo("f");

        // after the failover: sessions, the bus and cron as before
        for (KilnProcess host : List.of(a, c)) {
            assertThat(host.okBody("/clustered/whoami", cookie)).as("A's session on " + host.host()).isEqualTo("uid 2");
        }
        assertMessageFromAReachesCOnce(a, c, nginx, "after");
        try (through) {
            // C's listener found the new primary: the socket opened before the failover hears what A sends now
            assertThat(a.okBody("/clustered/send?channel=lobby&text=after-failover&db=" + DB, null)).isEqualTo("sent");
            assertThat(through.awaitMessages(messagesUpTo(through, "after-failover")))
                    .extracting(m -> m.at("/message/payload/text").asString()).containsExactly("before-failover", "after-failover");
        }
        // a long poll through nginx, from id 0: both messages, read from the new primary
        String polled = KilnProcess.request("127.0.0.1", nginx.port, "POST", "/longpolling/poll?db=" + DB,
                "{\"jsonrpc\": \"2.0\", \"method\": \"call\", \"id\": 1, \"params\": {\"channels\": [\"lobby\"],"
                        + " \"last\": 0, \"timeout\": 5}}", "Content-Type: application/json");
        assertThat(polled).startsWith("HTTP/1.1 200");
        List<String> texts = new ArrayList<>();
        BusClient.JSON.readTree(polled.substring(polled.indexOf("\r\n\r\n") + 4)).path("result")
                .forEach(m -> texts.add(m.at("/message/payload/text").asString()));
        assertThat(texts).as(polled).containsExactly("before-failover", "after-failover");
        // an addon installed now, on the new primary, by another process: both hosts serve it (registry signals)
        try (KilnProcess install = KilnProcess.launch(Files.createTempDirectory(dir, "install"), List.of(),
                "--addons-path=" + addons, "--db_host=" + pair.hosts(), "--db_user=kiln", "-d", DB, "-i", "latecomer",
                "--stop-after-init")) {
            assertThat(install.awaitExit(Duration.ofSeconds(90))).as(install.log()).isZero();
        }
        for (KilnProcess host : List.of(a, c)) {
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() ->
                    assertThat(host.get("/latecomer?db=" + DB)).as(host.host()).startsWith("HTTP/1.1 200").endsWith("late"));
        }
        pair.psql(promoted, DB, "INSERT INTO kiln_cron (name, code, interval_number, interval_type, nextcall) SELECT 'd_'||g,"
                + " 'clustered.tick', 1, 'days', now() - interval '1 minute' FROM generate_series(1, 200) g");
        pair.psql(promoted, "SELECT pg_notify('kiln_cron', '" + DB + "')");
        await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(200)).until(() ->
                count(pair, promoted, "SELECT count(*) FROM kiln_cron WHERE name LIKE 'd\\_%' AND nextcall <= now()") == 0);
        assertExactlyOnce(pair, promoted, "d\\_%", 200);
        for (KilnProcess host : List.of(a, c)) {
            assertThat(host.log()).as("answers are lines, not stacks").doesNotContain("\tat ");
        }
    }

    /** A websocket on C and one through nginx hear, once each, what a request to A sends; {@code tag} names the round. */
    private static void assertMessageFromAReachesCOnce(KilnProcess a, KilnProcess c, Nginx nginx, String tag)
            throws Exception {
        try (BusClient onC = BusClient.open(c, "?db=" + DB); BusClient viaNginx = BusClient.open(nginx.port, "?db=" + DB)) {
            // from id 0: what is sent before the subscription is read arrives too
            onC.subscribe(List.of("hall"), 0);
            viaNginx.subscribe(List.of("hall"), 0);
            assertThat(a.okBody("/clustered/send?channel=hall&text=" + tag + "&db=" + DB, null)).isEqualTo("sent");
            assertThat(a.okBody("/clustered/send?channel=hall&text=" + tag + "-end&db=" + DB, null)).isEqualTo("sent");
            for (BusClient client : List.of(onC, viaNginx)) {
                assertThat(client.awaitMessages(messagesUpTo(client, tag + "-end")))
                        .extracting(m -> m.at("/message/payload/text").asString())
                        .filteredOn(text -> text.startsWith(tag)).containsExactly(tag, tag + "-end");
            }
        }
    }

    /** How many messages {@code client} must hold to have received {@code last}: waits until it has. */
    private static int messagesUpTo(BusClient client, String last) {
        await().atMost(Duration.ofSeconds(30)).until(() -> client.messages().stream()
                .anyMatch(m -> last.equals(m.at("/message/payload/text").asString())));
        return client.messages().size();
    }

    private static void assertExactlyOnce(StreamingPair pair, int port, String like, int jobs) throws Exception {
        assertThat(count(pair, port, "SELECT count(*) FROM kiln_cron c WHERE c.name LIKE '" + like + "' AND"
                + " (SELECT count(*) FROM cluster_ledger l WHERE l.job_id = c.id) <> 1"))
                .as("jobs " + like + " without exactly one ledger row").isZero();
        assertThat(count(pair, port, "SELECT count(*) FROM cluster_ledger l JOIN kiln_cron c ON c.id = l.job_id"
                + " WHERE c.name LIKE '" + like + "'")).isEqualTo(jobs);
    }

    /** Where the primary's WAL is and what the standby replayed, for a failure's message. */
    private static String walPositions(StreamingPair pair) {
        try {
            return "primary at " + pair.psql(pair.primaryPort, "postgres", "SELECT pg_current_wal_lsn()").strip()
                    + ", standby replayed " + pair.psql(pair.standbyPort, "postgres",
                    "SELECT pg_last_wal_replay_lsn() || ' (received ' || pg_last_wal_receive_lsn() || ', replay paused: '"
                            + " || pg_is_wal_replay_paused() || ')'").strip();
        } catch (Exception e) {
            return "WAL positions unknown (" + e + ")";
        }
    }

    private static long count(StreamingPair pair, int port, String sql) throws Exception {
        return Long.parseLong(pair.psql(port, DB, sql).strip());
    }

    /**
     * Host {@code n} (127.0.0.n) on the pair, the standby as its replica through {@code replicaPool}
     * (transaction pooling, so the listener goes straight to the pair), one cron runner, behind a proxy.
     */
    private KilnProcess host(StreamingPair pair, PgBouncer replicaPool, Path addons, int n, String... more) throws Exception {
        List<String> args = new ArrayList<>(List.of("--http-interface=127.0.0." + n, "--addons-path=" + addons,
                "--db_host=" + pair.hosts(), "--db_user=kiln", "--db_replica_host=127.0.0.1",
                "--db_replica_port=" + replicaPool.port(), "--db-pooler=transaction", "--db-listen-host=" + pair.hosts(),
                "-d", DB, "--max-cron-threads=1", "--proxy-mode"));
        args.addAll(List.of(more));
        return KilnProcess.start(Files.createTempDirectory(dir, "host" + n), args.toArray(String[]::new));
    }



    /** Moves the load client to {@code name}: written whole, so that it never reads a half-written phase. */
    private static void enter(Path phase, String name) throws IOException {
        Path next = phase.resolveSibling(phase.getFileName() + ".next");
        Files.writeString(next, name);
        Files.move(next, phase, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    private static long okCount(Path events, String phase) throws IOException {
        if (!Files.exists(events)) {
            return 0;
        }
        return Files.readAllLines(events).stream().filter(line -> line.startsWith(phase + " ") && line.endsWith(" ok")).count();
    }

    /** Per phase, how many answers of each kind. */
    private static Map<String, Map<String, Integer>> kinds(Path events) throws IOException {
        Map<String, Map<String, Integer>> kinds = new LinkedHashMap<>();
        for (String line : Files.readAllLines(events)) {
            String[] parts = line.split(" ", 3);
            if (parts.length == 3) {
                kinds.computeIfAbsent(parts[0], p -> new LinkedHashMap<>()).merge(parts[2], 1, Integer::sum);
            }
        }
        return kinds;
    }

    private static int failures(Map<String, Integer> kinds) {
        return kinds.entrySet().stream().filter(e -> !e.getKey().equals("ok")).mapToInt(Map.Entry::getValue).sum();
    }

    /** From the first failed call of the failover to the last: how long, and how many failed. */
    private static String window(Path events) throws IOException {
        List<Double> failed = Files.readAllLines(events).stream().map(line -> line.split(" ", 3))
                .filter(parts -> parts.length == 3 && (parts[0].equals("failover") || parts[0].equals("promoted"))
                        && !parts[2].equals("ok"))
                .map(parts -> Double.parseDouble(parts[1])).toList();
        if (failed.isEmpty()) {
            return "no call failed";
        }
        return failed.size() + " calls failed over " + String.format("%.2f", failed.getLast() - failed.getFirst()) + " s";
    }

    /** nginx from docs/nginx.conf, in front of {@code hosts}; as root its workers run as nobody. */
    private record Nginx(Process process, int port, Path home) implements AutoCloseable {

        static Nginx start(Path dir, List<KilnProcess> hosts) throws Exception {
            Path binary = Path.of("/usr/sbin/nginx");
            assertThat(binary).as("Debian's nginx (.ci/run installs it)").isExecutable();
            Path home = Files.createDirectories(dir.resolve("nginx"));
            Files.createDirectories(home.resolve("tmp"));
            for (Path path : List.of(dir, home, home.resolve("tmp"))) {
                Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rwxrwxrwx"));
            }
            int port = KilnProcess.freePort();
            String conf = Files.readString(Path.of(System.getProperty("kiln.dist")).getParent().resolve("docs/nginx.conf"));
            StringBuilder servers = new StringBuilder();
            for (KilnProcess host : hosts) {
                servers.append("        server ").append(host.host()).append(':').append(host.port())
                        .append(" max_fails=1 fail_timeout=5s;\n");
            }
            conf = conf.replaceAll("(?m)^        server 10\\.0\\.0\\.1\\d:8069 .*\\n", "")
                    .replace("    upstream kiln {\n", "    upstream kiln {\n" + servers)
                    .replace("listen 80;", "listen 127.0.0.1:" + port + ";")
                    .replace("worker_processes auto;", "worker_processes 1;\ndaemon off;\npid " + home.resolve("nginx.pid")
                            + ";\nerror_log " + home.resolve("error.log") + " warn;")
                    .replace("http {\n", "http {\n    access_log off;\n" + tempPaths(home.resolve("tmp")));
            assertThat(conf).contains("server " + hosts.getFirst().host()).doesNotContain("10.0.0.1");
            Files.writeString(home.resolve("nginx.conf"), conf);
            Process process = new ProcessBuilder(binary.toString(), "-p", home.toString(), "-c", home.resolve("nginx.conf").toString())
                    .redirectErrorStream(true).redirectOutput(home.resolve("nginx.out").toFile()).start();
            Commands.awaitListening(process, home.resolve("nginx.out"), port);
            Nginx nginx = new Nginx(process, port, home);
            return nginx;
        }

        private static String tempPaths(Path tmp) {
            StringBuilder paths = new StringBuilder();
            for (String kind : List.of("client_body", "proxy", "fastcgi", "uwsgi", "scgi")) {
                paths.append("    ").append(kind).append("_temp_path ").append(tmp.resolve(kind)).append(";\n");
            }
            return paths.toString();
        }

        @Override
        public void close() throws InterruptedException {
            process.destroy();
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        }
    }
}
