package dev.kiln.db;

import io.zonky.test.db.postgres.util.LinuxUtils;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Keeps the postmaster of the embedded server this process owns running. A thread looks at it every
 * half second; once it is gone, and unless {@link #close()} came first, it starts it again as it ran
 * (the binary and arguments PostgreSQL wrote to {@code postmaster.opts}: same data, same port),
 * through {@code pg_ctl} as the first start did, so that the new postmaster is no child of this JVM
 * either and outlives an in-place restart like the first one.
 *
 * <p>The first try comes half a second after the death, and each failed one doubles the wait, up
 * to 30 s: after a {@code kill -9} the postmaster's orphaned backends hold its shared memory for a
 * moment, and PostgreSQL refuses to start until they are gone ("pre-existing shared memory block is
 * still in use"). The stale {@code postmaster.pid} is what lets PostgreSQL make that check, so it is
 * never removed here. A postmaster that dies again within a minute of its restart waits longer than
 * the last one before its next start; one that ran a minute starts over at half a second.
 *
 * <p>Contract: once {@link #close()} returns no restart will happen any more. It returns at once
 * while a restart waits, and after {@code pg_ctl} returns while one is under way (a warm start takes
 * about a second, {@code pg_ctl} gives up after {@link Postgres#START_TIMEOUT}). The postmaster that
 * runs then, if any, is the caller's to stop.
 *
 * <p>Why a look every half second rather than {@link ProcessHandle#onExit()}: the postmaster is
 * never a child of this JVM (pg_ctl detaches it, and an adopted one belonged to the previous image),
 * and the JDK watches a process that is not its child by polling it at a growing interval, up to 5 s.
 */
final class PostmasterSupervisor implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(PostmasterSupervisor.class);
    private static final Duration LOOK_EVERY = Duration.ofMillis(500);
    private static final Duration FIRST_WAIT = Duration.ofMillis(500);
    private static final Duration LONGEST_WAIT = Duration.ofSeconds(30);
    /** How long a restarted postmaster must run for its next restart to start over at {@link #FIRST_WAIT}. */
    private static final Duration STABLE = Duration.ofSeconds(60);
    /** One argument of postmaster.opts: PostgreSQL writes each in double quotes, unescaped. */
    private static final Pattern QUOTED = Pattern.compile("\"([^\"]*)\"");

    private final Path pgData;
    private final int port;
    private final Path logFile;
    private final Runnable restarted;
    private final CountDownLatch stop = new CountDownLatch(1);
    private final Thread thread;
    private volatile ProcessHandle postmaster;
    private volatile int failedAttempts;
    private long upSince = System.nanoTime();
    private Duration wait = FIRST_WAIT;

    private PostmasterSupervisor(Path pgData, int port, Path logFile, ProcessHandle postmaster, Runnable restarted) {
        this.pgData = pgData;
        this.port = port;
        this.logFile = logFile;
        this.postmaster = postmaster;
        this.restarted = restarted;
        this.thread = Thread.ofPlatform().name("kiln-postgres-watch").daemon().unstarted(this::watch);
    }

    /**
     * Watches {@code postmaster}, the server of {@code pgData} on {@code port} whose output goes to
     * {@code logFile}; {@code restarted} runs after each restart, before it is announced.
     */
    static PostmasterSupervisor watch(Path pgData, int port, Path logFile, ProcessHandle postmaster, Runnable restarted) {
        PostmasterSupervisor supervisor = new PostmasterSupervisor(pgData, port, logFile, postmaster, restarted);
        supervisor.thread.start();
        return supervisor;
    }

    /** The postmaster watched now: the first one, or the last one started. */
    ProcessHandle postmaster() {
        return postmaster;
    }

    /** Restart attempts that did not bring a postmaster back, since this supervisor began. */
    int failedAttempts() {
        return failedAttempts;
    }

    /** Ends the watch: no restart after this returns (see the class comment for how long it may take). */
    @Override
    public void close() {
        stop.countDown();
        try {
            thread.join(Postgres.START_TIMEOUT.plusSeconds(15));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (thread.isAlive()) {
            LOG.warn("embedded PostgreSQL in {}: a restart of the postmaster is still under way after {} s;"
                    + " stopping what runs now", pgData, Postgres.START_TIMEOUT.plusSeconds(15).toSeconds());
        }
    }

    private void watch() {
        while (!stopping()) {
            try {
                if (postmaster.isAlive()) {
                    pause(LOOK_EVERY);
                } else {
                    revive(postmaster);
                }
            } catch (RuntimeException e) {
                LOG.warn("embedded PostgreSQL in {}: watching the postmaster failed: {}", pgData, e.toString());
                pause(LOOK_EVERY);
            }
        }
    }

    /** Starts the server again after {@code dead}, with the waits of the class comment, until it runs or a stop. */
    private void revive(ProcessHandle dead) {
        if (System.nanoTime() - upSince >= STABLE.toNanos()) {
            wait = FIRST_WAIT;
        }
        LOG.warn("embedded PostgreSQL in {}: the postmaster (pid {}) died; restarting it", pgData, dead.pid());
        boolean toldSlow = false;
        for (int attempt = 1; !pause(wait); attempt++) {
            long logFrom = size(logFile);
            String failure;
            Optional<ProcessHandle> started;
            try {
                started = start(dead.pid());
                failure = started.isPresent() ? null : lastFailure(logFrom);
            } catch (IOException e) {
                started = Optional.empty();
                failure = e.getMessage();
            }
            wait = longer(wait);
            if (started.isPresent()) {
                postmaster = started.get();
                upSince = System.nanoTime();
                if (!stopping()) {
                    restarted.run();
                    LOG.info("embedded PostgreSQL in {}: restarted (pid {}), listening on localhost:{} again",
                            pgData, postmaster.pid(), port);
                }
                return;
            }
            failedAttempts++;
            if (wait.equals(LONGEST_WAIT) && !toldSlow) {
                LOG.warn("embedded PostgreSQL in {}: still down after {} attempts to restart it ({}); trying again"
                        + " every {} s, see {}", pgData, attempt, failure, LONGEST_WAIT.toSeconds(), logFile);
                toldSlow = true;
            } else {
                LOG.debug("embedded PostgreSQL in {}: restart attempt {} failed ({}); next in {} ms",
                        pgData, attempt, failure, wait.toMillis());
            }
        }
    }

    /**
     * Runs {@code pg_ctl start} and returns the new postmaster once it answers; empty when none runs.
     * A recovery longer than pg_ctl waits is waited for here, where a stop is seen.
     */
    private Optional<ProcessHandle> start(long deadPid) throws IOException {
        Process pgCtl = new ProcessBuilder(startCommand(pgData, Postgres.START_TIMEOUT))
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile()))
                .start();
        try {
            if (!pgCtl.waitFor(Postgres.START_TIMEOUT.plusSeconds(5).toMillis(), TimeUnit.MILLISECONDS)) {
                pgCtl.destroyForcibly();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Optional<ProcessHandle> running = EmbeddedServer.livePostmaster(pgData).filter(p -> p.pid() != deadPid);
        while (running.isPresent() && !EmbeddedServer.answers(port)) {
            if (!running.get().isAlive()) {
                return Optional.empty();
            }
            if (pause(LOOK_EVERY)) {
                break;          // stopping: it is returned all the same, for the caller to stop
            }
        }
        return running;
    }

    /**
     * {@code pg_ctl start} for {@code pgData} with the binary and arguments of its last postmaster,
     * which is what {@code pg_ctl restart} would take; as root through {@code unshare -U} as the
     * library does for the first start, since PostgreSQL refuses to run as root.
     */
    private static List<String> startCommand(Path pgData, Duration timeout) throws IOException {
        String opts;
        try {
            opts = Files.readString(pgData.resolve("postmaster.opts")).strip();
        } catch (IOException e) {
            throw new IOException("cannot read " + pgData.resolve("postmaster.opts") + ": " + e.getMessage(), e);
        }
        int firstArgument = opts.indexOf(" \"");
        Path binary = Path.of(firstArgument < 0 ? opts : opts.substring(0, firstArgument));
        List<String> options = new ArrayList<>();
        Matcher arguments = QUOTED.matcher(firstArgument < 0 ? "" : opts.substring(firstArgument));
        while (arguments.find()) {
            if (arguments.group(1).equals("-D") && arguments.find()) {
                continue;       // pg_ctl gives -D itself: kept here, it would pile up in postmaster.opts at each restart
            }
            options.add(shellQuoted(arguments.group(1)));
        }
        List<String> command = new ArrayList<>();
        if (LinuxUtils.isUnshareAvailable()) {
            command.addAll(List.of("unshare", "-U"));
        }
        command.addAll(List.of(binary.resolveSibling("pg_ctl").toString(), "-D", pgData.toString(),
                "-o", String.join(" ", options), "-w", "-t", Long.toString(timeout.toSeconds()), "start"));
        return command;
    }

    /** pg_ctl runs the postmaster through {@code sh -c}: each argument in single quotes reaches it as is. */
    private static String shellQuoted(String argument) {
        return "'" + argument.replace("'", "'\\''") + "'";
    }

    /** Why a start failed, from what PostgreSQL and pg_ctl wrote to the log after {@code from}. */
    private String lastFailure(long from) {
        String written;
        try (InputStream in = Files.newInputStream(logFile)) {
            in.skipNBytes(Math.min(from, Files.size(logFile)));
            written = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "pg_ctl could not start it";
        }
        List<String> lines = written.lines().map(String::strip).filter(line -> !line.isEmpty()).toList();
        return lines.reversed().stream().filter(line -> line.contains("FATAL:")).findFirst()
                .map(line -> line.substring(line.indexOf("FATAL:") + 6).strip())
                .orElse(lines.isEmpty() ? "pg_ctl could not start it" : lines.getLast());
    }

    private static Duration longer(Duration wait) {
        Duration doubled = wait.multipliedBy(2);
        return doubled.compareTo(LONGEST_WAIT) < 0 ? doubled : LONGEST_WAIT;
    }

    private static long size(Path file) {
        try {
            return Files.size(file);
        } catch (IOException e) {
            return 0;
        }
    }

    private boolean stopping() {
        return stop.getCount() == 0;
    }

    /** Waits {@code duration} unless stopped first; true when stopping. An interrupt ends the watch as a stop does. */
    private boolean pause(Duration duration) {
        try {
            return stop.await(duration.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            stop.countDown();
            return true;
        }
    }
}
