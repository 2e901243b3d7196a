package dev.kiln.server;

import dev.kiln.config.Config;
import dev.kiln.cron.CronService;
import dev.kiln.failure.KilnException;
import dev.kiln.http.Health;
import dev.kiln.http.HttpFrontDoor;
import dev.kiln.http.InFlightRequest;
import dev.kiln.logging.ThreadStacks;
import dev.kiln.metrics.KilnMetrics;
import dev.kiln.os.ListenSocket;
import dev.kiln.os.Proc;
import dev.kiln.server.Limits.Limit;
import dev.kiln.server.Limits.Usage;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.IntSupplier;

import static dev.kiln.server.ServerLoop.step;

/**
 * The default mode ({@code --workers 0}), Odoo's {@code ThreadedServer}: one process serves HTTP on
 * virtual threads; its loop wakes at least once a second to act on queued signals and to check the
 * limits. Limits never kill a request: the process re-execs itself gracefully once the other
 * requests are done.
 */
public final class ThreadedServer extends CommonServer {

    private static final Logger LOG = LoggerFactory.getLogger(ThreadedServer.class);
    private static final Duration TICK = Duration.ofSeconds(1);
    /** Odoo's SLEEP_INTERVAL: how long a limit waits for the other requests before reloading anyway. */
    private static final Duration LIMIT_GRACE = Duration.ofSeconds(60);

    private final HttpFrontDoor application;
    private final Limits limits;
    private final Set<Long> overLimit = new HashSet<>();
    private long limitReachedNanos = -1;
    private HttpService http;
    /** {@code kiln ctl}'s socket; null until the HTTP service listens, or when it cannot open. */
    private StatusSocket control;

    private final IntSupplier preload;
    private final CronService cron;
    private final Runnable endLongPolls;

    /**
     * @param preload      loads the {@code -d} databases; returns the exit code {@code --stop-after-init} reports
     * @param cron         the cron runners, started once the databases are loaded (Odoo's cron_spawn)
     * @param endLongPolls stops the bus: pending long polls answer at once with no message, so the
     *                     graceful stop does not wait for them
     */
    public ThreadedServer(Config config, HttpFrontDoor application, IntSupplier preload,
                          CronService cron, Runnable endLongPolls) {
        super(config);
        this.application = application;
        this.limits = Limits.threaded(config);
        this.preload = preload;
        this.cron = cron;
        this.endLongPolls = endLongPolls;
    }

    @Override
    public int run() {
        // Not USR2: HotSpot on Linux suspends threads with it for JFR's sampler; a handler there
        // silently breaks profiling (measured: no execution samples at all).
        signals.install(this::handleUrgent, "INT", "TERM", "HUP", "USR1", "XCPU");
        if (config.httpEnable() && !config.stopAfterInit()) {
            httpSpawn();
        }
        PidFile.write(config.pidfile());
        // served from before the registries load: a long load is something to watch
        try (MetricsServer metrics = config.stopAfterInit() ? null : serveOwnMetrics()) {
            int preloaded = preload.getAsInt();
            if (config.stopAfterInit()) {
                stop();
                return preloaded;
            }
            cron.start();
            application.health().started();
            serving();
            loop(TICK, List.of(step("limits", this::processLimits)));
            stop();
        }
        return 0;
    }

    private void httpSpawn() {
        try {
            ListenSocket socket = ListenSocket.open(config.httpInterface(), config.httpPort(), System.getenv());
            http = new HttpService(socket, application);
            http.start();
            String where = socket.address().getHostString() + ":" + socket.address().getPort();
            control = openControl(socket.address().getPort(), application, "threaded", cron::runnersRunning);
            switch (socket.origin()) {
                case SYSTEMD -> LOG.info("HTTP service (Jetty) running through socket activation on {}", where);
                case INHERITED -> LOG.info("HTTP service (Jetty) running on {} (socket kept across the restart)", where);
                case BOUND -> LOG.info("HTTP service (Jetty) running on {}", where);
            }
        } catch (IOException e) {
            throw KilnException.failure("HTTP service: cannot listen on " + config.httpInterface() + ":"
                    + config.httpPort() + " (" + e.getMessage() + "); is another server there? see --http-port");
        } catch (Exception e) {
            throw new KilnException(KilnException.FAILURE, "HTTP service did not start: " + e, e);
        }
    }

    /** Runs on the JVM's signal thread for what cannot wait for the loop; false queues the signal. */
    private boolean handleUrgent(String signal) {
        switch (signal) {
            case "INT", "TERM" -> {
                forceOnSecondStop(signal);
                return false;
            }
            case "XCPU" -> {
                System.err.println("CPU time limit exceeded! Shutting down immediately");
                PidFile.remove(config.pidfile());
                Runtime.getRuntime().halt(1);
                return true;
            }
            default -> {
                return false;
            }
        }
    }

    @Override
    protected String statusLine() {
        return "threaded: " + application.requestsServed() + " requests served, " + application.requestsInFlight() + " in flight";
    }

    @Override
    protected Health health() {
        return application.health();
    }

    @Override
    protected void statistics() {
        logStatistics(application.requestsServed(), application.requestsInFlight());
    }

    /**
     * Odoo's process_limit for the threaded mode: RSS over limit_memory_soft, or a request over
     * limit_time_real, asks for a restart once no other request runs (or after a minute).
     * RSS over limit_memory_hard restarts at once.
     */
    private void processLimits() {
        long rss = Proc.rss();
        Set<Limit> reached = limits.reached(Usage.ofProcess(application.requestsServed(), 0, rss));
        if (reached.contains(Limit.MEMORY_HARD)) {
            LOG.error("Limit limit_memory_hard reached: RSS {} bytes > {} bytes; restarting now", rss,
                    limits.threshold(Limit.MEMORY_HARD));
            application.inFlight().forEach(r -> overLimit.add(r.id()));
            KilnMetrics.limitReached("limit_memory_hard");
            restartInPlace("limit_memory_hard");
            return;
        }
        if (limitReachedNanos < 0 && reached.contains(Limit.MEMORY_SOFT)) {
            LOG.warn("Limit limit_memory_soft reached: RSS {} bytes > {} bytes; restarting once the requests in flight are done",
                    rss, limits.threshold(Limit.MEMORY_SOFT));
            limitReachedNanos = System.nanoTime();
            KilnMetrics.limitReached("limit_memory_soft");
        }
        for (InFlightRequest request : application.inFlight()) {
            long age = Duration.ofMillis(request.elapsedMillis()).toNanos();
            if (limits.reached(Usage.ofRequest(0, age)).contains(Limit.TIME_REAL) && overLimit.add(request.id())) {
                LOG.warn("Limit limit_time_real reached: request {} on {} running {} s > {} s; its stack:\n{}",
                        request.method() + " " + request.path(), request.thread(), request.elapsedMillis() / 1000,
                        limits.threshold(Limit.TIME_REAL), ThreadStacks.of(request.thread()));
                KilnMetrics.limitReached("limit_time_real");
                if (limitReachedNanos < 0) {
                    limitReachedNanos = System.nanoTime();
                }
            }
        }
        if (limitReachedNanos >= 0) {
            boolean othersRunning = application.inFlight().stream().anyMatch(r -> !overLimit.contains(r.id()));
            if (!othersRunning || System.nanoTime() - limitReachedNanos > LIMIT_GRACE.toNanos()) {
                restartInPlace("limit reached");
            }
        }
    }

    private void stop() {
        stopping = true;
        cron.stopStarting();          // no job starts any more; those running finish meanwhile
        endLongPolls.run();
        if (http != null) {
            LOG.info("Stopping the HTTP service: no new connections, serving those accepted");
            boolean clean = http.drain(stopTimeout(), Set.copyOf(overLimit), () -> !phoenix);
            LOG.info(clean ? "HTTP service stopped" : "HTTP service stopped; requests were cut short");
        }
        long cronStop = System.nanoTime();
        if (!cron.stop(stopTimeout())) {
            LOG.warn("Cron: a job was still running at the stop timeout; its transaction is rolled back");
        }
        noteRestartStep("stopping the cron runners", cronStop);
        if (control != null) {
            control.close();
        }
        if (!phoenix) {
            PidFile.remove(config.pidfile());
        }
    }
}
