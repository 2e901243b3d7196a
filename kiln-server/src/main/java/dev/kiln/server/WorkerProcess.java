package dev.kiln.server;

import dev.kiln.config.Config;
import dev.kiln.failure.KilnException;
import dev.kiln.os.Libc;
import dev.kiln.os.ListenSocket;
import dev.kiln.os.Proc;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * One worker JVM as the prefork master sees it: what it does, its generation, what it last
 * reported, and where it stands (starting, ready, retiring). Only the master's loop writes it; the
 * fields {@code kiln status} reads from its own thread are volatile.
 */
final class WorkerProcess {

    private static final Logger LOG = LoggerFactory.getLogger(WorkerProcess.class);
    /**
     * A worker JVM's initial heap; it grows up to --worker-heap. The young generation is a third of
     * it, and every page of it a worker ever touched stays in its RSS: 16 MiB against 64 took 12 MiB
     * off an idle worker's RSS (docs/benchmarks.md).
     */
    private static final long INITIAL_HEAP = 16L * 1024 * 1024;
    private static final int TRIM_NATIVE_HEAP_MS = 2_000;
    /** The AOT cache of the workers, when it differs from the master's ({@code dist/kiln-worker.aot}). */
    static final String WORKER_AOT_PROPERTY = "kiln.worker-aot";
    /** Where HTTP worker 1 writes a new workers' AOT cache as it exits: the training run's. */
    static final String TRAIN_WORKER_AOT_PROPERTY = "kiln.aot.train-worker";

    /** What a worker does: serve HTTP, run one cron runner, or serve gevent_port's long-lived connections. */
    enum Kind { HTTP, CRON, EVENTED }

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
    WorkerProcess replacement;
    /** Set when the master's watchdog sent SIGKILL: not killed twice, and reaped like any dead worker. */
    boolean killed;
    /** The last state the worker reported: served, in flight, RSS, and its oldest request. */
    volatile long served;
    volatile long rss;
    volatile String current = "-";
    /** The requests in hand as the worker last listed them, the oldest first. */
    volatile List<WorkerMessage.InFlight.Entry> inFlight = List.of();

    WorkerProcess(int id, Kind kind, int generation, Process process) {
        this.id = id;
        this.kind = kind;
        this.generation = generation;
        this.process = process;
    }

    static String nameOf(Kind kind, int id) {
        return (kind == Kind.CRON ? "Cron worker " : kind == Kind.EVENTED ? "Evented worker " : "Worker ") + id;
    }

    String name() {
        return nameOf(kind, id);
    }

    long pid() {
        return process.pid();
    }

    /**
     * Starts a worker JVM: the evented worker gets gevent_port's socket ({@code geventFd}) on its
     * fd 0, the others the master's listening socket.
     */
    static WorkerProcess start(Kind kind, int id, int generation, Config config, Map<String, String> channelEnv,
                               int geventFd) {
        ProcessBuilder builder = command(kind, id, config, channelEnv);
        Process process = kind == Kind.EVENTED ? ListenSocket.onFd0While(geventFd, () -> start(builder)) : start(builder);
        WorkerProcess worker = new WorkerProcess(id, kind, generation, process);
        worker.logOutput();
        return worker;
    }

    private static Process start(ProcessBuilder builder) {
        try {
            return builder.start();
        } catch (IOException e) {
            throw new KilnException(KilnException.FAILURE, "cannot start a worker: " + e.getMessage(), e);
        }
    }

    /**
     * How to start a worker: the master's JVM options, {@code worker http|cron|evented} and the
     * master's server options; fd 0 inherited, standard output piped to {@link #logOutput}.
     */
    private static ProcessBuilder command(Kind kind, int id, Config config, Map<String, String> channelEnv) {
        List<String> command = new ArrayList<>();
        command.add(Proc.executable());
        // glibc keeps what the JVM freed (the start's parsing, its compilations) in its arenas: a
        // trim every few seconds gives it back, about 5 MiB per idle worker. Before the master's
        // own options, so that an operator's KILN_JAVA_OPTS overrides it.
        command.add("-XX:TrimNativeHeapInterval=" + TRIM_NATIVE_HEAP_MS);
        List<String> argv = Proc.commandLine();
        int main = argv.indexOf(Phoenix.MAIN_CLASS);
        command.addAll(workerAot(argv.subList(1, main), kind, id));
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
        SystemdNotify.ENVIRONMENT.forEach(env::remove);      // systemd hears the master alone
        env.put(ListenSocket.INHERITED_FD_ENV, "0");
        env.put("KILN_WORKER_ID", Integer.toString(id));
        env.putAll(channelEnv);
        return builder;
    }

    /**
     * The master's JVM options as a worker's: with the workers' own AOT cache ({@value
     * #WORKER_AOT_PROPERTY}, which the launcher names when {@code make aot} made one) in place of the
     * master's, trained on a worker, whose classes, lambdas and method profiles differ from a
     * threaded server's. With {@value #TRAIN_WORKER_AOT_PROPERTY} (the training run of {@code make
     * aot}), HTTP worker 1 writes that cache when it exits.
     */
    private static List<String> workerAot(List<String> masterOptions, Kind kind, int id) {
        return workerAot(masterOptions, kind, id, System.getProperty(WORKER_AOT_PROPERTY),
                System.getProperty(TRAIN_WORKER_AOT_PROPERTY));
    }

    static List<String> workerAot(List<String> masterOptions, Kind kind, int id, String cache, String training) {
        List<String> options = new ArrayList<>();
        for (String option : masterOptions) {
            if (option.startsWith("-D" + TRAIN_WORKER_AOT_PROPERTY + "=")) {
                continue;
            }
            if (cache != null && !cache.isBlank() && option.startsWith("-XX:AOTCache=")) {
                option = "-XX:AOTCache=" + cache;
            }
            options.add(option);
        }
        if (training != null && !training.isBlank() && kind == Kind.HTTP && id == 1) {
            options.add("-XX:AOTCacheOutput=" + training);
        }
        return options;
    }

    /**
     * Logs, on a thread of its own until the worker exits, what it prints on its standard output
     * (an addon's {@code System.out}, say): only lines to log, never messages to the master.
     */
    private void logOutput() {
        Thread.ofPlatform().daemon().name("kiln-worker-" + id + "-output").start(() -> {
            try (BufferedReader output = new BufferedReader(
                    new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = output.readLine()) != null; ) {
                    LOG.info("{}: {}", name(), line);
                }
            } catch (IOException | RuntimeException e) {
                LOG.debug("Worker {}: its output ended: {}", id, e.toString());
            }
        });
    }

    void signal(String name) {
        try {
            Libc.kill((int) pid(), new Signal(name).getNumber());
        } catch (RuntimeException e) {
            LOG.debug("Worker {}: SIG{} not sent: {}", id, name, e.toString());
        }
    }

    /** This worker for {@code kiln ctl status --json}. */
    Map<String, Object> describe() {
        Map<String, Object> fields = new java.util.LinkedHashMap<>();
        fields.put("pid", pid());
        fields.put("id", id);
        fields.put("kind", kind.name().toLowerCase(Locale.ROOT));
        fields.put("generation", generation);
        fields.put("ready", ready);
        fields.put("retiring", retiring);
        fields.put("age_seconds", Duration.ofNanos(System.nanoTime() - startedNanos).toSeconds());
        fields.put("served", served);
        fields.put("rss", rss);
        fields.put("current", current);
        return fields;
    }

    /** The first line of {@code kiln status}. */
    static final String STATUS_HEADER = String.format("%-8s %-8s %4s %10s %10s %8s  %s%n",
            "PID", "KIND", "GEN", "AGE", "SERVED", "RSS", "CURRENT REQUEST");

    /** Its line in {@code kiln status}: the kind marked * when retiring and ? when starting. */
    String statusLine() {
        return statusLine(pid(), kind.name().toLowerCase(Locale.ROOT) + (retiring ? "*" : ready ? "" : "?"),
                generation, startedNanos, kind != Kind.CRON ? Long.toString(served) : "-", rss, current);
    }

    static String statusLine(long pid, String kind, int generation, long startedNanos, String served, long rss,
                             String current) {
        return String.format("%-8d %-8s %4d %10s %10s %8s  %s%n", pid, kind, generation, age(startedNanos), served,
                mib(rss), current);
    }

    private static String age(long sinceNanos) {
        long seconds = Duration.ofNanos(System.nanoTime() - sinceNanos).toSeconds();
        return String.format("%d:%02d:%02d", seconds / 3600, seconds / 60 % 60, seconds % 60);
    }

    private static String mib(long bytes) {
        return bytes <= 0 ? "-" : (bytes / (1024 * 1024)) + "M";
    }
}
