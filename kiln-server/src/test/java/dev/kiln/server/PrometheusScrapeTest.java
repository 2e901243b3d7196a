package dev.kiln.server;

import dev.kiln.bench.LoadClients;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A real Prometheus (Debian's {@code prometheus} package, which {@code .ci/run} installs) scraping a
 * prefork Kiln every second under load through two reloads: it sees every request the clients
 * counted, and no counter reset; {@code promtool check metrics} finds nothing to say about the
 * exposition.
 */
@Tag("process")
class PrometheusScrapeTest {

    private static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static final String HELLO = "kiln_http_requests_total{route=\"/hello\",status=\"2xx\"}";

    @TempDir
    Path dir;

    @Test
    void prometheusSeesEveryRequestAndNoCounterResetThroughReloads() throws Exception {
        int metricsPort = KilnProcess.freePort();
        int prometheusPort = KilnProcess.freePort();
        try (KilnProcess kiln = KilnProcess.launch(Files.createDirectories(dir.resolve("kiln")), List.of(), "--workers=2", "--max-cron-threads=0",
                "--metrics-port=" + metricsPort)) {
            kiln.awaitHttpWorkers(2, 1);
            Process prometheus = startPrometheus(metricsPort, prometheusPort);
            try {
                await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> assertThat(value(prometheusPort, "up{job=\"kiln\"}"))
                        .as("Prometheus's log:%n%s", Files.readString(dir.resolve("prometheus.log"))).isEqualTo(1));
                long counted;
                long retried;
                try (LoadClients load = PreforkZeroDropTest.harshLoad(kiln.port())) {
                    load.awaitRequests(200, Duration.ofSeconds(30));
                    for (int generation = 2; generation <= 3; generation++) {
                        kiln.signal("HUP");
                        kiln.awaitHttpWorkers(2, generation, Duration.ofSeconds(120));
                    }
                    LoadClients.Tally tally = load.stop();
                    counted = tally.count(LoadClients.Outcome.SUCCESS);
                    retried = tally.retried();
                }
                // a client given no byte on a keep-alive connection closed under it sends again (see MetricsTest)
                await().atMost(Duration.ofSeconds(60)).untilAsserted(() ->
                        assertThat(value(prometheusPort, HELLO)).as("retried %d", retried)
                                .isBetween((double) counted, (double) counted + retried));
                assertThat(value(prometheusPort, "resets(" + HELLO + "[10m])")).as("counter resets Prometheus saw").isZero();
                // a reload ends once its cron and evented workers are ready too, a little after its HTTP workers
                await().atMost(Duration.ofSeconds(60)).untilAsserted(() ->
                        assertThat(value(prometheusPort, "kiln_reload_duration_seconds_count")).isEqualTo(2));

                Process promtool = new ProcessBuilder("promtool", "check", "metrics").redirectErrorStream(true).start();
                try (var in = promtool.getOutputStream()) {
                    in.write(MetricsTest.scrape(metricsPort, null).body().getBytes(StandardCharsets.UTF_8));
                }
                String verdict = new String(promtool.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                assertThat(promtool.waitFor()).as(verdict).isZero();
                assertThat(verdict).as("promtool's remarks").isEmpty();
            } finally {
                prometheus.destroy();
                if (!prometheus.waitFor(30, TimeUnit.SECONDS)) {
                    prometheus.destroyForcibly();
                }
            }
        }
    }

    private Process startPrometheus(int metricsPort, int prometheusPort) throws IOException {
        Path config = dir.resolve("prometheus.yml");
        Files.writeString(config, """
                global:
                  scrape_interval: 1s
                  scrape_timeout: 1s
                scrape_configs:
                  - job_name: kiln
                    static_configs:
                      - targets: ['127.0.0.1:%d']
                """.formatted(metricsPort));
        Path binary = Path.of("/usr/bin/prometheus");
        assertThat(binary).as("Debian's prometheus package (.ci/run installs it)").isExecutable();
        return new ProcessBuilder(binary.toString(), "--config.file=" + config, "--storage.tsdb.path=" + dir.resolve("tsdb"),
                "--web.listen-address=127.0.0.1:" + prometheusPort, "--log.level=warn")
                .redirectErrorStream(true).redirectOutput(dir.resolve("prometheus.log").toFile()).start();
    }

    /** The value of an instant query's one result; -1 while it has none (or Prometheus is not ready yet). */
    private static double value(int port, String query) {
        try {
            HttpResponse<String> answer = CLIENT.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port
                    + "/api/v1/query?query=" + URLEncoder.encode(query, StandardCharsets.UTF_8))).timeout(Duration.ofSeconds(10))
                    .build(), HttpResponse.BodyHandlers.ofString());
            if (answer.statusCode() != 200) {
                return -1;                    // "Not Ready." while it starts
            }
            JsonNode result = JSON.readTree(answer.body()).path("data").path("result");
            return result.size() == 1 ? Double.parseDouble(result.get(0).path("value").get(1).asString()) : -1;
        } catch (IOException e) {
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }
}
