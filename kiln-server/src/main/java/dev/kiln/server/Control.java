package dev.kiln.server;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.json.JsonMapper;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The verbs of {@code kiln ctl}, parsed once for every server mode. A verb a mode has no part for
 * ({@code workers} outside prefork) is refused with its reason. The verbs that change the server
 * ({@code reload}, {@code workers}, {@code retire}) are queued for the server's loop as signals are,
 * so they act exactly as HUP, TTIN/TTOU and a limit's retirement do; the others answer at once.
 *
 * <pre>
 *   status [--json]   the server and its workers
 *   requests          the requests in flight, with their age
 *   stacks PID        the thread dump of the server or of one of its workers
 *   reload            as SIGHUP
 *   workers +N|-N     as N times SIGTTIN or SIGTTOU (prefork)
 *   retire PID        retire one worker gracefully; the master starts its replacement (prefork)
 * </pre>
 */
final class Control {

    private static final Logger LOG = LoggerFactory.getLogger(Control.class);
    static final String RETIRE = "retire ";
    private static final long JCMD_SECONDS = 30;
    private static final JsonMapper JSON = JsonMapper.builder().build();

    /** What a server mode offers to the verbs. */
    interface Server {
        String status();

        String statusJson();

        String requests();

        /** The worker pids whose stacks and retirement may be asked for; empty outside prefork. */
        List<Long> workerPids();

        boolean prefork();
    }

    private final Server server;
    private final SignalQueue signals;

    Control(Server server, SignalQueue signals) {
        this.server = server;
        this.signals = signals;
    }

    /** The answer to one request line. */
    String answer(String request) {
        String[] words = request.isBlank() ? new String[] {"status"} : request.trim().split("\\s+");
        String verb = words[0];
        List<String> args = Arrays.asList(words).subList(1, words.length);
        try {
            return switch (verb) {
                case "status" -> args.contains("--json") ? server.statusJson() : server.status();
                case "requests" -> server.requests();
                case "stacks" -> stacks(pidOf(args));
                case "reload" -> {
                    signals.post("HUP");
                    yield "reload asked for (as SIGHUP)\n";
                }
                case "workers" -> workers(args);
                case "retire" -> retire(pidOf(args));
                default -> "error: unknown verb '" + verb + "': status [--json], requests, stacks PID, reload, workers +N|-N, retire PID\n";
            };
        } catch (IllegalArgumentException e) {
            return "error: " + e.getMessage() + "\n";
        }
    }

    private String workers(List<String> args) {
        if (!server.prefork()) {
            throw new IllegalArgumentException("workers: this server is not in prefork mode");
        }
        if (args.size() != 1 || !args.getFirst().matches("[+-][1-9][0-9]{0,2}")) {
            throw new IllegalArgumentException("workers: +N or -N (1 to 999)");
        }
        int n = Integer.parseInt(args.getFirst().substring(1));
        String signal = args.getFirst().startsWith("+") ? "TTIN" : "TTOU";
        for (int i = 0; i < n; i++) {
            signals.post(signal);
        }
        return "asked for " + args.getFirst() + " HTTP worker" + (n == 1 ? "" : "s") + " (as " + n + " SIG" + signal + ")\n";
    }

    private String retire(long pid) {
        if (!server.prefork()) {
            throw new IllegalArgumentException("retire: this server is not in prefork mode");
        }
        if (!server.workerPids().contains(pid)) {
            throw new IllegalArgumentException("retire: " + pid + " is not one of this master's workers");
        }
        signals.post(RETIRE + pid);
        return "retiring " + pid + ": a replacement starts first, then it finishes its requests and exits\n";
    }

    /** The server's own stacks, or a worker's through {@code jcmd}, which this JDK ships. */
    private String stacks(long pid) {
        if (pid == ProcessHandle.current().pid()) {
            return ownStacks();
        }
        if (!server.workerPids().contains(pid)) {
            throw new IllegalArgumentException("stacks: " + pid + " is neither this server nor one of its workers");
        }
        Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
        try {
            Process process = new ProcessBuilder(jcmd.toString(), Long.toString(pid), "Thread.print")
                    .redirectErrorStream(true).start();
            String dump = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!process.waitFor(JCMD_SECONDS, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new IllegalArgumentException("stacks: jcmd " + pid + " did not answer within " + JCMD_SECONDS + " s");
            }
            return dump;
        } catch (IOException e) {
            LOG.warn("kiln ctl: stacks of {}: {}", pid, e.toString());
            throw new IllegalArgumentException("stacks: cannot run " + jcmd + " (" + e.getMessage() + ")");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalArgumentException("stacks: interrupted");
        }
    }

    /** Every thread of this JVM with its stack, platform threads as the JVM lists them. */
    static String ownStacks() {
        StringBuilder dump = new StringBuilder();
        for (ThreadInfo info : ManagementFactory.getThreadMXBean().dumpAllThreads(false, false)) {
            dump.append('"').append(info.getThreadName()).append("\" ").append(info.getThreadState()).append('\n');
            for (StackTraceElement frame : info.getStackTrace()) {
                dump.append("\tat ").append(frame).append('\n');
            }
            dump.append('\n');
        }
        return dump.toString();
    }

    private static long pidOf(List<String> args) {
        if (args.size() != 1 || !args.getFirst().matches("[1-9][0-9]{0,9}")) {
            throw new IllegalArgumentException("a process id is needed");
        }
        return Long.parseLong(args.getFirst());
    }

    /** {@code value} (maps, lists, strings, numbers) as one line of JSON. */
    static String json(Object value) {
        return JSON.writeValueAsString(value) + "\n";
    }
}
