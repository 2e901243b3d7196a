package dev.kiln.server;

import dev.kiln.config.Config;
import dev.kiln.failure.KilnException;
import dev.kiln.http.HttpFrontDoor;
import dev.kiln.http.InFlightRequest;
import dev.kiln.logging.ThreadStacks;
import dev.kiln.metrics.KilnMetrics;
import dev.kiln.os.ListenSocket;
import dev.kiln.os.Proc;
import dev.kiln.server.Limits.Limit;
import dev.kiln.server.Limits.Usage;
import dev.kiln.server.WorkerMessage.InFlight;
import dev.kiln.server.WorkerMessage.Ready;
import dev.kiln.server.WorkerMessage.Recycle;
import dev.kiln.server.WorkerMessage.State;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

import static dev.kiln.server.ServerLoop.step;

/**
 * One HTTP worker of the prefork server, Odoo's {@code WorkerHTTP}: a JVM the master started with
 * the listening socket on fd 0, accepting from the same kernel queue as its siblings. It tells the
 * master it is ready, and then its state every second, on its {@link WorkerChannel}; stops gracefully on TERM or INT
 * (stop accepting, finish the requests in flight; on INT, the server's stop, also serve what the
 * kernel queued and release the socket), and stops by itself when its master is gone, so no
 * worker outlives a master killed with SIGKILL.
 */
public final class HttpWorker extends PreforkWorker {

    /** Exit code of a worker that could not boot: the master stops instead of respawning it. */
    public static final int BOOT_FAILURE = 3;

    private static final Logger LOG = LoggerFactory.getLogger(HttpWorker.class);

    private final Runnable endLongPolls;
    private final boolean evented;
    private final HttpFrontDoor application;
    private final Limits limits;
    private final Set<Long> overTime = new HashSet<>();
    private final Set<Long> overCpu = new HashSet<>();
    /** limit_time_cpu's estimate: nanoseconds each request in flight was found running, and when it was last looked at. */
    private final Map<Long, Long> runningNanos = new HashMap<>();
    private long sampledNanos = System.nanoTime();
    private volatile boolean serverStops;
    private boolean recycling;

    /**
     * @param endLongPolls stops the bus: pending long polls answer at once, so the stop does not wait for them
     * @param evented the evented worker (Odoo's gevent process) on gevent_port: its connections are
     *                long-lived (long polls, websockets), so only the memory limits apply to it
     */
    public HttpWorker(Config config, HttpFrontDoor application, WorkerChannel.Link toMaster, Runnable endLongPolls,
                      boolean evented) {
        super(config, toMaster);
        this.application = application;
        this.endLongPolls = endLongPolls;
        this.evented = evented;
        this.limits = Limits.worker(config, evented);
    }

    @Override
    public int run() {
        // HUP belongs to the master (a terminal's hangup reaches the whole group): ignored here.
        // INT means the whole server stops (the master's stop, or Ctrl-C on the group): this worker
        // may be the socket's last holder. TERM retires this worker alone.
        signals.reclaimInterrupt();
        signals.install(signal -> {
            if ("INT".equals(signal)) {
                serverStops = true;
            }
            return false;
        }, "INT", "TERM", "HUP", "USR1", "WINCH");
        HttpService http;
        ListenSocket socket;
        try {
            socket = ListenSocket.open(config.httpInterface(), config.httpPort(), System.getenv());
            if (socket.origin() != ListenSocket.Origin.INHERITED) {
                throw KilnException.failure("a worker must get the master's listening socket on fd 0 ("
                        + ListenSocket.INHERITED_FD_ENV + "=0); 'kiln worker' is started by the prefork master only");
            }
            http = new HttpService(socket, application, evented ? config.workerConnections() : 0);
            http.start();
        } catch (KilnException e) {
            throw new KilnException(BOOT_FAILURE, "worker " + ProcessHandle.current().pid() + " could not boot: " + e.getMessage(), e);
        } catch (Exception e) {
            throw new KilnException(BOOT_FAILURE, "worker " + ProcessHandle.current().pid() + " could not boot: " + e, e);
        }
        application.health().started();
        tell(new Ready(socket.address().getPort()));
        loop(step("limits", this::processLimits), step("state report", this::reportState));
        endLongPolls.run();
        Set<Long> abandoned = new HashSet<>(overTime);
        abandoned.addAll(overCpu);
        boolean clean = http.drain(stopTimeout(), abandoned, () -> serverStops);
        reportMetrics();
        LOG.info(clean ? "Worker stopped" : "Worker stopped; requests were cut short");
        return 0;
    }

    /**
     * Odoo's limits for a worker, checked once a second. A limit reached asks the master for a
     * replacement (the worker serves on until the master retires it). limit_memory_hard is the
     * master's: it kills the worker as soon as the RSS it reports is over it. CPU time is the
     * request's thread's, sampled.
     */
    private void processLimits() {
        long rss = Proc.rss();
        long served = application.requestsServed();
        long sockets = application.busSockets() == null ? 0 : application.busSockets().openSockets();
        Set<Limit> reached = limits.reached(Usage.ofProcess(served, sockets, rss));
        if (reached.contains(Limit.MEMORY_SOFT)) {
            recycle("limit_memory_soft", "RSS " + rss + " bytes > " + limits.threshold(Limit.MEMORY_SOFT) + " bytes");
        }
        if (reached.contains(Limit.REQUEST)) {
            recycle("limit_request", served + " requests served >= " + limits.threshold(Limit.REQUEST));
        }
        for (InFlightRequest request : application.inFlight()) {
            long age = Duration.ofMillis(request.elapsedMillis()).toNanos();
            if (limits.reached(Usage.ofRequest(0, age)).contains(Limit.TIME_REAL) && overTime.add(request.id())) {
                LOG.warn("Worker {}: limit limit_time_real reached: request {} {} on {} running {} s > {} s; its stack:\n{}",
                        ProcessHandle.current().pid(), request.method(), request.path(), request.thread(),
                        request.elapsedMillis() / 1000, limits.threshold(Limit.TIME_REAL), ThreadStacks.of(request.thread()));
                recycle("limit_time_real", request.method() + " " + request.path());
            }
        }
        processCpuLimit();
    }

    /**
     * limit_time_cpu on virtual threads, whose CPU time the JVM does not report: once a second each
     * request's thread is sampled, and a thread found running (RUNNABLE: computing, not parked on
     * I/O, a lock or a sleep) is counted as having run since the last sample (or since its start).
     * A request busy computing is thus caught within a second or two of its limit; one waiting on
     * the database is not counted. Platform threads would give the exact figure, at a measured
     * 10–25% of a worker's throughput.
     */
    private void processCpuLimit() {
        long now = System.nanoTime();
        long since = sampledNanos;
        sampledNanos = now;
        if (!limits.enforces(Limit.TIME_CPU)) {
            return;
        }
        Map<Long, Long> still = new HashMap<>();
        for (InFlightRequest request : application.inFlight()) {
            long used = runningNanos.getOrDefault(request.id(), 0L);
            if (request.thread().getState() == Thread.State.RUNNABLE) {
                used += now - Math.max(since, request.startNanos());
            }
            still.put(request.id(), used);
            if (limits.reached(Usage.ofRequest(used, 0)).contains(Limit.TIME_CPU) && overCpu.add(request.id())) {
                abortOverCpu(request, used);
            }
        }
        runningNanos.clear();
        runningNanos.putAll(still);
    }

    /**
     * Odoo's limit_time_cpu, where the worker's request fails and the worker exits: the client gets a
     * 500 and the request's thread is interrupted (unless its response had begun: a response is
     * written by its handler or by the worker, never both), and the worker is replaced; the thread
     * is not waited for when the worker stops. One line, with the thread's stack.
     */
    private void abortOverCpu(InFlightRequest request, long usedNanos) {
        String stack = ThreadStacks.of(request.thread());
        boolean answered = application.abort(request, "CPU time limit exceeded");
        boolean asked = askForReplacement("limit_time_cpu");
        LOG.warn("Worker {}: limit limit_time_cpu reached: request {} {} on {} ran {} s on the CPU (sampled) > {} s; {}{}; its stack:\n{}",
                ProcessHandle.current().pid(), request.method(), request.path(), request.thread(),
                String.format(Locale.ROOT, "%.1f", usedNanos / 1e9), limits.threshold(Limit.TIME_CPU),
                answered ? "answered 500 and its thread interrupted" : "its response had begun: left to finish",
                asked ? "; a replacement is asked for" : "", stack);
    }

    private void reportState() {
        List<InFlightRequest> inFlight = application.inFlight().stream()
                .sorted(Comparator.comparingLong(InFlightRequest::elapsedMillis).reversed()).toList();
        InFlightRequest oldest = inFlight.isEmpty() ? null : inFlight.getFirst();
        tell(new State(application.requestsServed(), application.requestsInFlight(), Proc.rss(),
                oldest == null ? 0 : oldest.elapsedMillis(), oldest == null ? "" : oldest.method() + " " + oldest.path()));
        tell(new InFlight(inFlight.stream().limit(InFlight.MAX)
                .map(r -> new InFlight.Entry(r.elapsedMillis(), r.method() + " " + r.path())).toList()));
    }

    /** Asks the master, once, for a replacement, and says so. */
    private void recycle(String limit, String detail) {
        if (askForReplacement(limit)) {
            LOG.info("Worker {}: limit {} reached ({}): a replacement is asked for; this worker serves until it is ready",
                    ProcessHandle.current().pid(), limit, detail);
        }
    }

    /** Asks the master for a replacement unless asked already; returns whether it asked now. */
    private boolean askForReplacement(String limit) {
        if (recycling) {
            return false;
        }
        recycling = true;
        KilnMetrics.limitReached(limit);
        // the master starts a replacement, and retires this worker (TERM) once it is ready: capacity never dips
        tell(new Recycle(limit));
        return true;
    }


    @Override
    protected void handle(String signal) {
        switch (signal) {
            case "INT" -> {
                application.health().draining();
                quit = true;
            }
            case "TERM" -> quit = true;       // retired alone: the server is as ready as ever
            case "WINCH" -> application.health().draining();      // the master's shutdown delay began
            case "USR1" -> logStatistics(application.requestsServed(), application.requestsInFlight());
            default -> LOG.debug("Worker: ignoring SIG{}", signal);
        }
    }
}
