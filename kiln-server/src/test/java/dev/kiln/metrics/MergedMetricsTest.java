package dev.kiln.metrics;

import dev.kiln.metrics.MetricFamily.Point;
import dev.kiln.metrics.MetricFamily.Type;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class MergedMetricsTest {

    private final MergedMetrics merged = new MergedMetrics(() -> MetricSnapshots.of());

    @Test
    void aCounterKeepsWhatAGoneWorkerCountedAndAddsItsReplacementsCounts() throws IOException {
        merged.admit(1, "http", 1);
        merged.report(1, requests(100));
        merged.gone(1);
        merged.admit(2, "http", 2);
        merged.report(2, requests(5));

        assertThat(text()).contains("kiln_http_requests_total{route=\"/hello\"} 105.0");
        merged.report(2, requests(7));
        assertThat(text()).contains("kiln_http_requests_total{route=\"/hello\"} 107.0");
    }

    @Test
    void histogramsAreMergedBucketByBucket() throws IOException {
        merged.admit(1, "http", 1);
        merged.admit(2, "http", 1);
        merged.report(1, duration(new long[] {3, 1, 0}, 0.5));
        merged.report(2, duration(new long[] {1, 0, 2}, 9.0));

        assertThat(text()).contains("duration_seconds_bucket{le=\"0.1\"} 4", "duration_seconds_bucket{le=\"1.0\"} 5",
                "duration_seconds_bucket{le=\"+Inf\"} 7", "duration_seconds_count 7", "duration_seconds_sum 9.5");
    }

    @Test
    void eachLiveWorkersGaugeCarriesItsLabelsAndVanishesWithIt() throws IOException {
        merged.admit(3, "http", 2);
        merged.admit(4, "cron", 2);
        merged.report(3, gauge("jvm_threads_current", 18));
        merged.report(4, gauge("jvm_threads_current", 12));

        assertThat(text()).contains("jvm_threads_current{generation=\"2\",kind=\"http\",worker=\"3\"} 18.0",
                "jvm_threads_current{generation=\"2\",kind=\"cron\",worker=\"4\"} 12.0");
        merged.gone(3);
        assertThat(text()).doesNotContain("worker=\"3\"").contains("worker=\"4\"");
    }

    @Test
    void requestsInFlightAreAlsoSummedOverTheWorkers() throws IOException {
        merged.admit(1, "http", 1);
        merged.admit(2, "http", 1);
        merged.report(1, gauge("kiln_http_requests_in_flight", 2));
        merged.report(2, gauge("kiln_http_requests_in_flight", 3));

        assertThat(text()).contains("kiln_http_requests_in_flight 5.0",
                "kiln_http_requests_in_flight{generation=\"1\",kind=\"http\",worker=\"1\"} 2.0");
    }

    @Test
    void aReportOfAWorkerNeverAdmittedOrAlreadyGoneCountsNothing() throws IOException {
        merged.admit(1, "http", 1);
        merged.report(1, requests(10));
        merged.gone(1);
        merged.report(1, requests(50));      // a frame read after the end: the worker's counts are final
        merged.report(9, requests(50));

        assertThat(text()).contains("kiln_http_requests_total{route=\"/hello\"} 10.0");
    }

    private static MetricFamily requests(double value) {
        return new MetricFamily("kiln_http_requests", Type.COUNTER, "requests", null,
                List.of(new Point(List.of("route", "/hello"), value, 0, new double[0], new long[0])));
    }

    private static MetricFamily duration(long[] counts, double sum) {
        long count = counts[0] + counts[1] + counts[2];
        return new MetricFamily("duration_seconds", Type.HISTOGRAM, "time", "seconds", List.of(new Point(List.of(), sum, count,
                new double[] {0.1, 1, Double.POSITIVE_INFINITY}, counts)));
    }

    private static MetricFamily gauge(String name, double value) {
        return new MetricFamily(name, Type.GAUGE, "", null, List.of(new Point(List.of(), value, 0, new double[0], new long[0])));
    }

    private String text() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrometheusTextFormatWriter.create().write(out, merged.collect());
        return out.toString(StandardCharsets.UTF_8);
    }
}
