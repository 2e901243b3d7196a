package dev.kiln.metrics;

import io.prometheus.metrics.core.datapoints.CounterDataPoint;
import io.prometheus.metrics.core.datapoints.DistributionDataPoint;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.instrumentation.jvm.JvmMetrics;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.Unit;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * The process's metrics: one Prometheus registry per JVM, Kiln's instruments on it, and the JVM's
 * and the process's own (heap, GC, threads, RSS, CPU seconds, open files). Off until
 * {@link #enable} (when {@code metrics_port} is set: by the process that serves {@code /metrics},
 * and by each prefork worker, which reports to its master); while off, every recording method
 * returns at one read of a static field, so a server without metrics pays nothing more.
 *
 * <p>Process-wide on purpose: a registry is one per JVM (the JVM's own metrics are), and the
 * places that record — the HTTP front door, the limits, the master's worker table — are many
 * floors apart; passing one object through all of them would buy nothing a static does not.
 *
 * <p>Labels stay bounded whatever clients send: a request is counted by its route's pattern (never
 * its raw path), {@code static} or {@code unmatched}; its method by name only when HTTP defines it,
 * else {@code other}; its status by class ({@code 2xx} ... {@code 5xx}).
 */
public final class KilnMetrics {

    /** Upper bounds of the request duration histogram, in seconds: Prometheus's defaults, then up to limit_time_real's default. */
    private static final double[] DURATION_BOUNDS = {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120};
    /** Upper bounds of the reload duration histogram, in seconds. */
    private static final double[] RELOAD_BOUNDS = {.5, 1, 1.5, 2, 3, 5, 10, 20, 30, 60};
    private static final Set<String> METHODS = Set.of("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS",
            "CONNECT", "TRACE");
    private static final String[] STATUS_CLASSES = {"1xx", "2xx", "3xx", "4xx", "5xx"};

    private static volatile KilnMetrics current;

    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final Counter httpRequests = Counter.builder().name("kiln_http_requests_total")
            .help("HTTP requests answered, by route pattern, method and status class")
            .labelNames("route", "method", "status").register(registry);
    private final Histogram httpDuration = Histogram.builder().name("kiln_http_request_duration_seconds")
            .help("Time from a request's arrival to the end of its answer, by route pattern and method")
            .unit(Unit.SECONDS).labelNames("route", "method").classicOnly().classicUpperBounds(DURATION_BOUNDS)
            .register(registry);
    private final Counter httpResponseBytes = Counter.builder().name("kiln_http_response_bytes_total")
            .help("Bytes of response bodies sent").unit(Unit.BYTES).register(registry);
    private final Counter httpRequestBytes = Counter.builder().name("kiln_http_request_bytes_total")
            .help("Bytes of request bodies announced by Content-Length").unit(Unit.BYTES).register(registry);
    private final Gauge httpInFlight = Gauge.builder().name("kiln_http_requests_in_flight")
            .help("HTTP requests being handled now").register(registry);
    private final Counter limits = Counter.builder().name("kiln_limit_events_total")
            .help("Times a process reached one of its limits, by limit").labelNames("limit").register(registry);
    private final Counter spawns = Counter.builder().name("kiln_worker_spawns_total")
            .help("Prefork workers started, by kind").labelNames("kind").register(registry);
    private final Counter exits = Counter.builder().name("kiln_worker_exits_total")
            .help("Prefork workers gone, by kind and reason").labelNames("kind", "reason").register(registry);
    private final Histogram reloads = Histogram.builder().name("kiln_reload_duration_seconds")
            .help("Time from SIGHUP to every worker of the new generation ready").unit(Unit.SECONDS)
            .classicOnly().classicUpperBounds(RELOAD_BOUNDS).register(registry);
    /** The data points of each (route, method) pair met so far: a request looks them up once, not by label list. */
    private final ConcurrentHashMap<String, RoutePoints> routes = new ConcurrentHashMap<>();

    /**
     * One route and method's series: a count per status class (each made at its first request, so
     * no empty series is exposed) and the duration histogram.
     */
    private record RoutePoints(String route, String method, CounterDataPoint[] byStatus, DistributionDataPoint duration) {

        CounterDataPoint count(Counter requests, int status) {
            int index = Math.clamp(status / 100 - 1, 0, STATUS_CLASSES.length - 1);
            CounterDataPoint point = byStatus[index];
            if (point == null) {          // a race makes it twice: the counter gives the same point both times
                point = requests.labelValues(route, method, STATUS_CLASSES[index]);
                byStatus[index] = point;
            }
            return point;
        }
    }

    private KilnMetrics() {
        JvmMetrics.builder().register(registry);
    }

    /** Turns metrics on for this process (idempotent) and returns them. */
    public static synchronized KilnMetrics enable() {
        if (current == null) {
            current = new KilnMetrics();
        }
        return current;
    }

    /** The process's metrics, or null while they are off. */
    public static KilnMetrics get() {
        return current;
    }

    public PrometheusRegistry registry() {
        return registry;
    }

    /** A request entered the front door. */
    public static void requestStarted() {
        KilnMetrics metrics = current;
        if (metrics != null) {
            metrics.httpInFlight.inc();
        }
    }

    /**
     * A request left the front door.
     *
     * @param route        the pattern of the route that answered, {@code static}, or {@code unmatched}
     * @param requestBytes the body length the client announced, -1 when it did not
     */
    public static void requestEnded(String route, String method, int status, long nanos, long requestBytes, long responseBytes) {
        KilnMetrics metrics = current;
        if (metrics == null) {
            return;
        }
        metrics.httpInFlight.dec();
        String name = METHODS.contains(method) ? method : "other";
        RoutePoints points = metrics.routes.computeIfAbsent(route + ' ' + name, key -> metrics.pointsOf(route, name));
        points.count(metrics.httpRequests, status).inc();
        points.duration.observe(nanos / 1e9);
        if (responseBytes > 0) {
            metrics.httpResponseBytes.inc(responseBytes);
        }
        if (requestBytes > 0) {
            metrics.httpRequestBytes.inc(requestBytes);
        }
    }

    private RoutePoints pointsOf(String route, String method) {
        return new RoutePoints(route, method, new CounterDataPoint[STATUS_CLASSES.length], httpDuration.labelValues(route, method));
    }

    /** A process reached {@code limit} (Odoo's option name: limit_request, limit_memory_soft, ...). */
    public static void limitReached(String limit) {
        KilnMetrics metrics = current;
        if (metrics != null) {
            metrics.limits.labelValues(limit).inc();
        }
    }

    /**
     * The prefork master's gauge {@code kiln_workers{kind, generation}}: {@code counts} gives the
     * number of live workers by (kind, generation), read at each scrape.
     */
    public void countWorkers(Supplier<Map<List<String>, Long>> counts) {
        GaugeWithCallback.builder().name("kiln_workers").help("Live prefork workers, by kind and generation")
                .labelNames("kind", "generation")
                .callback(callback -> counts.get().forEach((labels, n) -> callback.call(n, labels.toArray(String[]::new))))
                .register(registry);
    }

    /** The prefork master started a worker of {@code kind}. */
    public static void workerSpawned(String kind) {
        KilnMetrics metrics = current;
        if (metrics != null) {
            metrics.spawns.labelValues(kind.toLowerCase(Locale.ROOT)).inc();
        }
    }

    /** A prefork worker of {@code kind} is gone: retired, crashed, killed, ... */
    public static void workerExited(String kind, String reason) {
        KilnMetrics metrics = current;
        if (metrics != null) {
            metrics.exits.labelValues(kind.toLowerCase(Locale.ROOT), reason).inc();
        }
    }

    /** A reload's new generation serves, {@code nanos} after its SIGHUP. */
    public static void reloaded(long nanos) {
        KilnMetrics metrics = current;
        if (metrics != null) {
            metrics.reloads.observe(nanos / 1e9);
        }
    }
}
