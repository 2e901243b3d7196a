package dev.kiln.server;

import dev.kiln.KilnException;
import dev.kiln.config.Config;
import dev.kiln.os.Libc;
import dev.kiln.os.ListenSocket;
import dev.kiln.os.Proc;
import dev.kiln.server.WorkerChannel.Heard;
import dev.kiln.server.WorkerMessage.Hello;
import dev.kiln.server.WorkerMessage.Ready;
import dev.kiln.server.WorkerMessage.Recycle;
import dev.kiln.server.WorkerMessage.State;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntSupplier;

/**
 * The prefork mode ({@code --workers N > 0}), Odoo's {@code PreforkServer} and gunicorn's arbiter:
 * a master that never serves requests holds the listening socket on fd 0 and keeps N HTTP worker
 * JVMs ({@code kiln worker http}) accepting from it, and {@code --max-cron-threads} cron worker JVMs
 * ({@code kiln worker cron}, one runner each). Workers report on a {@link WorkerChannel}; their
 * standard output is only logged. Its loop: act on queued signals, act on the workers' messages,
 * reap dead workers, advance a reload, kill workers that stopped reporting, spawn to the target
 * count, sleep at most a second (a worker that becomes ready, asks to be replaced or exits wakes
 * it). TERM/INT stop the workers gracefully (a second one kills them), HUP replaces them with a new
 * generation (new ones first, each old one retired once a new one is ready; new ones that cannot
 * boot are given up and the old ones serve on), TTIN/TTOU add or retire one. A worker that cannot
 * boot at start (exit code 3) stops the master with that code instead of a respawn loop; workers
 * that keep dying are respawned no faster than once a second.
 */
public final class PreforkServer extends CommonServer {

    private static final Logger LOG = LoggerFactory.getLogger(PreforkServer.class);
    private static final Duration TICK = Duration.ofSeconds(1);
    /** How long a worker of a new generation may take to say it is ready before the reload is given up. */
    private static final Duration BOOT_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration RESPAWN_PAUSE = Duration.ofSeconds(1);
    /** How long past its stop timeout a retiring worker may take to exit before it is killed. */
    private static final Duration RETIRE_GRACE = Duration.ofSeconds(10);
    /** A worker JVM's initial heap; it grows up to --worker-heap. */
    private static final long INITIAL_HEAP = 64L * 1024 * 1024;

    private final IntSupplier preload;
    private final List<Worker> workers = new CopyOnWriteArrayList<>();
    private final AtomicInteger quitSignals = new AtomicInteger();
    private final AtomicInteger nextId = new AtomicInteger();
    private int target;
    private final int cronTarget;
    private int generation = 1;
    /** The new generation's workers while a reload is in progress (empty otherwise), and its deadline. */
    private List<Worker> reloading = List.of();
    /** The cron and evented workers of the reload, started once one of its HTTP workers is ready. */
    private List<Kind> deferred = List.of();
    private long reloadDeadline;
    private boolean reloadAgain;
    private long lastDeathNanos;
    private int bootFailure;
    /** The evented worker's listening socket (gevent_port), kept by the master off fd 0; -1 when none. */
    private int geventFd = -1;
    /** The port of {@link #geventFd}: gevent_port, or the kernel's choice when that is 0. */
    private int geventPort;
    private WorkerChannel channel;

    /** What a worker does: serve HTTP, or run one cron runner. */
    private enum Kind { HTTP, CRON, EVENTED }

    /** One worker JVM, as the master sees it. */
    private static final class Worker {
        final int id;
        final Kind kind;
        final int generation;
        final Process process;
        final long startedNanos = System.nanoTime();
        /** Set by the loop when the worker said it is ready; read by {@code kiln status} too. */
        volatile boolean ready;
        volatile boolean retiring;
        long retiredNanos;
        /** When the last message the loop took from the worker arrived (ready, its state): its heartbeat. */
        long heardNanos = System.nanoTime();
        /** For a worker of a reload: whether it has taken an old worker's place yet. */
        boolean tookOver;
        /** Set when the worker reached a limit and asked to be replaced. */
        String recycle;
        Worker replacement;
        /** The last state the worker reported: served, in flight, RSS, and its oldest request. */
        volatile long served;
        volatile long rss;
        volatile String current = "-";

        Worker(int id, Kind kind, int generation, Process process) {
            this.id = id;
            this.kind = kind;
            this.generation = generation;
            this.process = process;
        }

        String name() {
            return nameOf(kind, id);
        }

        long pid() {
            return process.pid();
        }
    }

    private static String nameOf(Kind kind, int id) {
        return (kind == Kind.CRON ? "Cron worker " : kind == Kind.EVENTED ? "Evented worker " : "Worker ") + id;
    }

    /** @param preload creates and loads the {@code -d} databases before any worker starts */
    public PreforkServer(Config config, IntSupplier preload) {
        super(config);
        this.preload = preload;
        this.target = config.workers();
        this.cronTarget = config.maxCronThreads();
    }

    @Override
    public int run() {
        signals.install(this::handleUrgent, "INT", "TERM", "HUP", "USR1", "TTIN", "TTOU");
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
        StatusSocket status = StatusSocket.open(config, socket.address().getPort(), this::status);
        int preloaded = preload.getAsInt();
        if (config.stopAfterInit()) {
            if (status != null) {
                status.close();
            }
            PidFile.remove(config.pidfile());
            return preloaded;
        }
        try {
            channel = WorkerChannel.open(signals::wake);
        } catch (IOException e) {
            throw KilnException.failure("prefork master: cannot open the workers' channel in "
                    + System.getProperty("java.io.tmpdir") + " (" + e.getMessage() + ")");
        }
        LOG.info("Prefork master on {}:{}: {} HTTP worker{}, {} cron worker{}, the evented worker on port {}",
                socket.address().getHostString(), socket.address().getPort(), target, target == 1 ? "" : "s", cronTarget,
                cronTarget == 1 ? "" : "s", geventPort);
        try {
            while (!quit) {
                String signal = signals.poll(TICK);
                if (signal != null && !signal.equals(SignalQueue.WAKE)) {
                    handle(signal);
                }
                try {
                    hear();
                    reap();
                    if (bootFailure != 0) {
                        break;
                    }
                    advanceReload();
                    killSilent();
                    replaceRecycled();
                    spawnMissing();
                } catch (RuntimeException e) {
                    LOG.error("Prefork master: {}; going on", e.toString(), e);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        // the workers are now the sockets' only holders: the last to stop serves what the kernel queued
        ListenSocket.release();
        if (geventFd >= 0) {
            Libc.close(geventFd);
        }
        stopWorkers();
        channel.close();
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
            case "INT", "TERM" -> {
                LOG.info("Initiating shutdown (SIG{}): stopping the workers gracefully; send it again to force it", signal);
                quit = true;
            }
            case "HUP", SignalQueue.ADDONS_CHANGED -> reload();
            case "TTIN" -> {
                target++;
                LOG.info("SIGTTIN: {} HTTP workers wanted", target);
            }
            case "TTOU" -> {
                if (target > 1) {
                    target--;
                    LOG.info("SIGTTOU: {} HTTP workers wanted", target);
                    active(Kind.HTTP).stream().min(Comparator.comparingLong(w -> w.startedNanos))
                            .ifPresent(w -> retire(w, "SIGTTOU"));
                } else {
                    LOG.info("SIGTTOU: already down to one worker");
                }
            }
            case "USR1" -> {
                logStatistics(0, 0);
                workers.forEach(w -> signal(w, "USR1"));
            }
            default -> LOG.debug("Ignoring SIG{}", signal);
        }
    }

    /** Workers of {@code kind} serving or booting, not being retired. */
    private List<Worker> active(Kind kind) {
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
        if (!reloading.isEmpty()) {
            reloadAgain = true;
            LOG.info("SIGHUP: generation {} is still starting; another reload follows it", generation);
            return;
        }
        generation++;
        LOG.info("SIGHUP: reloading: starting {} HTTP, {} cron and {} evented workers of generation {}, then retiring the old ones",
                target, cronTarget, targetOf(Kind.EVENTED), generation);
        // the HTTP workers first, alone on the CPUs: the new code serves sooner (the others follow, see advanceReload)
        List<Worker> fresh = new ArrayList<>();
        List<Kind> later = new ArrayList<>();
        for (Kind kind : Kind.values()) {
            for (int i = 0; i < targetOf(kind); i++) {
                if (kind == Kind.HTTP) {
                    fresh.add(spawn(kind));
                } else {
                    later.add(kind);
                }
            }
        }
        reloading = fresh;
        deferred = later;
        reloadDeadline = System.nanoTime() + BOOT_TIMEOUT.toNanos();
    }

    /**
     * One step of a reload in progress: each new worker that is ready retires an old one of its
     * kind. A new worker that exits or is not ready by the deadline ends the reload: the new workers
     * not yet ready are stopped, and the old ones they were to replace serve on.
     */
    private void advanceReload() {
        if (reloading.isEmpty()) {
            return;
        }
        if (!deferred.isEmpty() && reloading.stream().anyMatch(w -> w.ready)) {
            List<Worker> all = new ArrayList<>(reloading);
            deferred.forEach(kind -> all.add(spawn(kind)));
            reloading = all;
            deferred = List.of();
            reloadDeadline = Math.max(reloadDeadline, System.nanoTime() + BOOT_TIMEOUT.toNanos());
        }
        boolean allReady = deferred.isEmpty();
        for (Worker w : reloading) {
            if (w.ready) {
                if (!w.tookOver) {
                    w.tookOver = true;
                    workers.stream().filter(old -> old.kind == w.kind && old.generation < w.generation && !old.retiring)
                            .findFirst().ifPresent(old -> retire(old, "reload"));
                }
            } else if (!w.process.isAlive() || System.nanoTime() > reloadDeadline) {
                abandonReload(w);
                return;
            } else {
                allReady = false;
            }
        }
        if (!allReady) {
            return;
        }
        workers.stream().filter(old -> old.generation < generation && !old.retiring).forEach(old -> retire(old, "reload"));
        LOG.info("SIGHUP: generation {} serving", generation);
        reloading = List.of();
        if (reloadAgain) {
            reloadAgain = false;
            reload();
        }
    }

    private void abandonReload(Worker failed) {
        List<Worker> unready = reloading.stream().filter(w -> !w.ready).toList();
        long serving = workers.stream().filter(w -> w.generation < generation && !w.retiring).count();
        LOG.error("SIGHUP: {} (pid {}) of generation {} did not become ready ({}); the reload is given up and {} old worker{} serve on",
                failed.name(), failed.pid(), generation,
                failed.process.isAlive() ? "timed out" : "exit code " + failed.process.exitValue() + "; its log says why",
                serving, serving == 1 ? "" : "s");
        for (Worker w : unready) {
            workers.remove(w);
            w.process.destroyForcibly();
        }
        if (unready.size() == reloading.size()) {
            generation--;
        }
        reloading = List.of();
        deferred = List.of();
        reloadAgain = false;
    }

    /**
     * The master's watchdog: a worker reports its state every second, even while its requests run;
     * one silent for longer than the stop timeout (limit_time_real, or 120 s without it) is frozen
     * (stopped, or its JVM stuck), and is killed. So is a retiring worker still there that long
     * after its stop timeout.
     */
    private void killSilent() {
        long limit = stopTimeout().toNanos();
        long now = System.nanoTime();
        for (Worker w : workers) {
            if (!w.ready || !w.process.isAlive()) {
                continue;
            }
            if (now - w.heardNanos > limit) {
                LOG.error("{} (pid {}): limit limit_time_real reached: no heartbeat for {} s (> {} s); killed",
                        w.name(), w.pid(), Duration.ofNanos(now - w.heardNanos).toSeconds(), stopTimeout().toSeconds());
                w.process.destroyForcibly();
            } else if (w.retiring && now - w.retiredNanos > limit + RETIRE_GRACE.toNanos()) {
                LOG.error("{} (pid {}) still running {} s after it was retired; killed", w.name(), w.pid(),
                        Duration.ofNanos(now - w.retiredNanos).toSeconds());
                w.process.destroyForcibly();
            }
        }
    }

    /**
     * A worker that reached a limit gets its replacement first; once the replacement is ready the
     * worker is retired (it finishes its requests), so the count of serving workers never dips.
     */
    private void replaceRecycled() {
        for (Worker w : workers) {
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

    private void retire(Worker worker, String why) {
        worker.retiring = true;
        worker.retiredNanos = System.nanoTime();
        LOG.info("Retiring {} (pid {}, {}): it finishes its work and exits", worker.name(), worker.pid(), why);
        signal(worker, "TERM");
    }

    private void reap() {
        for (Worker w : workers) {
            if (w.process.isAlive()) {
                continue;
            }
            workers.remove(w);
            channel.forget(w.id);
            int code = w.process.exitValue();
            if (w.retiring && code == 0) {
                LOG.info("{} (pid {}) retired", w.name(), w.pid());
            } else if (reloading.contains(w)) {
                LOG.warn("{} (pid {}) of generation {} exited while starting (exit code {})", w.name(), w.pid(), w.generation, code);
            } else if (code == HttpWorker.BOOT_FAILURE && !w.ready) {
                LOG.error("{} (pid {}) could not boot (exit code {}; its log says why): stopping the master",
                        w.name(), w.pid(), code);
                bootFailure = HttpWorker.BOOT_FAILURE;
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

    /** Starts a worker JVM: the master's JVM options, {@code worker http|cron} and its server options, fd 0 inherited. */
    private Worker spawn(Kind kind) {
        int id = nextId.incrementAndGet();
        List<String> command = new ArrayList<>();
        command.add(Proc.executable());
        List<String> argv = Proc.commandLine();
        int main = argv.indexOf(Phoenix.MAIN_CLASS);
        command.addAll(argv.subList(1, main));
        command.add("-Xmx" + config.workerHeap());          // the last -Xmx wins over the master's own
        // a small start: the JVM's default initial heap (1/64 of the machine's memory) sizes a young
        // generation whose touched pages stay in RSS, 200 MB for a worker serving only /hello
        command.add("-Xms" + Math.min(INITIAL_HEAP, config.workerHeap()));
        command.add(Phoenix.MAIN_CLASS);
        command.add("worker");
        command.add(kind.name().toLowerCase(Locale.ROOT));
        List<String> options = Phoenix.withoutOneShotOptions(argv);
        command.addAll(options.subList(main + 1, options.size()));
        ProcessBuilder builder = new ProcessBuilder(command)
                .redirectInput(ProcessBuilder.Redirect.INHERIT)      // fd 0: the listening socket
                .redirectError(ProcessBuilder.Redirect.INHERIT)
                .redirectOutput(ProcessBuilder.Redirect.PIPE);       // what it prints: logged by the master
        Map<String, String> env = builder.environment();
        env.remove("LISTEN_FDS");
        env.remove("LISTEN_PID");
        env.remove("LISTEN_FDNAMES");
        env.put(ListenSocket.INHERITED_FD_ENV, "0");
        env.put("KILN_WORKER_ID", Integer.toString(id));
        env.putAll(channel.admit(id, nameOf(kind, id)));
        Process process = kind == Kind.EVENTED
                ? ListenSocket.onFd0While(geventFd, () -> start(builder))   // the evented worker's fd 0: gevent_port
                : start(builder);
        Worker worker = new Worker(id, kind, generation, process);
        workers.add(worker);
        process.onExit().thenRun(signals::wake);
        Thread.ofPlatform().daemon().name("kiln-worker-" + id + "-output").start(() -> forwardOutput(worker));
        LOG.info("{} (pid {}, generation {}) started", worker.name(), worker.pid(), generation);
        return worker;
    }

    private static Process start(ProcessBuilder builder) {
        try {
            return builder.start();
        } catch (IOException e) {
            throw new KilnException(KilnException.FAILURE, "cannot start a worker: " + e.getMessage(), e);
        }
    }

    /** What {@code kiln status} prints: the master, then each worker. */
    private String status() {
        StringBuilder text = new StringBuilder(String.format("%-8s %-8s %4s %10s %10s %8s  %s%n",
                "PID", "KIND", "GEN", "AGE", "SERVED", "RSS", "CURRENT REQUEST"));
        text.append(String.format("%-8d %-8s %4d %10s %10s %8s  %s%n", ProcessHandle.current().pid(), "master",
                generation, age(startNanos), "-", mib(Proc.rss()), "-"));
        for (Worker w : workers) {
            text.append(String.format("%-8d %-8s %4d %10s %10s %8s  %s%n", w.pid(),
                    w.kind.name().toLowerCase(Locale.ROOT) + (w.retiring ? "*" : w.ready ? "" : "?"),
                    w.generation, age(w.startedNanos), w.kind != Kind.CRON ? Long.toString(w.served) : "-",
                    mib(w.rss), w.current));
        }
        return text.append("(* retiring, ? starting)\n").toString();
    }

    private static String age(long sinceNanos) {
        long seconds = Duration.ofNanos(System.nanoTime() - sinceNanos).toSeconds();
        return String.format("%d:%02d:%02d", seconds / 3600, seconds / 60 % 60, seconds % 60);
    }

    private static String mib(long bytes) {
        return bytes <= 0 ? "-" : (bytes / (1024 * 1024)) + "M";
    }

    /**
     * Logs what a worker prints on its standard output (an addon's {@code System.out}, say) until it
     * exits: only lines to log, never messages to the master.
     */
    private void forwardOutput(Worker worker) {
        try (BufferedReader output = new BufferedReader(
                new InputStreamReader(worker.process.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = output.readLine()) != null; ) {
                LOG.info("{}: {}", worker.name(), line);
            }
        } catch (IOException | RuntimeException e) {
            LOG.debug("Worker {}: its output ended: {}", worker.id, e.toString());
        }
    }

    /** Acts on every message the workers sent since the last tick, in the order they came. */
    private void hear() {
        for (Heard heard; (heard = channel.poll()) != null; ) {
            int id = heard.worker();
            Worker worker = workers.stream().filter(w -> w.id == id).findFirst().orElse(null);
            if (worker != null) {
                worker.heardNanos = Math.max(worker.heardNanos, heard.nanos());
                hear(worker, heard.message());
            }
        }
    }

    /** One message of a worker: its readiness, its state (checked against limit_memory_hard), a recycle request. */
    private void hear(Worker worker, WorkerMessage message) {
        switch (message) {
            case Ready ready -> {
                worker.ready = true;
                LOG.info("{} (pid {}) ready in {} ms{}", worker.name(), worker.pid(),
                        (System.nanoTime() - worker.startedNanos) / 1_000_000, ready.port() > 0 ? ", on port " + ready.port() : "");
            }
            case State state -> {
                worker.served = state.served();
                worker.rss = state.rss();
                worker.current = state.oldest().isEmpty() ? "-" : state.oldest() + " (" + state.oldestMillis() + " ms)";
                if (config.limitMemoryHard() > 0 && worker.rss > config.limitMemoryHard() && worker.process.isAlive()) {
                    LOG.error("{} (pid {}): limit limit_memory_hard reached: RSS {} bytes > {} bytes; killed",
                            worker.name(), worker.pid(), worker.rss, config.limitMemoryHard());
                    worker.process.destroyForcibly();
                }
            }
            case Recycle recycle -> worker.recycle = recycle.limit();
            case Hello hello -> LOG.warn("{} (pid {}): a second hello, ignored", worker.name(), worker.pid());
        }
    }

    /**
     * INT to every worker (the server stops: each serves what it accepted, and the last one to let
     * go of the socket what the kernel queued), then up to the stop timeout; SIGKILL for what is left.
     */
    private void stopWorkers() {
        workers.forEach(w -> signal(w, "INT"));
        long deadline = System.nanoTime() + stopTimeout().toNanos();
        for (Worker w : workers) {
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

    private static void signal(Worker worker, String name) {
        try {
            Libc.kill((int) worker.pid(), new sun.misc.Signal(name).getNumber());
        } catch (RuntimeException e) {
            LOG.debug("Worker {}: SIG{} not sent: {}", worker.id, name, e.toString());
        }
    }
}
