package dev.kiln.cron;

import dev.kiln.db.ConnectionPools;
import dev.kiln.db.DatabaseException;
import dev.kiln.db.Isolation;
import dev.kiln.db.SqlErrors;
import dev.kiln.registry.Registry;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One cron runner, Odoo's cron thread: it keeps a connection of its own that {@code LISTEN}s on
 * {@link CronSignals#CHANNEL}, sleeps until woken, until the next job falls due or for a minute
 * (plus a jitter of its own, so runners of many processes do not poll together), then processes
 * the databases: those it was woken for first, then all the others. In each it takes the ready jobs
 * one at a time (see {@link CronStore}) until none is left. A failing job, a database that cannot be
 * reached, or PostgreSQL restarting never stops the runner: it logs, waits a little and goes on.
 */
final class CronRunner implements Runnable {

    private static final Logger LOG = LoggerFactory.getLogger(CronRunner.class);
    /** Odoo's SLEEP_INTERVAL: the longest a runner sleeps without being woken. */
    static final Duration SLEEP = Duration.ofSeconds(60);
    private static final Duration JITTER = Duration.ofSeconds(5);
    private static final Duration RECOVERY_POLL = Duration.ofSeconds(10);
    private static final Duration RETRY = Duration.ofSeconds(2);
    /** Jobs of the ready list offered to one claim query: runners skip each other's locks within it. */
    private static final int WINDOW = 64;
    /** SQLSTATEs of a database that is not (or no longer) one Kiln can run jobs in. */
    private static final Set<String> NOT_KILN = Set.of("42P01", "3D000");

    /** The call a runner is making now, for the watchdog of {@link CronService}. */
    record Call(String database, String job, long startedNanos, Thread thread, int[] backendPids,
                AtomicBoolean interrupted) {

        long elapsedMillis() {
            return (System.nanoTime() - startedNanos) / 1_000_000;
        }
    }

    private final CronService service;
    final int number;
    private final long jitterMillis;
    private volatile boolean stopped;
    private volatile boolean abandoned;
    volatile Call current;

    CronRunner(CronService service, int number) {
        this.service = service;
        this.number = number;
        this.jitterMillis = ThreadLocalRandom.current().nextLong(JITTER.toMillis() + 1);
    }

    void stop() {
        stopped = true;
    }

    /** The watchdog gave up on the current call: its transactions are gone; this runner ends. */
    void abandon() {
        abandoned = true;
    }

    private boolean running() {
        return !stopped && !abandoned;
    }

    @Override
    public void run() {
        Connection listen = null;
        long listenSince = 0;
        boolean recovery = false;
        boolean failing = false;
        Set<String> woken = new LinkedHashSet<>();
        Instant wakeAt = Instant.now();
        while (running()) {
            try {
                if (listen == null || service.tooOld(listenSince)) {
                    close(listen);
                    listen = null;
                    Connection fresh = service.pools().dedicated(ConnectionPools.MAINTENANCE_DATABASE);
                    listen = fresh;
                    listenSince = System.nanoTime();
                    recovery = inRecovery(fresh);
                    if (recovery) {
                        LOG.warn("Cron runner {}: PostgreSQL is in recovery (read only); polling every {} s until it is not",
                                number, RECOVERY_POLL.toSeconds());
                    } else {
                        try (Statement statement = fresh.createStatement()) {
                            statement.execute("LISTEN " + CronSignals.CHANNEL);
                        }
                    }
                    if (failing) {
                        LOG.info("Cron runner {}: PostgreSQL answers again", number);
                        failing = false;
                    }
                }
                if (!waitForWork(listen, recovery, wakeAt, woken, listenSince)) {
                    continue;                 // its connection reached limit_time_worker_cron: a fresh one
                }
                if (!running()) {
                    break;
                }
                if (recovery) {
                    if (inRecovery(listen)) {
                        wakeAt = Instant.now().plus(RECOVERY_POLL);
                    } else {
                        close(listen);        // reconnect and LISTEN, then process at once
                        listen = null;
                        wakeAt = Instant.now();
                    }
                    continue;
                }
                wakeAt = processAll(listen, woken);
            } catch (RuntimeException | SQLException e) {
                if (!running()) {
                    break;
                }
                if (!failing) {
                    LOG.warn("Cron runner {}: {}; trying again every {} s", number, SqlErrors.firstLine(e), RETRY.toSeconds());
                    failing = true;
                }
                close(listen);
                listen = null;
                pause(RETRY);
                wakeAt = Instant.now();
            } catch (VirtualMachineError e) {
                throw e;
            } catch (Error e) {
                // a defect, not an outage: said loudly, and the runner goes on rather than ending unseen
                LOG.error("Cron runner {}: unexpected failure; trying again in {} s", number, RETRY.toSeconds(), e);
                close(listen);
                listen = null;
                pause(RETRY);
                wakeAt = Instant.now();
            }
        }
        close(listen);
    }

    /** Processes the woken databases, then the others; returns when to wake up next. */
    private Instant processAll(Connection listen, Set<String> woken) throws SQLException {
        List<String> databases = service.databases();
        List<String> order = new ArrayList<>();
        for (String db : woken) {
            if (service.serves(db)) {
                order.add(db);
            }
        }
        woken.clear();
        for (String db : databases) {
            if (!order.contains(db)) {
                order.add(db);
            }
        }
        Instant idle = Instant.now().plus(SLEEP).plusMillis(jitterMillis);
        Instant wakeAt = idle;
        for (String db : order) {
            if (!running()) {
                break;
            }
            Instant due = processDatabase(db);
            if (due != null && due.isBefore(wakeAt)) {
                wakeAt = due;
            }
            collect(listen, woken);
        }
        return woken.isEmpty() ? wakeAt : Instant.now();
    }

    /**
     * Sleeps until {@code wakeAt} or a notification, in slices of a second so a stop is seen at once.
     * False when it stopped early because the listening connection is due to be replaced.
     */
    private boolean waitForWork(Connection listen, boolean recovery, Instant wakeAt, Set<String> woken, long listenSince)
            throws SQLException {
        PGConnection postgres = listen.unwrap(PGConnection.class);
        while (running() && woken.isEmpty()) {
            long millis = Duration.between(Instant.now(), wakeAt).toMillis();
            if (millis <= 0) {
                return true;
            }
            if (service.tooOld(listenSince)) {
                LOG.info("Cron runner {}: its connection reached limit_time_worker_cron ({} s); opening a fresh one",
                        number, service.maxAgeSeconds());
                return false;
            }
            int slice = (int) Math.min(millis, 1_000);
            if (recovery) {
                pause(Duration.ofMillis(slice));
                continue;
            }
            add(postgres.getNotifications(slice), woken);
        }
        return true;
    }

    private static void collect(Connection listen, Set<String> woken) throws SQLException {
        add(listen.unwrap(PGConnection.class).getNotifications(), woken);
    }

    private static void add(PGNotification[] notifications, Set<String> woken) {
        if (notifications != null) {
            for (PGNotification notification : notifications) {
                woken.add(notification.getParameter());
            }
        }
    }

    /** Runs every ready job of {@code db}; returns when its next job falls due (null: none). */
    private Instant processDatabase(String db) {
        try (Connection claim = service.pools().connection(db, Isolation.READ_COMMITTED);
             Connection work = service.pools().connection(db)) {
            int[] pids = {pid(claim), pid(work)};
            while (running()) {
                List<Long> ready = CronStore.readyIds(claim);
                if (ready.isEmpty()) {
                    Instant due = CronStore.nextDue(claim);
                    claim.commit();
                    return due;
                }
                claim.commit();
                if (drain(db, claim, work, ready, pids) == 0) {
                    // every ready job is held by another runner: look again shortly
                    return Instant.now().plusSeconds(5);
                }
            }
            return null;
        } catch (SQLException | RuntimeException e) {
            SQLException sql = SqlErrors.rootSqlException(e);
            if ((sql != null && NOT_KILN.contains(sql.getSQLState()))
                    || (e instanceof DatabaseException d && d.reason() == DatabaseException.Reason.NO_SUCH_DATABASE)) {
                return null;        // no cron table (not a Kiln database), or no such database (dropped meanwhile)
            }
            if (running()) {
                LOG.warn("{}: cron runner {}: {}", db, number, SqlErrors.firstLine(e));
            }
            if (e instanceof DatabaseException || (sql != null && SqlErrors.isServerUnavailable(sql.getSQLState()))) {
                // the server, not this database: the runner reconnects before going on
                throw e instanceof RuntimeException r ? r : new IllegalStateException(SqlErrors.firstLine(e), e);
            }
            return null;
        }
    }

    /**
     * Claims and runs the jobs of {@code ready}, a window at a time; returns how many it ran. The
     * reschedule of a call and the claim of the next travel together (see
     * {@link CronStore#finishAndAcquire}).
     */
    private int drain(String db, Connection claim, Connection work, List<Long> ready, int[] pids) throws SQLException {
        int ran = 0;
        Iterator<Long> next = ready.iterator();
        ArrayDeque<Long> window = new ArrayDeque<>(WINDOW);
        CronStore.Claimed job = null;
        while (running()) {
            refill(window, next);
            if (job == null) {
                if (window.isEmpty()) {
                    break;
                }
                job = CronStore.acquire(claim, List.copyOf(window));
                if (job == null) {
                    claim.rollback();
                    window.clear();       // all of them done or held by other runners
                    continue;
                }
            }
            window.remove(job.id());
            refill(window, next);
            Step step = runClaimed(db, claim, work, job, pids, running() ? List.copyOf(window) : List.of());
            if (step.ran()) {
                ran++;
            }
            job = step.next();
            if (job == null && step.triedWindow()) {
                window.clear();           // the pipelined claim found none of them free
            }
        }
        if (job != null) {
            claim.rollback();             // claimed as the runner stopped: left for the next one
        }
        return ran;
    }

    private static void refill(ArrayDeque<Long> window, Iterator<Long> ready) {
        while (window.size() < WINDOW && ready.hasNext()) {
            window.add(ready.next());
        }
    }

    /** How one call ended: whether it ran, and the next job claimed in its last round trip (if it tried). */
    private record Step(boolean ran, CronStore.Claimed next, boolean triedWindow) {

        static Step ended(boolean ran) {
            return new Step(ran, null, false);
        }
    }

    /**
     * One call of a claimed job, to the commit that releases it; when it ends normally, that commit
     * also claims the next job of {@code following}.
     */
    private Step runClaimed(String db, Connection claim, Connection work, CronStore.Claimed job, int[] pids,
                            List<Long> following) throws SQLException {
        Registry registry = service.registries().get(db, work);
        CronStore.Start start = CronStore.start(work, job);
        if (start == null) {
            claim.rollback();         // run by another runner between its listing and our claim
            return Step.ended(false);
        }
        if (start.completedAt() != null) {
            CronStore.finishAndCommit(claim, job, start.completedAt(), false, start.moreToDo());
            LOG.info("{}: cron job '{}' ran at {} but its runner stopped before rescheduling it; rescheduled now",
                    db, job.name(), CronStore.utc(start.completedAt()));
            return Step.ended(true);
        }
        if (start.timedOutCounter() > CronStore.MAX_TIMED_OUT) {
            LOG.error("{}: cron job '{}' did not end in its last {} calls (killed or abandoned); counted as a failure without running it",
                    db, job.name(), CronStore.MAX_TIMED_OUT);
            boolean active = CronStore.finishAndCommit(claim, job, job.now(), true, false);
            warnIfDeactivated(db, job, active);
            return Step.ended(true);
        }
        long started = System.nanoTime();
        CronCall.Result result = execute(db, registry, work, job, pids);
        if (abandoned) {
            return Step.ended(false);  // the watchdog ended its transactions; the claim is gone
        }
        if (stopped && !result.ok()) {
            // cut short by the stop (interrupted at its timeout): not the job's failure; it stays due
            claim.rollback();
            LOG.warn("{}: cron job '{}' was cut short by the stop; it runs again at the next start", db, job.name());
            return Step.ended(false);
        }
        boolean batch = result.ok() && result.remaining() > 0;
        boolean again = batch && result.done() > 0;
        List<Long> window = running() ? following : List.of();
        CronStore.Finished finished = CronStore.finishAndAcquire(claim, job, job.now(), !result.ok(), again, window);
        double seconds = (System.nanoTime() - started) / 1e9;
        if (!result.ok()) {
            LOG.error("{}: cron job '{}' failed ({} in a row) after {} s: {}", db, job.name(), job.failureCount() + 1,
                    String.format("%.3f", seconds), describe(result.failure()), result.failure());
            warnIfDeactivated(db, job, finished.active());
        } else if (batch && !again) {
            LOG.warn("{}: cron job '{}' reported no progress with {} items remaining; it waits for its next call",
                    db, job.name(), result.remaining());
        } else if (LOG.isInfoEnabled()) {
            LOG.info("{}: cron job '{}' done in {} s{}", db, job.name(), String.format("%.3f", seconds),
                    batch ? " (" + result.done() + " done, " + result.remaining() + " remaining: called again)" : "");
        }
        return new Step(true, finished.next(), !window.isEmpty());
    }

    private static void warnIfDeactivated(String db, CronStore.Claimed job, boolean active) {
        if (!active) {
            LOG.warn("{}: cron job '{}' failed {} times in a row since {}: deactivated", db, job.name(),
                    job.failureCount() + 1, CronStore.utc(job.firstFailure()));
        }
    }

    /** The job's code in its own transaction, with the runner's call recorded for the watchdog meanwhile. */
    private CronCall.Result execute(String db, Registry registry, Connection work, CronStore.Claimed job, int[] pids) {
        Call call = new Call(db, job.name(), System.nanoTime(), Thread.currentThread(), pids, new AtomicBoolean());
        current = call;
        try {
            return CronCall.run(service.pools(), db, registry, () -> service.registries().reload(db), work, job,
                    call.interrupted(), this::running, service.limitSeconds());
        } finally {
            current = null;
        }
    }

    private static String describe(Throwable e) {
        String message = e.getMessage() == null ? e.getClass().getName() : e.getMessage();
        return message.lines().findFirst().orElse(message);
    }

    private static boolean inRecovery(Connection connection) throws SQLException {
        try (Statement statement = connection.createStatement();
             ResultSet row = statement.executeQuery("SELECT pg_is_in_recovery()")) {
            row.next();
            return row.getBoolean(1);
        }
    }

    private static int pid(Connection connection) throws SQLException {
        return connection.unwrap(PGConnection.class).getBackendPID();
    }

    private static void rollback(Connection connection) {
        try {
            connection.rollback();
        } catch (SQLException ignored) {
            // a broken connection is dropped by the pool when it comes back
        }
    }

    private static void close(Connection connection) {
        if (connection != null) {
            try {
                connection.close();
            } catch (SQLException ignored) {
                // closing is all that was left to do with it
            }
        }
    }

    private void pause(Duration duration) {
        try {
            Thread.sleep(duration);
        } catch (InterruptedException e) {
            if (!running()) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
