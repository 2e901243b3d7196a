package dev.kiln.server;

import dev.kiln.config.Config;
import dev.kiln.failure.KilnException;
import dev.kiln.metrics.KilnMetrics;
import dev.kiln.metrics.MergedMetrics;
import dev.kiln.os.Fds;
import dev.kiln.os.ListenSocket;
import dev.kiln.os.Proc;
import dev.kiln.server.Limits.Limit;
import dev.kiln.server.Limits.Usage;
import dev.kiln.server.WorkerChannel.Heard;
import dev.kiln.server.WorkerMessage.Hello;
import dev.kiln.server.WorkerMessage.InFlight;
import dev.kiln.server.WorkerMessage.Metrics;
import dev.kiln.server.WorkerMessage.Ready;
import dev.kiln.server.WorkerMessage.Recycle;
import dev.kiln.server.WorkerMessage.State;
import dev.kiln.server.WorkerProcess.Kind;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntSupplier;
import java.util.stream.Collectors;

import static dev.kiln.server.ServerLoop.step;

/**
 * The prefork mode ({@code --workers N > 0}), Odoo's {@code PreforkServer} and gunicorn's arbiter:
 * a master that never serves requests holds the listening socket on fd 0 and keeps N HTTP worker
 * JVMs ({@code kiln worker http}) accepting from it, and {@code --max-cron-threads} cron worker JVMs
 * ({@code kiln worker cron}, one runner each). Workers report on a {@link WorkerChannel}; their
 * standard output is only logged. Its {@link ServerLoop}: act on a queued signal, then hear the
 * workers' messages, reap dead workers, advance a reload ({@link Reload}), kill workers over a
 * limit or silent ({@link Limits#watchdog}), replace those that asked, spawn to the target count,
 * sleep at most a second (a worker that becomes ready, asks to be replaced or exits wakes it).
 * TERM/INT stop the workers gracefully (a second one kills them), HUP replaces them with a new
 * generation (new ones first, each old one retired once a new one is ready; new ones that cannot
 * boot are given up and the old ones serve on), TTIN/TTOU add or retire one. A worker that cannot
 * boot at start (exit code 3) stops the master with that code instead of a respawn loop; workers
 * that keep dying are respawned no faster than once a second.
 *
 * <p>At about 520 lines it is the master's whole lifecycle on one page of methods, as gunicorn's
 * arbiter is: the worker's own side lives in {@link WorkerProcess}, the limits in {@link Limits},
 * the reload's state in {@link Reload}; splitting the handlers further would scatter one loop's
 * state across classes.
 */
public final class PreforkServer extends CommonServer {

    private static final Logger LOG = LoggerFactory.getLogger(PreforkServer.class);
    private static final Duration TICK = Duration.ofSeconds(1);
    /** How long a worker of a new generation may take to say it is ready before the reload is given up. */
    private static final Duration BOOT_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration RESPAWN_PAUSE = Duration.ofSeconds(1);
    /** How long past its stop timeout a retiring worker may take to exit before it is killed. */
    private static final Duration RETIRE_GRACE = Duration.ofSeconds(10);

    private final IntSupplier preload;
    private final Limits limits;
    private final List<WorkerProcess> workers = new CopyOnWriteArrayList<>();
    private final AtomicInteger quitSignals = new AtomicInteger();
    private final AtomicInteger nextId = new AtomicInteger();
    private int target;
    private final int cronTarget;
    /** Written by the loop only; volatile for {@code kiln status}, which prints its generation. */
    private volatile Reload<WorkerProcess> reload = Reload.first();
    private long lastDeathNanos;
    private int bootFailure;
    /** Whether systemd heard READY=1 for the first generation. */
    private boolean announced;
    /** The evented worker's listening socket (gevent_port), kept by the master off fd 0; -1 when none. */
    private int geventFd = -1;
    /** The port of {@link #geventFd}: gevent_port, or the kernel's choice when that is 0. */
    private int geventPort;
    private WorkerChannel channel;
    /** The whole server's metrics, the workers' merged in; null when metrics are off. */
    private MergedMetrics metrics;

    /** @param preload creates and loads the {@code -d} databases before any worker starts */
    public PreforkServer(Config config, IntSupplier preload) {
        super(config);
        this.preload = preload;
        this.limits = Limits.watchdog(config);
        this.target = config.workers();
        this.cronTarget = config.maxCronThreads();
    }

    @Override
    public int run() {
        signals.install(this::handleUrgent, "INT", "TERM", "HUP", "USR1", "TTIN", "TTOU");
        signals.passInterruptToWorkers();
        ListenSocket socket;
        try {
            socket = ListenSocket.open(config.httpInterface(), config.httpPort(), System.getenv());
        } catch (IOException e) {
            throw KilnException.failure("prefork master: cannot listen on " + config.httpInterface() + ":"
                    + config.httpPort() + " (" + e.getMessage() + "); is another server there? see --http-port");
        }
        try {
            ListenSocket.BoundFd gevent = ListenSocket.bindFd(config.httpInterface(), config.geventPort());
            geventFd = gevent.fd();
            geventPort = gevent.port();
        } catch (IOException e) {
            throw KilnException.failure("prefork master: cannot listen on " + config.httpInterface() + ":"
                    + config.geventPort() + " for the evented worker (" + e.getMessage() + "); see --gevent-port");
        }
        PidFile.write(config.pidfile());
        StatusSocket status = StatusSocket.open(config, socket.address().getPort(), new Control(controlView(), signals)::answer);
        KilnMetrics own = config.stopAfterInit() ? null : KilnMetrics.get();
        MetricsServer metricsServer = null;
        if (own != null) {
            metrics = new MergedMetrics(own.registry()::scrape);
            own.countWorkers(() -> workers.stream().collect(Collectors.groupingBy(
                    w -> List.of(w.kind.name().toLowerCase(Locale.ROOT), String.valueOf(w.generation)), Collectors.counting())));
            metricsServer = MetricsServer.start(config, metrics::collect);      // from before the registries load
        }
        int preloaded = preload.getAsInt();
        if (config.stopAfterInit()) {
            if (status != null) {
                status.close();
            }
            PidFile.remove(config.pidfile());
            return preloaded;
        }
        try {
            channel = WorkerChannel.open(signals::wake, metrics);
        } catch (IOException e) {
            throw KilnException.failure("prefork master: cannot open the workers' channel in "
                    + System.getProperty("java.io.tmpdir") + " (" + e.getMessage() + ")");
        }
        LOG.info("Prefork master on {}:{}: {} HTTP worker{}, {} cron worker{}, the evented worker on port {}",
                socket.address().getHostString(), socket.address().getPort(), target, target == 1 ? "" : "s", cronTarget,
                cronTarget == 1 ? "" : "s", geventPort);
        loop(TICK, List.of(
                step("hear", this::hear),
                step("reap", this::reap),
                step("reload", this::advanceReload),
                step("watchdog", this::killOverLimit),
                step("recycle", this::replaceRecycled),
                step("spawn", this::spawnMissing)));
        // the workers are now the sockets' only holders: the last to stop serves what the kernel queued
        ListenSocket.release();
        if (geventFd >= 0) {
            Fds.close(geventFd);
        }
        stopWorkers();
        channel.close();
        if (metricsServer != null) {
            metricsServer.close();
        }
        if (status != null) {
            status.close();
        }
        PidFile.remove(config.pidfile());
        return bootFailure != 0 ? bootFailure : 0;
    }

    /** Runs on the JVM's signal thread: a second INT/TERM kills the workers and exits at once. */
    private boolean handleUrgent(String signal) {
        if (("INT".equals(signal) || "TERM".equals(signal)) && quitSignals.incrementAndGet() > 1) {
            System.err.println("Forced shutdown: killing the workers.");
            workers.forEach(w -> w.process.destroyForcibly());
            PidFile.remove(config.pidfile());
            Runtime.getRuntime().halt(0);
        }
        return false;
    }

    @Override
    protected void handle(String signal) {
        switch (signal) {
            case "INT", "TERM" -> handleTerm(signal);
            case "HUP", SignalQueue.ADDONS_CHANGED -> reload();
            case "TTIN" -> handleTtin();
            case "TTOU" -> handleTtou();
            case "USR1" -> handleUsr1();
            default -> {
                if (signal.startsWith(Control.RETIRE)) {
                    long pid = Long.parseLong(signal.substring(Control.RETIRE.length()));
                    workers.stream().filter(w -> w.pid() == pid && !w.retiring).findFirst()
                            .ifPresent(w -> w.recycle = "kiln ctl retire");      // replaced first, as a worker at a limit
                } else {
                    LOG.debug("Ignoring SIG{}", signal);
                }
            }
        }
    }

    private void handleTerm(String signal) {
        if (config.shutdownDelay() > 0) {
            beginStop(signal);
            return;
        }
        systemd.stopping("stopping (SIG" + signal + ")");
        LOG.info("Initiating shutdown (SIG{}): stopping the workers gracefully; send it again to force it", signal);
        quit = true;
    }

    /** The workers that answer probes (HTTP and evented) answer not ready from now: SIGWINCH tells them. */
    @Override
    protected void announceDraining() {
        workers.stream().filter(w -> w.kind != Kind.CRON).forEach(w -> w.signal("WINCH"));
    }

    private void handleTtin() {
        target++;
        LOG.info("SIGTTIN: {} HTTP workers wanted", target);
    }

    private void handleTtou() {
        if (target > 1) {
            target--;
            LOG.info("SIGTTOU: {} HTTP workers wanted", target);
            active(Kind.HTTP).stream().min(Comparator.comparingLong(w -> w.startedNanos))
                    .ifPresent(w -> retire(w, "SIGTTOU"));
        } else {
            LOG.info("SIGTTOU: already down to one worker");
        }
    }

    private void handleUsr1() {
        logStatistics(0, 0);
        workers.forEach(w -> w.signal("USR1"));
    }

    /** Workers of {@code kind} serving or booting, not being retired. */
    private List<WorkerProcess> active(Kind kind) {
        return workers.stream().filter(w -> w.kind == kind && !w.retiring).toList();
    }

    private int targetOf(Kind kind) {
        return switch (kind) {
            case HTTP -> target;
            case CRON -> cronTarget;
            case EVENTED -> geventFd >= 0 ? 1 : 0;
        };
    }

    /**
     * HUP: a new generation. New workers start next to the old ones, the HTTP workers first and the
     * cron and evented ones once an HTTP worker of the new generation is ready (so the new code
     * serves sooner: fewer JVMs boot at once); the loop retires an old one each time a new one says
     * it is ready ({@link #advanceReload}), so capacity never dips below the target and the loop
     * goes on meanwhile. A HUP during a reload starts another after it.
     */
    private void reload() {
        if (reload.inProgress()) {
            reload = reload.followedByAnother();
            LOG.info("SIGHUP: generation {} is still starting; another reload follows it", reload.generation());
            return;
        }
        int next = reload.nextGeneration();
        systemd.reloading("prefork: starting generation " + next);
        LOG.info("SIGHUP: reloading: starting {} HTTP, {} cron and {} evented workers of generation {}, then retiring the old ones",
                target, cronTarget, targetOf(Kind.EVENTED), next);
        // the HTTP workers first, alone on the CPUs: the new code serves sooner (the others follow, see advanceReload)
        List<WorkerProcess> fresh = new ArrayList<>();
        List<Kind> later = new ArrayList<>();
        for (Kind kind : Kind.values()) {
            for (int i = 0; i < targetOf(kind); i++) {
                if (kind == Kind.HTTP) {
                    fresh.add(spawn(kind, next));
                } else {
                    later.add(kind);
                }
            }
        }
        reload = reload.begin(fresh, later, System.nanoTime() + BOOT_TIMEOUT.toNanos());
    }

    /**
     * One step of a reload in progress: each new worker that is ready retires an old one of its
     * kind. A new worker that exits or is not ready by the deadline ends the reload: the new workers
     * not yet ready are stopped, and the old ones they were to replace serve on.
     */
    private void advanceReload() {
        if (!reload.inProgress()) {
            return;
        }
        if (!reload.deferred().isEmpty() && reload.pending().stream().anyMatch(w -> w.ready)) {
            List<WorkerProcess> started = reload.deferred().stream().map(this::spawn).toList();
            reload = reload.joinedBy(started, System.nanoTime() + BOOT_TIMEOUT.toNanos());
        }
        boolean allReady = reload.deferred().isEmpty();
        for (WorkerProcess w : reload.pending()) {
            if (w.ready) {
                if (!w.tookOver) {
                    w.tookOver = true;
                    workers.stream().filter(old -> old.kind == w.kind && old.generation < w.generation && !old.retiring)
                            .findFirst().ifPresent(old -> retire(old, "reload"));
                }
            } else if (!w.process.isAlive() || reload.overdue(System.nanoTime())) {
                abandonReload(w);
                return;
            } else {
                allReady = false;
            }
        }
        if (!allReady) {
            return;
        }
        int generation = reload.generation();
        workers.stream().filter(old -> old.generation < generation && !old.retiring).forEach(old -> retire(old, "reload"));
        LOG.info("SIGHUP: generation {} serving", generation);
        systemd.ready(statusLine());
        KilnMetrics.reloaded(System.nanoTime() - reload.pending().stream().mapToLong(w -> w.startedNanos).min().orElseThrow());
        boolean again = reload.again();
        reload = reload.finished();
        if (again) {
            reload();
        }
    }

    private void abandonReload(WorkerProcess failed) {
        List<WorkerProcess> unready = reload.pending().stream().filter(w -> !w.ready).toList();
        long serving = workers.stream().filter(w -> w.generation < reload.generation() && !w.retiring).count();
        LOG.error("SIGHUP: {} (pid {}) of generation {} did not become ready ({}); the reload is given up and {} old worker{} serve on",
                failed.name(), failed.pid(), reload.generation(),
                failed.process.isAlive() ? "timed out" : "exit code " + failed.process.exitValue() + "; its log says why",
                serving, serving == 1 ? "" : "s");
        for (WorkerProcess w : unready) {
            workers.remove(w);
            w.process.destroyForcibly();
        }
        reload = reload.abandoned(unready.size() < reload.pending().size());
        systemd.ready(statusLine());
    }

    /**
     * The master's watchdog ({@link Limits#watchdog}): a worker whose reported RSS is over
     * limit_memory_hard is killed; so is one silent for longer than the stop timeout (a worker
     * reports its state every second, even while its requests run: a silent one is frozen, stopped
     * or its JVM stuck), and a retiring worker still there that long after its stop timeout.
     */
    private void killOverLimit() {
        long now = System.nanoTime();
        for (WorkerProcess w : workers) {
            if (w.killed || !w.ready || !w.process.isAlive()) {
                continue;
            }
            long silentNanos = now - w.heardNanos;
            Set<Limit> reached = limits.reached(Usage.ofSilence(w.rss, silentNanos));
            if (reached.contains(Limit.MEMORY_HARD)) {
                LOG.error("{} (pid {}): limit limit_memory_hard reached: RSS {} bytes > {} bytes; killed",
                        w.name(), w.pid(), w.rss, limits.threshold(Limit.MEMORY_HARD));
                KilnMetrics.limitReached("limit_memory_hard");
                kill(w);
            } else if (reached.contains(Limit.TIME_REAL)) {
                LOG.error("{} (pid {}): limit limit_time_real reached: no heartbeat for {} s (> {} s); killed",
                        w.name(), w.pid(), Duration.ofNanos(silentNanos).toSeconds(), limits.threshold(Limit.TIME_REAL));
                KilnMetrics.limitReached("limit_time_real");
                kill(w);
            } else if (w.retiring && now - w.retiredNanos > stopTimeout().plus(RETIRE_GRACE).toNanos()) {
                LOG.error("{} (pid {}) still running {} s after it was retired; killed", w.name(), w.pid(),
                        Duration.ofNanos(now - w.retiredNanos).toSeconds());
                kill(w);
            }
        }
    }

    /** SIGKILL, once: the worker stays in the list until {@link #reap} sees it gone. */
    private static void kill(WorkerProcess worker) {
        worker.killed = true;
        worker.process.destroyForcibly();
    }

    /**
     * A worker that reached a limit gets its replacement first; once the replacement is ready the
     * worker is retired (it finishes its requests), so the count of serving workers never dips.
     */
    private void replaceRecycled() {
        for (WorkerProcess w : workers) {
            if (w.recycle == null || w.retiring) {
                continue;
            }
            if (w.replacement == null || (!w.replacement.process.isAlive() && !w.replacement.ready)) {
                LOG.info("{} (pid {}) reached {}: starting its replacement", w.name(), w.pid(), w.recycle);
                w.replacement = spawn(w.kind);
            } else if (w.replacement.ready) {
                retire(w, w.recycle);
            }
        }
    }

    private void retire(WorkerProcess worker, String why) {
        worker.retiring = true;
        worker.retiredNanos = System.nanoTime();
        LOG.info("Retiring {} (pid {}, {}): it finishes its work and exits", worker.name(), worker.pid(), why);
        worker.signal("TERM");
    }

    private void reap() {
        for (WorkerProcess w : workers) {
            if (w.process.isAlive()) {
                continue;
            }
            workers.remove(w);
            channel.forget(w.id);
            int code = w.process.exitValue();
            KilnMetrics.workerExited(w.kind.name(), w.killed ? "killed" : w.retiring && code == 0 ? "retired"
                    : !w.ready ? "boot_failed" : code == 0 ? "exited" : "died");
            if (w.retiring && code == 0) {
                LOG.info("{} (pid {}) retired", w.name(), w.pid());
            } else if (reload.pending().contains(w)) {
                LOG.warn("{} (pid {}) of generation {} exited while starting (exit code {})", w.name(), w.pid(), w.generation, code);
            } else if (code == HttpWorker.BOOT_FAILURE && !w.ready) {
                LOG.error("{} (pid {}) could not boot (exit code {}; its log says why): stopping the master",
                        w.name(), w.pid(), code);
                bootFailure = HttpWorker.BOOT_FAILURE;
                quit = true;
            } else {
                LOG.warn("{} (pid {}) died (exit code {}); a new one replaces it", w.name(), w.pid(), code);
                lastDeathNanos = System.nanoTime();
            }
        }
    }

    private void spawnMissing() {
        if (lastDeathNanos != 0 && System.nanoTime() - lastDeathNanos < RESPAWN_PAUSE.toNanos()) {
            return;           // a worker just died: a crash loop respawns no faster than this
        }
        for (Kind kind : Kind.values()) {
            while (active(kind).size() < targetOf(kind) && !quit) {
                spawn(kind);
            }
        }
    }

    private WorkerProcess spawn(Kind kind) {
        return spawn(kind, reload.generation());
    }

    /** Starts a worker JVM of {@code generation}; the loop wakes when it exits. */
    private WorkerProcess spawn(Kind kind, int generation) {
        int id = nextId.incrementAndGet();
        if (metrics != null) {
            metrics.admit(id, kind.name().toLowerCase(Locale.ROOT), generation);     // before it can report
        }
        KilnMetrics.workerSpawned(kind.name());
        WorkerProcess worker = WorkerProcess.start(kind, id, generation, config,
                channel.admit(id, WorkerProcess.nameOf(kind, id)), geventFd);
        workers.add(worker);
        worker.process.onExit().thenRun(signals::wake);
        LOG.info("{} (pid {}, generation {}) started", worker.name(), worker.pid(), generation);
        return worker;
    }

    @Override
    protected String statusLine() {
        long served = workers.stream().mapToLong(w -> w.served).sum();
        return "prefork: " + active(Kind.HTTP).size() + " HTTP workers of generation " + reload.generation() + ", "
                + served + " requests served by the live ones";
    }

    /** What {@code kiln ctl} sees of the master. */
    private Control.Server controlView() {
        return new Control.Server() {
            @Override
            public String status() {
                return PreforkServer.this.status();
            }

            @Override
            public String statusJson() {
                return Control.json(Map.of("mode", "prefork", "pid", ProcessHandle.current().pid(), "generation",
                        reload.generation(), "http_workers_wanted", target, "workers",
                        workers.stream().map(WorkerProcess::describe).toList()));
            }

            @Override
            public String requests() {
                StringBuilder text = new StringBuilder("PID      KIND     AGE(ms)   REQUEST (as each worker last reported, up to "
                        + InFlight.MAX + " each)\n");
                workers.forEach(w -> w.inFlight.forEach(r -> text.append(String.format("%-8d %-8s %-9d %s%n", w.pid(),
                        w.kind.name().toLowerCase(Locale.ROOT), r.ageMillis(), r.request()))));
                return text.toString();
            }

            @Override
            public List<Long> workerPids() {
                return workers.stream().map(WorkerProcess::pid).toList();
            }

            @Override
            public boolean prefork() {
                return true;
            }
        };
    }

    /** What {@code kiln status} prints: the master, then each worker. */
    private String status() {
        StringBuilder text = new StringBuilder(WorkerProcess.STATUS_HEADER);
        text.append(WorkerProcess.statusLine(ProcessHandle.current().pid(), "master", reload.generation(), startNanos,
                "-", Proc.rss(), "-"));
        workers.forEach(w -> text.append(w.statusLine()));
        return text.append("(* retiring, ? starting)\n").toString();
    }

    /** Acts on every message the workers sent since the last tick, in the order they came. */
    private void hear() {
        for (Heard heard; (heard = channel.poll()) != null; ) {
            int id = heard.worker();
            WorkerProcess worker = workers.stream().filter(w -> w.id == id).findFirst().orElse(null);
            if (worker != null) {
                worker.heardNanos = Math.max(worker.heardNanos, heard.nanos());
                hear(worker, heard.message());
            }
        }
    }

    /** One message of a worker: its readiness, its state (which the watchdog checks), a recycle request. */
    private void hear(WorkerProcess worker, WorkerMessage message) {
        switch (message) {
            case Ready ready -> {
                worker.ready = true;
                if (!announced && worker.kind == Kind.HTTP && active(Kind.HTTP).stream().filter(w -> w.ready).count() >= target) {
                    announced = true;         // the first generation serves: systemd's start is over
                    serving();
                }
                LOG.info("{} (pid {}) ready in {} ms{}", worker.name(), worker.pid(),
                        (System.nanoTime() - worker.startedNanos) / 1_000_000, ready.port() > 0 ? ", on port " + ready.port() : "");
            }
            case State state -> {
                worker.served = state.served();
                worker.rss = state.rss();
                worker.current = state.oldest().isEmpty() ? "-" : state.oldest() + " (" + state.oldestMillis() + " ms)";
            }
            case Recycle recycle -> worker.recycle = recycle.limit();
            case Hello hello -> LOG.warn("{} (pid {}): a second hello, ignored", worker.name(), worker.pid());
            case Metrics metrics -> { }     // the channel hands them to the merged metrics, never to the loop
            case InFlight inFlight -> worker.inFlight = inFlight.entries();
        }
    }

    /**
     * INT to every worker (the server stops: each serves what it accepted, and the last one to let
     * go of the socket what the kernel queued), then up to the stop timeout; SIGKILL for what is left.
     */
    private void stopWorkers() {
        workers.forEach(w -> w.signal("INT"));
        long deadline = System.nanoTime() + stopTimeout().toNanos();
        for (WorkerProcess w : workers) {
            try {
                long left = Math.max(1, deadline - System.nanoTime());
                if (!w.process.waitFor(left, TimeUnit.NANOSECONDS)) {
                    LOG.warn("{} (pid {}) still running at the stop timeout: killed", w.name(), w.pid());
                    w.process.destroyForcibly();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                w.process.destroyForcibly();
            }
        }
        LOG.info("Prefork master: every worker stopped");
    }
}
