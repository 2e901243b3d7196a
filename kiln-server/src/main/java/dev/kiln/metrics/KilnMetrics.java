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
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
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
    /** Upper bounds of the connection acquire histogram, in seconds: most take microseconds, a starved pool seconds. */
    private static final double[] ACQUIRE_BOUNDS = {.0001, .0005, .001, .005, .01, .05, .1, .5, 1, 5, 10, 30};
    /** Upper bounds of the cron call duration and lag histograms, in seconds. */
    private static final double[] CRON_BOUNDS = {.01, .05, .1, .5, 1, 5, 10, 30, 60, 300, 900, 3600};
    /** Upper bounds of the reload duration histogram, in seconds. */
    private static final double[] RELOAD_BOUNDS = {.5, 1, 1.5, 2, 3, 5, 10, 20, 30, 60};
    /** The methods HTTP defines, counted by name; any other is {@code other}, the last index. */
    private static final List<String> METHODS = List.of("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS",
            "CONNECT", "TRACE", "other");
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
    /** Requests in flight: an adder, not the library's gauge, whose compare-and-set every request would contend on. */
    private final LongAdder httpInFlight = new LongAdder();
    private final Counter limits = Counter.builder().name("kiln_limit_events_total")
            .help("Times a process reached one of its limits, by limit").labelNames("limit").register(registry);
    private final Counter spawns = Counter.builder().name("kiln_worker_spawns_total")
            .help("Prefork workers started, by kind").labelNames("kind").register(registry);
    private final Counter exits = Counter.builder().name("kiln_worker_exits_total")
            .help("Prefork workers gone, by kind and reason").labelNames("kind", "reason").register(registry);
    private final Histogram reloads = Histogram.builder().name("kiln_reload_duration_seconds")
            .help("Time from SIGHUP to every worker of the new generation ready").unit(Unit.SECONDS)
            .classicOnly().classicUpperBounds(RELOAD_BOUNDS).register(registry);
    private final Histogram poolAcquire = Histogram.builder().name("kiln_db_pool_acquire_seconds")
            .help("Time to take a connection from a database's pool").unit(Unit.SECONDS).labelNames("database")
            .classicOnly().classicUpperBounds(ACQUIRE_BOUNDS).register(registry);
    private final Counter poolTimeouts = Counter.builder().name("kiln_db_pool_timeouts_total")
            .help("Connections asked of a database's pool that did not come in time").labelNames("database").register(registry);
    private final Counter retries = Counter.builder().name("kiln_db_transactions_retried_total")
            .help("Transactions run again after a serialization failure or a deadlock").labelNames("database")
            .register(registry);
    private final Counter replicaSwitches = Counter.builder().name("kiln_db_replica_switches_total")
            .help("Times read-only work moved between the replica and the primary (db_replica_max_lag), by where it went")
            .labelNames("to").register(registry);
    private final Gauge replicaInUse = Gauge.builder().name("kiln_db_replica_in_use")
            .help("1 while read-only work runs on the replica, 0 while the primary takes it (lag or outage)").register(registry);
    /** The pools open in this process, by database, read at each scrape. */
    private final Map<String, PoolView> pools = new ConcurrentHashMap<>();
    private final Counter cronCalls = Counter.builder().name("kiln_cron_calls_total")
            .help("Cron job calls, by database, job and outcome (ok, failed, stopped, abandoned)").labelNames("database", "job", "outcome")
            .register(registry);
    private final Histogram cronDuration = Histogram.builder().name("kiln_cron_call_duration_seconds")
            .help("Time a cron job's call ran").unit(Unit.SECONDS).labelNames("database", "job")
            .classicOnly().classicUpperBounds(CRON_BOUNDS).register(registry);
    private final Histogram cronLag = Histogram.builder().name("kiln_cron_lag_seconds")
            .help("Time from a cron job falling due to a runner claiming it").unit(Unit.SECONDS)
            .classicOnly().classicUpperBounds(CRON_BOUNDS).register(registry);
    private final Gauge cronBusy = Gauge.builder().name("kiln_cron_runners_busy")
            .help("Cron runners running a job now").register(registry);
    private final Counter busSent = Counter.builder().name("kiln_bus_messages_sent_total")
            .help("Bus messages written by committed transactions").register(registry);
    private final Counter busDelivered = Counter.builder().name("kiln_bus_messages_delivered_total")
            .help("Bus messages handed to clients, by transport (websocket, longpoll)").labelNames("transport")
            .register(registry);
    private final Counter busTableReads = Counter.builder().name("kiln_bus_table_reads_total")
            .help("Bus reads from the table, for clients further behind than the latest messages the process keeps"
                    + " (a fresh client's first read, one after an outage); identical reads at once share one")
            .register(registry);
    private final Gauge websockets = Gauge.builder().name("kiln_bus_websockets_open")
            .help("Bus websockets open now").register(registry);
    private final Gauge longPolls = Gauge.builder().name("kiln_bus_long_polls_waiting")
            .help("Long polls waiting for a message now").register(registry);
    private final Histogram busDispatch = Histogram.builder().name("kiln_bus_dispatch_seconds")
            .help("Time from bus notifications' arrival to every subscriber of them woken (the new messages read once)")
            .unit(Unit.SECONDS).classicOnly().classicUpperBounds(ACQUIRE_BOUNDS).register(registry);
    private final Counter registryLoads = Counter.builder().name("kiln_registry_loads_total")
            .help("Registries loaded (at start, and again after another process changed a database)")
            .labelNames("database").register(registry);

    /** A database's pool as a scrape reads it. */
    public interface PoolView {
        int active();

        int idle();

        int waiting();
    }

    /** The data points of each route met so far, by method index: a request finds its own without building a key. */
    private final ConcurrentHashMap<String, RoutePoints[]> routes = new ConcurrentHashMap<>();

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
        GaugeWithCallback.builder().name("kiln_http_requests_in_flight").help("HTTP requests being handled now")
                .callback(callback -> callback.call(httpInFlight.sum())).register(registry);
        GaugeWithCallback.builder().name("kiln_db_pool_connections")
                .help("Connections of a database's pool, by state (active: lent out, idle: ready)")
                .labelNames("database", "state").callback(callback -> pools.forEach((db, pool) -> {
                    callback.call(pool.active(), db, "active");
                    callback.call(pool.idle(), db, "idle");
                })).register(registry);
        GaugeWithCallback.builder().name("kiln_db_pool_waiting").help("Threads waiting for a connection of a database's pool")
                .labelNames("database").callback(callback -> pools.forEach((db, pool) -> callback.call(pool.waiting(), db)))
                .register(registry);
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
            metrics.httpInFlight.increment();
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
        metrics.httpInFlight.decrement();
        RoutePoints points = metrics.pointsOf(route, method);
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
        RoutePoints[] byMethod = routes.computeIfAbsent(route, key -> new RoutePoints[METHODS.size()]);
        int index = METHODS.indexOf(method);
        if (index < 0) {
            index = METHODS.size() - 1;
        }
        RoutePoints points = byMethod[index];
        if (points == null) {             // a race makes it twice: the library gives the same data points both times
            String name = METHODS.get(index);
            points = new RoutePoints(route, name, new CounterDataPoint[STATUS_CLASSES.length], httpDuration.labelValues(route, name));
            byMethod[index] = points;
        }
        return points;
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

    /** The pool of {@code database} is open (null {@code pool}: closed), for the pool gauges. */
    public static void pool(String database, PoolView pool) {
        KilnMetrics metrics = current;
        if (metrics != null) {
            if (pool == null) {
                metrics.pools.remove(database);
            } else {
                metrics.pools.put(database, pool);
            }
        }
    }

    /** A connection of {@code database}'s pool was taken after {@code nanos}. */
    public static void connectionAcquired(String database, long nanos) {
        KilnMetrics metrics = current;
        if (metrics != null) {
            metrics.poolAcquire.labelValues(database).observe(nanos / 1e9);
        }
    }

    /** A connection of {@code database}'s pool did not come in time. */
    public static void connectionTimedOut(String database) {
        KilnMetrics metrics = current;
        if (metrics != null) {
            metrics.poolTimeouts.labelValues(database).inc();
        }
    }

    /** Read-only work goes to the replica ({@code true}) or, from now on, to the primary. */
    public static void replicaInUse(boolean inUse, boolean switched) {
        KilnMetrics metrics = current;
        if (metrics != null) {
            metrics.replicaInUse.set(inUse ? 1 : 0);
            if (switched) {
                metrics.replicaSwitches.labelValues(inUse ? "replica" : "primary").inc();
            }
        }
    }

    /** A transaction of {@code database} runs again after a concurrency failure. */
    public static void transactionRetried(String database) {
        KilnMetrics metrics = current;
        if (metrics != null) {
            metrics.retries.labelValues(database).inc();
        }
    }

    /** A cron runner starts a job's call, {@code lagNanos} after it fell due. */
    public static void cronStarted(long lagNanos) {
        KilnMetrics metrics = current;
        if (metrics != null) {
            metrics.cronBusy.inc();
            metrics.cronLag.observe(Math.max(0, lagNanos) / 1e9);
        }
    }

    /** A cron job's call ended: {@code ok}, {@code failed}, {@code stopped} (cut short by a stop) or {@code abandoned} (over its time limit). */
    public static void cronEnded(String database, String job, String outcome, long nanos) {
        KilnMetrics metrics = current;
        if (metrics != null) {
            metrics.cronBusy.dec();
            metrics.cronCalls.labelValues(database, job, outcome).inc();
            metrics.cronDuration.labelValues(database, job).observe(nanos / 1e9);
        }
    }

    /** A transaction that wrote {@code count} bus messages committed. */
    public static void busSent(int count) {
        KilnMetrics metrics = current;
        if (metrics != null && count > 0) {
            metrics.busSent.inc(count);
        }
    }

    /** {@code count} bus messages went to a client over {@code transport} (websocket, longpoll). */
    public static void busDelivered(String transport, int count) {
        KilnMetrics metrics = current;
        if (metrics != null && count > 0) {
            metrics.busDelivered.labelValues(transport).inc(count);
        }
    }

    /** A bus read went to the table. */
    public static void busTableRead() {
        KilnMetrics metrics = current;
        if (metrics != null) {
            metrics.busTableReads.inc();
        }
    }

    /** Bus notifications were dispatched to their subscribers in {@code nanos}. */
    public static void busDispatched(long nanos) {
        KilnMetrics metrics = current;
        if (metrics != null) {
            metrics.busDispatch.observe(nanos / 1e9);
        }
    }

    /** A bus websocket opened ({@code +1}) or closed ({@code -1}). */
    public static void websocket(int change) {
        KilnMetrics metrics = current;
        if (metrics != null) {
            metrics.websockets.inc(change);
        }
    }

    /** A long poll began waiting ({@code +1}) or stopped ({@code -1}). */
    public static void longPoll(int change) {
        KilnMetrics metrics = current;
        if (metrics != null) {
            metrics.longPolls.inc(change);
        }
    }

    /** The registry of {@code database} was loaded. */
    public static void registryLoaded(String database) {
        KilnMetrics metrics = current;
        if (metrics != null) {
            metrics.registryLoads.labelValues(database).inc();
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
