package dev.kiln.server;

import dev.kiln.addons.TestAddons;
import dev.kiln.bench.LoadClients;
import dev.kiln.bench.LoadClients.Tally;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * {@code GET /metrics} on {@code --metrics-port}: what a scraper reads, in the threaded mode and from
 * a prefork master that merges its workers, whose counters must stay monotonic and match what the
 * clients counted through reloads, recycling, TTIN/TTOU and a worker killed.
 */
@Tag("process")
class MetricsTest {

    private static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    /** One sample line: name, labels, value. */
    private static final Pattern SAMPLE = Pattern.compile("(?m)^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{[^}]*})? (\\S+)$");
    private static final String HELLO = "kiln_http_requests_total{method=\"GET\",route=\"/hello\",status=\"2xx\"}";

    @TempDir
    Path dir;

    @Test
    void theThreadedServerCountsRequestsByRoutePatternNeverByTheRawPath() throws Exception {
        int metricsPort = KilnProcess.freePort();
        try (KilnProcess kiln = KilnProcess.start(dir, "--metrics-port=" + metricsPort)) {
            for (int i = 0; i < 7; i++) {
                assertThat(kiln.get("/hello")).startsWith("HTTP/1.1 200");
            }
            for (int i = 0; i < 3; i++) {
                assertThat(kiln.get("/no/such/page/" + i + "?x=" + "y".repeat(100))).startsWith("HTTP/1.1 404");
            }
            HttpResponse<String> scrape = scrape(metricsPort, null);
            assertThat(scrape.statusCode()).isEqualTo(200);
            assertThat(scrape.headers().firstValue("Content-Type")).hasValueSatisfying(type -> assertThat(type)
                    .startsWith("text/plain; version=0.0.4"));
            Map<String, Double> samples = samples(scrape.body());
            assertThat(samples).containsEntry(HELLO, 7.0)
                    .containsEntry("kiln_http_requests_total{method=\"GET\",route=\"unmatched\",status=\"4xx\"}", 3.0)
                    .containsEntry("kiln_http_request_duration_seconds_count{method=\"GET\",route=\"/hello\"}", 7.0)
                    .containsKey("process_cpu_seconds_total")
                    .containsKey("jvm_memory_used_bytes{area=\"heap\"}");
            assertThat(scrape.body()).doesNotContain("/no/such/page");
        }
    }

    @Test
    void theEndpointSpeaksOpenMetricsWhenAskedAndAnswersNothingElse() throws Exception {
        int metricsPort = KilnProcess.freePort();
        try (KilnProcess kiln = KilnProcess.start(dir, "--metrics-port=" + metricsPort)) {
            kiln.get("/hello");
            HttpResponse<String> open = scrape(metricsPort, "application/openmetrics-text;version=1.0.0,text/plain;q=0.5");
            assertThat(open.headers().firstValue("Content-Type")).hasValueSatisfying(type -> assertThat(type)
                    .startsWith("application/openmetrics-text"));
            assertThat(open.body()).contains("# TYPE kiln_http_requests counter").endsWith("# EOF\n");

            HttpResponse<String> post = CLIENT.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + metricsPort + "/metrics"))
                    .POST(HttpRequest.BodyPublishers.ofString("x")).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(post.statusCode()).isEqualTo(405);
            assertThat(post.headers().firstValue("Allow")).hasValue("GET, HEAD");
            HttpResponse<String> other = CLIENT.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + metricsPort + "/admin"))
                    .build(), HttpResponse.BodyHandlers.ofString());
            assertThat(other.statusCode()).isEqualTo(404);
            // the application's port does not serve them
            assertThat(kiln.get("/metrics")).startsWith("HTTP/1.1 404");
        }
    }

    @Test
    void aServerWithADatabaseCountsItsPoolTransactionsCronCallsBusMessagesAndRegistryLoads() throws Exception {
        Path addons = Files.createDirectories(dir.resolve("addons"));
        TestAddons.addon(addons, "bustest", TestAddons.manifest("bustest.BusTest", "base", "bus"),
                Map.of("bustest.BusTest", BusLongPollingTest.SENDER));
        TestAddons.addon(addons, "ticker", TestAddons.manifest("ticker.Ticker", "base", "bus"), Map.of("ticker.Ticker", """
                package ticker;

                import dev.kiln.api.*;

                public final class Ticker implements Addon {
                    @Override public void register(AddonContext context) {
                        context.cron(CronJob.every(1, CronJob.Unit.DAYS, "tick", job -> job.bus().send("ticks", "tick", "once")));
                    }
                }
                """));
        int metricsPort = KilnProcess.freePort();
        try (CronHarness harness = CronHarness.shared(dir, "metrics", addons, "bus,bustest,ticker")) {
            KilnProcess kiln = harness.serve("--max-cron-threads=1", "--metrics-port=" + metricsPort);
            String db = harness.db;
            await().atMost(Duration.ofSeconds(60)).ignoreExceptions().until(() -> samples(scrape(metricsPort, null).body())
                    .getOrDefault("kiln_cron_calls_total{database=\"" + db + "\",job=\"ticker.tick\",outcome=\"ok\"}", 0.0) == 1);
            for (int i = 0; i < 3; i++) {
                assertThat(kiln.get("/bustest/send?db=" + db + "&channel=orders&text=n" + i)).startsWith("HTTP/1.1 200");
            }
            assertThat(BusLongPollingTest.poll(kiln, List.of("orders"), 0, 5)).hasSize(3);

            Map<String, Double> samples = samples(scrape(metricsPort, null).body());
            assertThat(samples.get("kiln_bus_messages_sent_total")).as("the cron job's one and the route's three").isEqualTo(4.0);
            assertThat(samples.get("kiln_bus_messages_delivered_total{transport=\"longpoll\"}")).isEqualTo(3.0);
            assertThat(samples.get("kiln_bus_long_polls_waiting")).isZero();
            assertThat(samples.get("kiln_bus_dispatch_seconds_count")).as("notifications dispatched").isGreaterThanOrEqualTo(1.0);
            assertThat(samples.get("kiln_cron_call_duration_seconds_count{database=\"" + db + "\",job=\"ticker.tick\"}"))
                    .isEqualTo(1.0);
            assertThat(samples.get("kiln_cron_lag_seconds_count")).isGreaterThanOrEqualTo(1.0);
            assertThat(samples.get("kiln_cron_runners_busy")).isZero();
            assertThat(samples.get("kiln_registry_loads_total{database=\"" + db + "\"}")).isGreaterThanOrEqualTo(1.0);
            assertThat(samples.get("kiln_db_pool_acquire_seconds_count{database=\"" + db + "\"}")).isGreaterThanOrEqualTo(4.0);
            assertThat(samples).containsKeys("kiln_db_pool_connections{database=\"" + db + "\",state=\"idle\"}",
                    "kiln_db_pool_connections{database=\"" + db + "\",state=\"active\"}",
                    "kiln_db_pool_waiting{database=\"" + db + "\"}");
            assertThat(samples.get("kiln_http_requests_total{method=\"GET\",route=\"/bustest/send\",status=\"2xx\"}"))
                    .isEqualTo(3.0);
        }
    }

    @Test
    void aPreforkMastersCountersStayMonotonicAndMatchTheClientsThroughReloadsRecyclingTtinTtouAndAKill() throws Exception {
        int metricsPort = KilnProcess.freePort();
        try (KilnProcess kiln = KilnProcess.launch(dir, List.of(), "--workers=2", "--max-cron-threads=0",
                "--limit-request=3000", "--metrics-port=" + metricsPort)) {
            kiln.awaitHttpWorkers(2, 1);
            Watcher watcher = new Watcher(metricsPort);
            long counted;
            long retried;
            try (watcher; LoadClients load = PreforkZeroDropTest.harshLoad(kiln.port())) {
                load.awaitRequests(200, Duration.ofSeconds(30));
                // limit_request recycles workers all along: the waits count the serving ones, not the replacements
                for (int generation = 2; generation <= 4; generation++) {
                    int current = generation;
                    kiln.signal("HUP");
                    awaitServing(kiln, "generation " + generation + " alone", workers -> workers.stream()
                            .noneMatch(w -> w.generation() < current) && serving(workers) >= 2);
                }
                kiln.signal("TTIN");
                awaitServing(kiln, "a third worker", workers -> serving(workers) >= 3);
                kiln.signal("TTOU");
                awaitServing(kiln, "two workers again", workers -> serving(workers) == 2);
                await().atMost(Duration.ofSeconds(120)).until(() -> samples(scrape(metricsPort, null).body())
                        .getOrDefault("kiln_worker_exits_total{kind=\"http\",reason=\"retired\"}", 0.0) >= 8);
                Tally first = load.stop();
                counted = first.count(LoadClients.Outcome.SUCCESS);
                retried = first.retried();
            }
            // every worker that left did so gracefully: it reported before exiting, so nothing is lost; a
            // client that got no byte back on a keep-alive connection closed under it sent again, and
            // whether the server had read that first try, only the server knows
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() ->
                    assertThat(samples(scrape(metricsPort, null).body()).get(HELLO)).as("retried %d", retried)
                            .isBetween((double) counted, (double) counted + retried));
            assertThat(watcher.decreases).as("series that went down between two scrapes").isEmpty();
            Map<String, Double> after = samples(scrape(metricsPort, null).body());
            assertThat(after.get("kiln_worker_exits_total{kind=\"http\",reason=\"retired\"}")).isGreaterThanOrEqualTo(8.0);
            // a reload ends once its cron and evented workers are ready too, a little after its HTTP workers
            await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> assertThat(samples(scrape(metricsPort, null).body())
                    .get("kiln_reload_duration_seconds_count")).isEqualTo(3.0));
            assertThat(after.get("kiln_limit_events_total{limit=\"limit_request\"}")).isGreaterThanOrEqualTo(1.0);

            // a worker killed outright loses at most what it served since its last report (one second)
            long victim = PreforkServerTest.workerPids(kiln).iterator().next();
            Tally tally;
            long started = System.nanoTime();
            try (LoadClients load = PreforkZeroDropTest.harshLoad(kiln.port())) {
                load.awaitRequests(300, Duration.ofSeconds(30));
                ProcessHandle.of(victim).orElseThrow().destroyForcibly();
                kiln.awaitWorkers("the killed worker replaced", Duration.ofSeconds(120), workers -> workers.stream()
                        .noneMatch(w -> w.pid() == victim) && workers.stream().filter(KilnProcess.Worker::servingHttp).count() == 2);
                load.awaitRequests(300, Duration.ofSeconds(30));
                tally = load.stop();
            }
            double perSecond = tally.count(LoadClients.Outcome.SUCCESS) / ((System.nanoTime() - started) / 1e9);
            long total = counted + tally.count(LoadClients.Outcome.SUCCESS);
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
                double reported = samples(scrape(metricsPort, null).body()).get(HELLO);
                assertThat(reported).as("served %d, %.0f a second", total, perSecond)
                        .isLessThanOrEqualTo(total).isGreaterThanOrEqualTo(total - perSecond * 2);
            });
            assertThat(samples(scrape(metricsPort, null).body()).get(HELLO)).isGreaterThanOrEqualTo(counted);
            assertThat(samples(scrape(metricsPort, null).body()).get("kiln_worker_exits_total{kind=\"http\",reason=\"died\"}"))
                    .isEqualTo(1.0);
        }
    }

    private static void awaitServing(KilnProcess kiln, String what, java.util.function.Predicate<List<KilnProcess.Worker>> state) {
        kiln.awaitWorkers(what, Duration.ofSeconds(120), workers -> state.test(workers.stream()
                .filter(w -> w.kind().equals("http")).toList()));
    }

    /** HTTP workers ready and not retiring. */
    private static long serving(List<KilnProcess.Worker> workers) {
        return workers.stream().filter(w -> w.servingHttp() && !w.retiring()).count();
    }

    /** Scrapes every 200 ms and keeps every counter (a {@code _total}, {@code _count}, {@code _sum} or {@code _bucket}) that went down. */
    private static final class Watcher implements AutoCloseable {

        final List<String> decreases = new CopyOnWriteArrayList<>();
        private final AtomicBoolean stop = new AtomicBoolean();
        private final Thread thread;

        Watcher(int port) {
            thread = Thread.ofPlatform().daemon().name("metrics-watcher").start(() -> {
                Map<String, Double> last = new HashMap<>();
                while (!stop.get()) {
                    try {
                        Map<String, Double> now = samples(scrape(port, null).body());
                        now.forEach((series, value) -> {
                            Double before = last.get(series);
                            if (monotonic(series) && before != null && value < before) {
                                decreases.add(series + ": " + before + " -> " + value);
                            }
                        });
                        last.putAll(now);
                        Thread.sleep(200);
                    } catch (InterruptedException e) {
                        return;
                    } catch (IOException e) {
                        decreases.add("a scrape failed: " + e);
                    }
                }
            });
        }

        private static boolean monotonic(String series) {
            String name = series.contains("{") ? series.substring(0, series.indexOf('{')) : series;
            return name.startsWith("kiln_") && (name.endsWith("_total") || name.endsWith("_count") || name.endsWith("_bucket")
                    || name.endsWith("_sum"));
        }

        @Override
        public void close() throws InterruptedException {
            stop.set(true);
            thread.join();
        }
    }

    static HttpResponse<String> scrape(int port, String accept) throws IOException {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics"))
                .timeout(Duration.ofSeconds(30));
        if (accept != null) {
            request.header("Accept", accept);
        }
        try {
            return CLIENT.send(request.build(), HttpResponse.BodyHandlers.ofString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
    }

    /** Every sample of a text exposition, by series (name and labels as written). */
    static Map<String, Double> samples(String exposition) {
        Map<String, Double> samples = new HashMap<>();
        Matcher sample = SAMPLE.matcher(exposition);
        while (sample.find()) {
            samples.put(sample.group(1) + (sample.group(2) == null ? "" : sample.group(2)), Double.parseDouble(sample.group(3)));
        }
        return samples;
    }
}
