package dev.kiln.server;

import dev.kiln.addons.TestAddons;
import dev.kiln.db.SharedPostgres;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The prefork mode with real worker JVMs and real signals: workers accept from the master's socket,
 * the master replaces a worker that dies, no worker outlives a master killed with SIGKILL, TTIN/TTOU
 * change the count, HUP replaces every worker without failing a request, TERM stops them all, and a
 * worker that cannot boot stops the master with exit code 3.
 */
@Tag("process")
class PreforkServerTest {

    private static final Pattern ACCESS = Pattern.compile("^\\S+ \\S+ (\\d+) INFO \\S+ dev\\.kiln\\.http\\.access: .*\"GET /hello\"",
            Pattern.MULTILINE);

    @TempDir
    Path dir;

    @Test
    void aMasterStartedWithInterruptIgnoredStillStopsItsWorkersOnTerm() throws Exception {
        // a script's background job: its shell ignores INT, and so would the workers, which get INT for the server's stop
        List<String> ignoringInt = List.of("sh", "-c", "trap '' INT; exec \"$@\"", "sh");
        try (KilnProcess kiln = KilnProcess.launch(dir, ignoringInt, "--workers=2", "--max-cron-threads=1")) {
            kiln.awaitHttpWorkers(2, 1);
            kiln.awaitReadyWorkers("cron", 1);
            Set<Long> workers = workerPids(kiln);
            // the master goes on ignoring INT, through a handler of its own, so that its workers
            // inherit INT's default disposition and handle it rather than take it back themselves
            for (long pid : workers) {
                assertThat(signalSet(pid, "SigIgn") & INT_BIT).as("worker " + pid + " ignores INT").isZero();
                assertThat(signalSet(pid, "SigCgt") & INT_BIT).as("worker " + pid + " handles INT").isNotZero();
            }
            kiln.signal("INT");
            kiln.awaitLog("SIGINT ignored: it was ignored when Kiln started", 1);
            assertThat(kiln.get("/hello")).startsWith("HTTP/1.1 200");
            assertThat(kiln.process().isAlive()).isTrue();
            assertThat(workerPids(kiln)).as("INT stopped no worker").isEqualTo(workers);

            kiln.signal("TERM");
            assertThat(kiln.awaitExit(Duration.ofSeconds(30))).as(kiln.log()).isZero();
            assertThat(kiln.log()).contains("Prefork master: every worker stopped").doesNotContain("is gone; stopping");
            assertThat(workers).allSatisfy(pid -> assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false))
                    .as("worker " + pid).isFalse());
        }
    }

    @Test
    void workersServeTheMastersSocketAndTermStopsThemAll() throws Exception {
        KilnProcess kiln = KilnProcess.launch(dir, List.of(), "--workers=2");
        try (kiln) {
            kiln.awaitHttpWorkers(2, 1);
            Set<Long> workers = workerPids(kiln);
            assertThat(workers).hasSize(2);
            assertThat(commandLine(workers.iterator().next())).as("the default worker heap, 512 MiB")
                    .contains(" -Xmx536870912 -Xms16777216 dev.kiln.Main worker http ")
                    .contains("-XX:TrimNativeHeapInterval=2000 ");
            // from a dist/ with both AOT caches (make test makes them), each JVM maps its own: a cache the
            // JVM found stale or unfit would be left unmapped, silently
            if (commandLine(kiln.pid()).contains("-D" + WorkerProcess.WORKER_AOT_PROPERTY + "=")) {
                assertThat(aotCachesMapped(kiln.pid())).as("the master's").containsExactly("kiln.aot");
                for (long worker : workers) {
                    assertThat(aotCachesMapped(worker)).as("a worker's").containsExactly("kiln-worker.aot");
                }
            }
            for (int i = 0; i < 40; i++) {
                assertThat(kiln.get("/hello")).startsWith("HTTP/1.1 200").endsWith("Hello, world");
            }
            Set<Long> served = servingPids(kiln);
            assertThat(served).as("requests are served by workers, never by the master").isNotEmpty()
                    .isSubsetOf(workers).doesNotContain(kiln.pid());

            // kiln status, found with the server's own options (data dir and port)
            await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
                String status = status(kiln);
                assertThat(status).containsPattern("(?m)^" + kiln.pid() + " +master +1 ");
                for (long worker : workers) {
                    assertThat(status).containsPattern("(?m)^" + worker + " +http +1 +\\d+:\\d\\d:\\d\\d +\\d+ +\\d+M ");
                }
                assertThat(status).containsPattern("(?m)^\\d+ +cron +1 ");
                long total = java.util.regex.Pattern.compile("(?m)^\\d+ +http +1 +\\S+ +(\\d+) ").matcher(status).results()
                        .mapToLong(m -> Long.parseLong(m.group(1))).sum();
                assertThat(total).as("requests served, as the workers report them").isGreaterThanOrEqualTo(40);
            });

            kiln.signal("TERM");
            assertThat(kiln.awaitExit(Duration.ofSeconds(60))).as(kiln.log()).isZero();
            assertThat(kiln.log()).contains("Prefork master: every worker stopped");
            assertThat(workers).allSatisfy(pid -> assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false))
                    .as("worker " + pid).isFalse());
        }
    }

    @Test
    void anAddonPrintingWhatLooksLikeAWorkerMessageDoesNotSilenceItsWorker() throws Exception {
        Path addons = Files.createDirectories(dir.resolve("addons"));
        TestAddons.addon(addons, "chatty", TestAddons.manifest("chatty.Chatty", "base"), Map.of("chatty.Chatty", """
                package chatty;

                import dev.kiln.api.*;

                public final class Chatty implements Addon {
                    @Override public void register(AddonContext context) { context.routes(this); }

                    @Route(value = "/chatty", auth = Route.Auth.NONE, methods = "GET")
                    public Response chat(Request request) {
                        System.out.println("kiln-worker-state of the art, says the addon");
                        return Response.text("said");
                    }
                }
                """));
        try (KilnProcess kiln = KilnProcess.launch(dir, List.of(), "--workers=1", "--max-cron-threads=0",
                "--addons-path=" + addons, "--load=base,web,hello,chatty")) {
            kiln.awaitHttpWorkers(1, 1);
            long worker = workerPids(kiln).iterator().next();
            assertThat(kiln.get("/chatty")).startsWith("HTTP/1.1 200").endsWith("said");
            for (int i = 0; i < 20; i++) {
                assertThat(kiln.get("/hello")).startsWith("HTTP/1.1 200");
            }
            // the master still reads the worker's state: the requests it served after the addon's line
            await().atMost(Duration.ofSeconds(120)).untilAsserted(() -> assertThat(status(kiln))
                    .containsPattern("(?m)^" + worker + " +http +1 +\\S+ +(2[1-9]|[3-9]\\d|\\d{3,}) "));
            assertThat(workerPids(kiln)).containsExactly(worker);
            // the worker's messages travel apart from its standard output: the addon's line is only logged
            assertThat(kiln.log()).containsPattern("Worker \\d+: kiln-worker-state of the art, says the addon")
                    .doesNotContain("cannot be read");
        }
    }

    @Test
    void aDeadWorkerIsReplacedAndNoWorkerOutlivesAKilledMaster() throws Exception {
        try (KilnProcess kiln = KilnProcess.launch(dir, List.of(), "--workers=2")) {
            kiln.awaitHttpWorkers(2, 1);
            long victim = workerPids(kiln).iterator().next();
            ProcessHandle.of(victim).orElseThrow().destroyForcibly();
            kiln.awaitLog("Worker \\d+ \\(pid " + victim + "\\) died \\(exit code 137\\); a new one replaces it", 1);
            kiln.awaitWorkers("the dead worker replaced", KilnProcess.PATIENCE, w -> w.stream().noneMatch(x -> x.pid() == victim)
                    && w.stream().filter(KilnProcess.Worker::servingHttp).count() == 2);
            assertThat(workerPids(kiln)).hasSize(2).doesNotContain(victim);
            assertThat(kiln.get("/hello")).startsWith("HTTP/1.1 200");

            Set<Long> orphans = workerPids(kiln);
            kiln.signal("KILL");
            kiln.awaitExit(Duration.ofSeconds(10));
            await().atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(100)).until(() ->
                    orphans.stream().noneMatch(pid -> ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)));
            assertThat(kiln.log()).contains("the master (pid " + kiln.pid() + ") is gone; stopping");
        }
    }

    @Test
    void aWorkerThatCannotBootStopsTheMasterWithExitCode3() throws Exception {
        Path addons = Files.createDirectories(dir.resolve("addons"));
        TestAddons.addon(addons, "workerboom", TestAddons.manifest("workerboom.Boom", "base"), Map.of("workerboom.Boom", """
                package workerboom;

                import dev.kiln.api.*;

                public final class Boom implements Addon {
                    @Override public void register(AddonContext context) {
                        if (System.getenv("KILN_WORKER_ID") != null) {
                            throw new IllegalStateException("this addon refuses to load in a worker");
                        }
                    }
                }
                """));
        try (KilnProcess kiln = KilnProcess.launch(Files.createDirectories(dir.resolve("run")), List.of(), "--workers=2",
                "--addons-path=" + addons, "--load=base,web,hello,workerboom")) {
            assertThat(kiln.awaitExit(Duration.ofSeconds(60))).as(kiln.log()).isEqualTo(3);
            assertThat(kiln.log()).contains("this addon refuses to load in a worker")
                    .containsPattern("(Cron w|Evented w|W)orker \\d+ \\(pid \\d+\\) could not boot \\(exit code 3; its log says why\\): stopping the master");
            assertThat(kiln.count("Worker \\d+ \\(pid \\d+, generation 1\\) started")).as("no respawn loop").isLessThanOrEqualTo(2);
        }
    }

    @Test
    void aReloadWhoseWorkersCannotBootLeavesTheOldOnesServing() throws Exception {
        Path addons = Files.createDirectories(dir.resolve("addons"));
        Path marker = dir.resolve("broken");
        TestAddons.addon(addons, "reloadboom", TestAddons.manifest("reloadboom.Boom", "base"), Map.of("reloadboom.Boom", """
                package reloadboom;

                import dev.kiln.api.*;

                public final class Boom implements Addon {
                    @Override public void register(AddonContext context) {
                        if (System.getenv("KILN_WORKER_ID") != null && java.nio.file.Files.exists(java.nio.file.Path.of("%s"))) {
                            throw new IllegalStateException("this addon is broken now");
                        }
                    }
                }
                """.formatted(marker)));
        try (KilnProcess kiln = KilnProcess.launch(Files.createDirectories(dir.resolve("run")), List.of(), "--workers=2",
                "--max-cron-threads=0", "--addons-path=" + addons, "--load=base,web,hello,reloadboom")) {
            kiln.awaitHttpWorkers(2, 1);
            Set<Long> old = workerPids(kiln);
            Files.writeString(marker, "");
            dev.kiln.bench.LoadClients.Tally tally;
            try (dev.kiln.bench.LoadClients load = dev.kiln.bench.LoadClients.start(kiln.port(), "/hello", 2)) {
                kiln.signal("HUP");
                kiln.awaitLog("SIGHUP: Worker \\d+ \\(pid \\d+\\) of generation 2 did not become ready \\(exit code 3; its log says why\\);"
                        + " the reload is given up and 3 old workers serve on", 1);      // 2 HTTP, 1 evented
                load.awaitRequests(20, Duration.ofSeconds(10));
                tally = load.stop();
            }
            assertThat(tally.failed()).as(tally.toString()).isZero();
            assertThat(kiln.process().isAlive()).isTrue();
            await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(workerPids(kiln)).isEqualTo(old));
            assertThat(kiln.log()).contains("this addon is broken now").doesNotContain("Retiring Worker");

            Files.delete(marker);
            kiln.signal("HUP");
            kiln.awaitHttpWorkers(2, 2);
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() ->
                    assertThat(workerPids(kiln)).hasSize(2).doesNotContainAnyElementsOf(old));
        }
    }

    @Test
    void theMasterKillsAWorkerThatStoppedReporting() throws Exception {
        try (KilnProcess kiln = KilnProcess.launch(dir, List.of(), "--workers=1", "--max-cron-threads=0", "--limit-time-real=3")) {
            kiln.awaitHttpWorkers(1, 1);
            long frozen = workerPids(kiln).iterator().next();
            new ProcessBuilder("kill", "-STOP", Long.toString(frozen)).inheritIO().start().waitFor();
            kiln.awaitLog("Worker \\d+ \\(pid " + frozen + "\\): limit limit_time_real reached: no heartbeat for \\d+ s \\(> 3 s\\); killed", 1);
            kiln.awaitWorkers("the frozen worker replaced", KilnProcess.PATIENCE, w -> w.stream().noneMatch(x -> x.pid() == frozen)
                    && w.stream().filter(KilnProcess.Worker::servingHttp).count() == 1);
            assertThat(ProcessHandle.of(frozen).map(ProcessHandle::isAlive).orElse(false)).isFalse();
            assertThat(kiln.get("/hello")).startsWith("HTTP/1.1 200");
        }
    }

    @Test
    void theMasterKillsAWorkerOverLimitMemoryHardAndReplacesIt() throws Exception {
        // below any JVM's RSS: each worker is killed on its first report
        try (KilnProcess kiln = KilnProcess.launch(dir, List.of(), "--workers=1", "--max-cron-threads=0",
                "--limit-memory-soft=0", "--limit-memory-hard=48M")) {
            kiln.awaitLog("Worker \\d+ \\(pid \\d+\\): limit limit_memory_hard reached: RSS \\d+ bytes > 50331648 bytes; killed", 2);
            kiln.awaitLog("Worker \\d+ \\(pid \\d+\\) died \\(exit code 137\\); a new one replaces it", 2);
            kiln.awaitLog("Worker \\d+ \\(pid \\d+, generation 1\\) started", 3);
            assertThat(kiln.process().isAlive()).as("the master goes on").isTrue();
        }
    }

    @Test
    void theEventedWorkerServesGeventPortAndIsRespawnedAndReloaded() throws Exception {
        int geventPort = KilnProcess.freePort();
        try (KilnProcess kiln = KilnProcess.launch(dir, List.of(), "--workers=1", "--max-cron-threads=0",
                "--gevent-port=" + geventPort)) {
            kiln.awaitReadyWorkers("evented", 1);
            long evented = eventedPid(kiln);
            assertThat(commandLine(evented)).contains(" dev.kiln.Main worker evented ");
            assertThat(KilnProcess.request(geventPort, "/hello")).startsWith("HTTP/1.1 200").endsWith("Hello, world");
            await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(servingPids(kiln))
                    .as("the request on gevent_port was served by the evented worker").contains(evented));
            await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
                    assertThat(status(kiln)).containsPattern("(?m)^" + evented + " +evented +1 "));

            ProcessHandle.of(evented).orElseThrow().destroyForcibly();
            kiln.awaitLog("Evented worker \\d+ \\(pid " + evented + "\\) died", 1);
            kiln.awaitWorkers("a new evented worker ready", KilnProcess.PATIENCE, workers -> workers.stream()
                    .anyMatch(w -> w.kind().equals("evented") && w.ready() && w.pid() != evented));
            long respawned = eventedPid(kiln);
            assertThat(respawned).isNotEqualTo(evented);
            assertThat(KilnProcess.request(geventPort, "/hello")).startsWith("HTTP/1.1 200");

            kiln.signal("HUP");
            kiln.awaitHttpWorkers(1, 2);
            kiln.awaitWorkers("the evented worker of generation 2 alone", KilnProcess.PATIENCE, workers -> workers.stream()
                    .filter(w -> w.kind().equals("evented")).allMatch(w -> w.ready() && w.generation() == 2 && w.pid() != respawned)
                    && workers.stream().anyMatch(w -> w.kind().equals("evented")));
            assertThat(eventedPid(kiln)).isNotEqualTo(respawned);
            assertThat(KilnProcess.request(geventPort, "/hello")).startsWith("HTTP/1.1 200");

            kiln.signal("TERM");
            assertThat(kiln.awaitExit(Duration.ofSeconds(60))).as(kiln.log()).isZero();
        }
        try (java.net.Socket refused = new java.net.Socket()) {
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> refused.connect(
                    new java.net.InetSocketAddress("127.0.0.1", geventPort), 2000))
                    .as("gevent_port is closed once the server stopped").isInstanceOf(java.net.ConnectException.class);
        }
    }

    /** The live evented worker of the master. */
    private static long eventedPid(KilnProcess kiln) {
        Set<Long> pids = workerPids(kiln, "evented");
        assertThat(pids).hasSize(1);
        return pids.iterator().next();
    }

    @Test
    void cronWorkersRunTheJobsEachExactlyOnce() throws Exception {
        try (CronHarness cron = CronHarness.shared(dir, "prefork_cron", null, "hello")) {
            cron.execute("INSERT INTO kiln_cron (name, code, interval_number, interval_type, nextcall)"
                    + " SELECT 'p_' || g, 'hello.ledger', 1, 'days', now() - interval '1 minute' FROM generate_series(1, 200) g");
            try (KilnProcess kiln = KilnProcess.launch(Files.createDirectories(dir.resolve("prefork")), List.of(),
                    "--workers=1", "--max-cron-threads=2", "-d", cron.db)) {
                kiln.awaitReadyWorkers("cron", 2);
                await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200)).until(() ->
                        cron.count("SELECT count(*) FROM kiln_cron WHERE name LIKE 'p\\_%' AND nextcall <= now()") == 0);
                assertThat(cron.query("SELECT count(*) || ',' || count(DISTINCT job_id) FROM hello_cron_ledger"))
                        .as("rows, jobs").isEqualTo("200,200");
                Set<Long> cronWorkers = workerPids(kiln, "cron");
                assertThat(cronWorkers).hasSize(2);
                Matcher done = Pattern.compile("^\\S+ \\S+ (\\d+) INFO \\S+ dev\\.kiln\\.cron\\.CronRunner: " + cron.db
                        + ": cron job 'p_\\d+' done", Pattern.MULTILINE).matcher(kiln.log());
                Set<Long> runners = new java.util.HashSet<>();
                int lines = 0;
                while (done.find()) {
                    runners.add(Long.parseLong(done.group(1)));
                    lines++;
                }
                assertThat(lines).isEqualTo(200);
                assertThat(runners).as("the jobs ran in cron workers only").isNotEmpty().isSubsetOf(cronWorkers);
            }
        }
    }

    @Test
    void aRequestOverLimitTimeRealIsTheOnlyOneCutWhenItsWorkerIsReplaced() throws Exception {
        try (KilnProcess kiln = KilnProcess.launch(dir, List.of(), "--workers=1", "--max-cron-threads=0", "--limit-time-real=2")) {
            kiln.awaitHttpWorkers(1, 1);
            long first = workerPids(kiln).iterator().next();
            java.util.concurrent.CompletableFuture<String> slow = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                try {
                    return kiln.get("/hello/wait?seconds=30");
                } catch (Exception e) {
                    return e.getClass().getSimpleName();
                }
            });
            dev.kiln.bench.LoadClients.Tally others;
            try (dev.kiln.bench.LoadClients load = dev.kiln.bench.LoadClients.start(kiln.port(), "/hello", 2)) {
                kiln.awaitLog("Worker \\d+ \\(pid " + first + "\\) retired", 1);
                load.awaitRequests(20, Duration.ofSeconds(10));
                others = load.stop();
            }
            assertThat(others.failed()).as("the other requests: " + others).isZero();
            assertThat(slow.get(30, java.util.concurrent.TimeUnit.SECONDS)).as("the slow request").doesNotStartWith("HTTP/1.1 200");
            assertThat(kiln.log()).contains("limit limit_time_real reached: request GET /hello/wait")
                    .contains("HelloAddon.waitSeconds");
            assertThat(workerPids(kiln)).hasSize(1).doesNotContain(first);
        }
    }

    private static final long INT_BIT = 1L << (2 - 1);

    /** A signal set of /proc/PID/status ({@code SigIgn}, {@code SigCgt}...) as a bit mask. */
    private static long signalSet(long pid, String field) throws IOException {
        return Files.readAllLines(Path.of("/proc/" + pid + "/status")).stream()
                .filter(line -> line.startsWith(field + ":"))
                .mapToLong(line -> Long.parseUnsignedLong(line.substring(field.length() + 1).trim(), 16))
                .findFirst().orElseThrow();
    }

    /** The live worker JVMs of the master. */
    /** The names of the AOT cache files process {@code pid} has mapped. */
    private static Set<String> aotCachesMapped(long pid) throws IOException {
        return Files.readAllLines(Path.of("/proc/" + pid + "/maps")).stream().filter(line -> line.endsWith(".aot"))
                .map(line -> Path.of(line.substring(line.lastIndexOf(' ') + 1)).getFileName().toString())
                .collect(Collectors.toSet());
    }

    static Set<Long> workerPids(KilnProcess kiln) {
        return workerPids(kiln, "http");
    }

    /** The live worker JVMs of {@code kind} ({@code http}, {@code cron}, {@code evented}) the master started. */
    static Set<Long> workerPids(KilnProcess kiln, String kind) {
        return kiln.process().toHandle().children().filter(ProcessHandle::isAlive)
                .filter(p -> KilnProcess.commandLineOf(p.pid()).contains(" worker " + kind))
                .map(ProcessHandle::pid).collect(Collectors.toSet());
    }

    /** What {@code kiln status} prints for {@code kiln}, run in this JVM as an operator would. */
    private static String status(KilnProcess kiln) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
        int code = dev.kiln.cli.KilnCommandAccess.run(List.of("status", "--data-dir=" + SharedPostgres.dataDir(),
                        "--http-port=" + kiln.port()), Map.of("HOME", kiln.dir.toString()),
                new java.io.PrintStream(out, true, java.nio.charset.StandardCharsets.UTF_8),
                new java.io.PrintStream(err, true, java.nio.charset.StandardCharsets.UTF_8));
        assertThat(code).as(err.toString(java.nio.charset.StandardCharsets.UTF_8)).isZero();
        return out.toString(java.nio.charset.StandardCharsets.UTF_8);
    }

    static String commandLine(long pid) {
        String line = KilnProcess.commandLineOf(pid);
        return line.isEmpty() ? "?" : line;
    }

    /** The pids that wrote an access log line for GET /hello. */
    private static Set<Long> servingPids(KilnProcess kiln) {
        Matcher matcher = ACCESS.matcher(kiln.log());
        Set<Long> pids = new java.util.HashSet<>();
        while (matcher.find()) {
            pids.add(Long.parseLong(matcher.group(1)));
        }
        return pids;
    }
}
