package dev.kiln.server;

import dev.kiln.config.Config;
import dev.kiln.http.Health;
import dev.kiln.http.HttpFrontDoor;
import dev.kiln.http.InFlightRequest;
import dev.kiln.metrics.KilnMetrics;
import dev.kiln.os.Proc;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryUsage;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntSupplier;

/** What every server mode shares: its configuration, the signal queue, the phoenix flag, statistics. */
public abstract class CommonServer {

    private static final Logger LOG = LoggerFactory.getLogger(CommonServer.class);
    /** A step of the in-place restart's stop slower than this is logged. */
    private static final long SLOW_STEP_NANOS = 1_000_000_000L;
    private static final long MIB = 1024 * 1024;
    private static final Duration STATUS_EVERY = Duration.ofSeconds(10);

    protected final Config config;
    protected final SignalQueue signals = new SignalQueue();
    /** systemd's notify socket: does nothing unless systemd started this process with Type=notify. */
    protected final SystemdNotify systemd = SystemdNotify.of(System.getenv());
    private long statusSentNanos = System.nanoTime();
    protected final long startNanos = System.nanoTime();
    /** Set when the process must exec itself again once stopped (HUP, limits). */
    protected volatile boolean phoenix;
    /** Set once the graceful stop began (of a restart, or for good). */
    protected volatile boolean stopping;
    /** Set to end {@link #loop}. */
    protected volatile boolean quit;
    private final AtomicInteger stopSignals = new AtomicInteger();
    /** Whether TERM/INT began a shutdown delay, and when it ends ({@link System#nanoTime}). */
    private boolean delayingStop;
    private long stopAtNanos;
    /** Runs once this image first serves; see {@link #whenServing}. */
    private volatile Runnable onceServing = () -> { };

    protected CommonServer(Config config) {
        this.config = config;
    }

    /** Serves until told to stop; returns the exit code. {@link #phoenix()} then says whether to re-exec. */
    public abstract int run();

    /**
     * For INT and TERM on the JVM's signal thread: the second one exits at once, the pidfile
     * removed (Odoo's "Forced shutdown"); the first is left to the loop's graceful stop, and one
     * that comes while a restart's stop is under way turns the restart into a stop.
     */
    protected void forceOnSecondStop(String signal) {
        if (stopSignals.incrementAndGet() > 1) {
            System.err.println("Forced shutdown.");
            PidFile.remove(config.pidfile());
            Runtime.getRuntime().halt(0);
        }
        if (stopping && phoenix) {
            phoenix = false;
            LOG.info("SIG{} during the restart: stopping instead", signal);
        }
    }

    /**
     * Runs this process's {@link ServerLoop} until {@link #quit}: each queued signal goes to
     * {@link #handle}, then {@code steps} run in order, at least every {@code tick}.
     */
    protected final void loop(Duration tick, List<ServerLoop.Step> steps) {
        List<ServerLoop.Step> all = new ArrayList<>();
        all.add(ServerLoop.step("health", this::beatAndAwaitStop));
        all.addAll(steps);
        new ServerLoop(getClass().getSimpleName(), signals, tick, this::handle, all).run(() -> quit);
    }

    /** What the probes answer about this process; null where no front door answers them (the prefork master). */
    protected Health health() {
        return null;
    }

    /** The loop's first step: the liveness probe's and systemd's watchdog, a status now and then, and the end of shutdown_delay. */
    private void beatAndAwaitStop() {
        Health health = health();
        if (health != null) {
            health.beat();
        }
        systemd.watchdog();
        if (System.nanoTime() - statusSentNanos > STATUS_EVERY.toNanos()) {
            statusSentNanos = System.nanoTime();
            systemd.status(statusLine());
        }
        if (delayingStop && System.nanoTime() - stopAtNanos >= 0) {
            LOG.info("Shutdown delay over: stopping");
            quit = true;
        }
    }

    /**
     * TERM/INT: not ready from now on, then the graceful stop, at once or after
     * {@code shutdown_delay} seconds of serving on (a load balancer polling the readiness probe takes
     * the server out meanwhile, so its clients never meet a closed port).
     */
    protected void beginStop(String signal) {
        announceDraining();
        systemd.stopping("stopping (SIG" + signal + ")");
        int delay = config.shutdownDelay();
        if (delay > 0) {
            if (!delayingStop) {
                LOG.info("Initiating shutdown (SIG{}): not ready from now, serving {} s more (--shutdown-delay); send it again"
                        + " to force the shutdown", signal, delay);
                delayingStop = true;
                stopAtNanos = System.nanoTime() + Duration.ofSeconds(delay).toNanos();
            }
            return;
        }
        LOG.info("Initiating shutdown (SIG{}); send it again to force the shutdown", signal);
        quit = true;
    }

    /** Says this process is draining: its readiness probe answers 503 from now on. */
    protected void announceDraining() {
        Health health = health();
        if (health != null) {
            health.draining();
        }
    }

    /**
     * A queued signal, for {@link #loop}: what a one-process server (threaded,
     * evented) does with it. INT/TERM stop gracefully, HUP and an addon change ({@code --dev=reload})
     * restart in place, USR1 logs {@link #statistics}.
     */
    protected void handle(String signal) {
        switch (signal) {
            case "INT", "TERM" -> beginStop(signal);
            case "HUP" -> restartInPlace("SIGHUP");
            case SignalQueue.ADDONS_CHANGED -> restartInPlace("--dev=reload: addons changed");
            case "USR1" -> statistics();
            default -> LOG.debug("Ignoring SIG{}", signal);
        }
    }

    /** Ends {@link #loop} for a graceful stop followed by an exec of the same command line (phoenix). */
    protected void restartInPlace(String why) {
        announceDraining();
        systemd.reloading("restarting in place (" + why + ")");
        LOG.info("Restarting in place ({}): graceful stop, then re-exec", why);
        phoenix = true;
        quit = true;
    }

    /** systemd's STATUS line: the mode and what it served. */
    protected String statusLine() {
        return getClass().getSimpleName();
    }

    /** What USR1 logs. */
    protected void statistics() {
        logStatistics(0, 0);
    }

    public boolean phoenix() {
        return phoenix;
    }

    /**
     * Says, during an in-place restart, that a step of letting go (begun at {@code startNanos}) held
     * the restart up, while new connections wait in the kernel's queue: which step, how long.
     */
    void noteRestartStep(String step, long startNanos) {
        long nanos = System.nanoTime() - startNanos;
        if (phoenix && nanos >= SLOW_STEP_NANOS) {
            LOG.warn("In-place restart: {} took {} ms", step, nanos / 1_000_000);
        }
    }

    /** {@code action} runs once, when this image first serves: after its start, not competing with it. */
    public void whenServing(Runnable action) {
        onceServing = action;
    }

    /** This image serves: systemd hears {@code READY=1}, and what waited for it runs (the first time only). */
    protected void serving() {
        systemd.ready(statusLine());
        Runnable action = onceServing;
        onceServing = () -> { };
        action.run();
    }

    /** {@code --dev=reload}: the addons changed; the loop reloads them as on HUP. Any thread may call it. */
    public void addonsChanged() {
        signals.addonsChanged();
    }

    /**
     * Serves this process's own metrics on {@code metrics_port} until the returned server is closed
     * (before a re-exec: the new image listens again); null when metrics are off.
     */
    protected MetricsServer serveOwnMetrics() {
        KilnMetrics metrics = KilnMetrics.get();
        return metrics == null ? null : MetricsServer.start(config, metrics.registry()::scrape);
    }

    /**
     * The control socket of a one-process server ({@code kiln ctl}) on its HTTP {@code port}: its
     * status, every request in flight, its stacks, reload; null when it cannot be opened (logged).
     */
    protected StatusSocket openControl(int port, HttpFrontDoor application, String mode, IntSupplier cronRunners) {
        Control.Server view = new Control.Server() {
            @Override
            public String status() {
                return WorkerProcess.STATUS_HEADER + WorkerProcess.statusLine(ProcessHandle.current().pid(), mode, 1, startNanos,
                        Long.toString(application.requestsServed()), Proc.rss(), application.inFlight().stream()
                                .max(Comparator.comparingLong(InFlightRequest::elapsedMillis))
                                .map(r -> r.method() + " " + r.path() + " (" + r.elapsedMillis() + " ms)").orElse("-"));
            }

            @Override
            public String statusJson() {
                return Control.json(Map.of("mode", mode, "pid", ProcessHandle.current().pid(), "served", application.requestsServed(),
                        "in_flight", application.requestsInFlight(), "rss", Proc.rss(), "cron_runners", cronRunners.getAsInt()));
            }

            @Override
            public String requests() {
                StringBuilder text = new StringBuilder("AGE(ms)   REQUEST\n");
                application.inFlight().stream().sorted(Comparator.comparingLong(InFlightRequest::elapsedMillis).reversed())
                        .forEach(r -> text.append(String.format("%-9d %s %s%n", r.elapsedMillis(), r.method(), r.path())));
                return text.toString();
            }

            @Override
            public List<Long> workerPids() {
                return List.of();
            }

            @Override
            public boolean prefork() {
                return false;
            }
        };
        return StatusSocket.open(config, port, new Control(view, signals)::answer);
    }

    /** How long a graceful stop waits for requests: no request may legitimately outlive limit_time_real. */
    protected Duration stopTimeout() {
        return Limits.stopTimeout(config);
    }

    protected void logStatistics(long served, int inFlight) {
        MemoryUsage heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage();
        LOG.info("Statistics: uptime {} s, requests served {}, in flight {}, threads {}, heap {}/{} MiB (max {}), RSS {} MiB",
                Duration.ofNanos(System.nanoTime() - startNanos).toSeconds(), served, inFlight,
                ManagementFactory.getThreadMXBean().getThreadCount(), heap.getUsed() / MIB, heap.getCommitted() / MIB,
                heap.getMax() / MIB, Proc.rss() / MIB);
    }
}
