package dev.kiln.server;

import dev.kiln.KilnException;
import dev.kiln.config.Config;
import dev.kiln.http.HttpFrontDoor;
import dev.kiln.http.InFlightRequest;
import dev.kiln.os.ListenSocket;
import dev.kiln.os.Proc;
import dev.kiln.logging.ThreadStacks;
import dev.kiln.server.WorkerMessage.Ready;
import dev.kiln.server.WorkerMessage.Recycle;
import dev.kiln.server.WorkerMessage.State;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.Set;

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
    private static final Duration TICK = Duration.ofSeconds(1);

    private final Runnable endLongPolls;
    private final boolean evented;
    private final HttpFrontDoor application;
    private final long requestLimit;
    private final java.util.Set<Long> overTime = new java.util.HashSet<>();
    private final java.util.Set<Long> overCpu = new java.util.HashSet<>();
    /** limit_time_cpu's estimate: nanoseconds each request in flight was found running, and when it was last looked at. */
    private final java.util.Map<Long, Long> runningNanos = new java.util.HashMap<>();
    private long sampledNanos = System.nanoTime();
    private volatile boolean serverStops;
    private boolean recycling;

    /** @param endLongPolls stops the bus: pending long polls answer at once, so the stop does not wait for them */
    /**
     * @param evented the evented worker (Odoo's gevent process) on gevent_port: its connections are
     *                long-lived (long polls, websockets), so only the memory limits apply to it
     */
    public HttpWorker(Config config, HttpFrontDoor application, WorkerChannel.Link toMaster, Runnable endLongPolls,
                      boolean evented) {
        super(config, toMaster);
        this.application = application;
        this.endLongPolls = endLongPolls;
        this.evented = evented;
        // Odoo's limit_request, with a jitter of up to a tenth so that workers do not all go together
        this.requestLimit = config.limitRequest()
                + java.util.concurrent.ThreadLocalRandom.current().nextLong(config.limitRequest() / 10 + 1);
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
        }, "INT", "TERM", "HUP", "USR1");
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
        tell(new Ready(socket.address().getPort()));
        try {
            while (!quit) {
                String signal = signals.poll(TICK);
                if (signal != null) {
                    handle(signal);
                }
                if (masterGone()) {
                    quit = true;
                }
                processLimits();
                reportState();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        endLongPolls.run();
        Set<Long> abandoned = new java.util.HashSet<>(overTime);
        abandoned.addAll(overCpu);
        boolean clean = http.drain(stopTimeout(), abandoned, () -> serverStops);
        LOG.info(clean ? "Worker stopped" : "Worker stopped; requests were cut short");
        return 0;
    }

    /**
     * Odoo's limits for a worker, checked once a second. A limit reached asks the master for a
     * replacement (the worker serves on until the master retires it). limit_memory_hard is the
     * master's: it kills the worker as soon as the RSS it reports is over it. Memory is RSS, not address space; CPU time is the request's thread's, sampled.
     */
    @Override
    protected void processLimits() {
        long rss = Proc.rss();
        long served = application.requestsServed();
        // not for a worker that has served nothing yet (its replacement would start as big): websockets count
        boolean inUse = served > 0 || (application.busSockets() != null && application.busSockets().openSockets() > 0);
        if (config.limitMemorySoft() > 0 && rss > config.limitMemorySoft() && inUse) {
            recycle("limit_memory_soft", "RSS " + rss + " bytes > " + config.limitMemorySoft() + " bytes");
        }
        if (evented) {
            return;                    // long polls and websockets: no request count or time limits
        }
        if (served >= requestLimit) {
            recycle("limit_request", served + " requests served >= " + requestLimit);
        }
        if (config.limitTimeReal() > 0) {
            for (InFlightRequest request : application.inFlight()) {
                if (request.elapsedMillis() > config.limitTimeReal() * 1000L && overTime.add(request.id())) {
                    LOG.warn("Worker {}: limit limit_time_real reached: request {} {} on {} running {} s > {} s; its stack:\n{}",
                            ProcessHandle.current().pid(), request.method(), request.path(), request.thread(),
                            request.elapsedMillis() / 1000, config.limitTimeReal(), ThreadStacks.of(request.thread()));
                    recycle("limit_time_real", request.method() + " " + request.path());
                }
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
        if (config.limitTimeCpu() <= 0) {
            return;
        }
        long limitNanos = config.limitTimeCpu() * 1_000_000_000L;
        java.util.Map<Long, Long> still = new java.util.HashMap<>();
        for (InFlightRequest request : application.inFlight()) {
            long used = runningNanos.getOrDefault(request.id(), 0L);
            if (request.thread().getState() == Thread.State.RUNNABLE) {
                used += now - Math.max(since, request.startNanos());
            }
            still.put(request.id(), used);
            if (used > limitNanos && overCpu.add(request.id())) {
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
                String.format(java.util.Locale.ROOT, "%.1f", usedNanos / 1e9), config.limitTimeCpu(),
                answered ? "answered 500 and its thread interrupted" : "its response had begun: left to finish",
                asked ? "; a replacement is asked for" : "", stack);
    }

    private void reportState() {
        InFlightRequest oldest = application.inFlight().stream()
                .max(java.util.Comparator.comparingLong(InFlightRequest::elapsedMillis)).orElse(null);
        tell(new State(application.requestsServed(), application.requestsInFlight(), Proc.rss(),
                oldest == null ? 0 : oldest.elapsedMillis(), oldest == null ? "" : oldest.method() + " " + oldest.path()));
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
        // the master starts a replacement, and retires this worker (TERM) once it is ready: capacity never dips
        tell(new Recycle(limit));
        return true;
    }


    @Override
    protected void handle(String signal) {
        switch (signal) {
            case "INT", "TERM" -> quit = true;
            case "USR1" -> logStatistics(application.requestsServed(), application.requestsInFlight());
            default -> LOG.debug("Worker: ignoring SIG{}", signal);
        }
    }
}
