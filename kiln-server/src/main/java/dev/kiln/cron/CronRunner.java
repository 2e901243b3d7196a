package dev.kiln.cron;

import dev.kiln.cron.store.CronStore;
import dev.kiln.db.DatabaseException;
import dev.kiln.db.Isolation;
import dev.kiln.db.Notifications;
import dev.kiln.db.SqlErrors;
import dev.kiln.metrics.KilnMetrics;
import dev.kiln.registry.Registry;
import org.postgresql.PGConnection;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One cron runner, Odoo's cron thread: it sleeps until woken by a notification of a database it
 * serves (see {@link CronService}), until the next job falls due, or for a minute (plus a jitter
 * of its own, so runners of many processes do not poll together), then processes the databases:
 * those it was woken for first, then all the others. In each it takes the ready jobs one at a time
 * (see {@link CronStore}) until none is left. While PostgreSQL is in recovery (a hot standby, read
 * only) it runs nothing and looks again every {@link Notifications#RECOVERY_POLL}. A runner that has
 * lived {@code limit_time_worker_cron} ends between two passes and the service starts a fresh one
 * in its place. A failing job, a database that cannot be reached, or PostgreSQL restarting never
 * stops the runner: it logs, waits a little and goes on.
 */
final class CronRunner implements Runnable {

    private static final Logger LOG = LoggerFactory.getLogger(CronRunner.class);
    /** Odoo's SLEEP_INTERVAL: the longest a runner sleeps without being woken. */
    static final Duration SLEEP = Duration.ofSeconds(60);
    private static final Duration JITTER = Duration.ofSeconds(5);
    private static final Duration RETRY = Duration.ofSeconds(2);
    /** The longest one wait lasts: a stop, a clock moved or PostgreSQL entering recovery is seen within it. */
    private static final long SLICE_MILLIS = 1_000;
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
    private final Clock clock;
    final int number;
    private final Instant born;
    private final long jitterMillis;
    /** Databases named by notifications since the last pass; guarded by {@code this}. */
    private final Set<String> woken = new LinkedHashSet<>();
    /** Woken to process everything at once (the listener listens again); guarded by {@code this}. */
    private boolean poked;
    private volatile boolean stopped;
    private volatile boolean abandoned;
    volatile Call current;

    CronRunner(CronService service, int number, Clock clock) {
        this.service = service;
        this.number = number;
        this.clock = clock;
        this.born = clock.instant();
        this.jitterMillis = ThreadLocalRandom.current().nextLong(JITTER.toMillis() + 1);
    }

    void stop() {
        stopped = true;
        poke();
    }

    /** The watchdog gave up on the current call: its transactions are gone; this runner ends. */
    void abandon() {
        abandoned = true;
    }

    /** Wakes the runner for {@code databases}: it processes them first, at once. */
    synchronized void wake(Collection<String> databases) {
        woken.addAll(databases);
        notifyAll();
    }

    /** Wakes the runner to process every database at once. */
    synchronized void poke() {
        poked = true;
        notifyAll();
    }

    private boolean running() {
        return !stopped && !abandoned;
    }

    @Override
    public void run() {
        boolean recovery = false;
        boolean failing = false;
        Instant wakeAt = clock.instant();
        while (running()) {
            try {
                if (service.tooOld(born)) {
                    LOG.info("Cron runner {}: it reached limit_time_worker_cron ({} s); a fresh runner takes its place",
                            number, service.maxAgeSeconds());
                    service.replace(this);
                    return;
                }
                awaitWork(wakeAt, recovery);
                if (!running()) {
                    break;
                }
                if (service.inRecovery()) {
                    if (!recovery) {
                        LOG.warn("Cron runner {}: PostgreSQL is in recovery (read only); polling every {} s until it is not",
                                number, Notifications.RECOVERY_POLL.toSeconds());
                        recovery = true;
                    }
                    wakeAt = clock.instant().plus(Notifications.RECOVERY_POLL);
                    continue;
                }
                recovery = false;
                wakeAt = processAll(takeWoken());
                if (failing) {
                    LOG.info("Cron runner {}: PostgreSQL answers again", number);
                    failing = false;
                }
            } catch (RuntimeException e) {
                if (!running()) {
                    break;
                }
                if (!failing) {
                    LOG.warn("Cron runner {}: {}; trying again every {} s", number, SqlErrors.firstLine(e), RETRY.toSeconds());
                    failing = true;
                }
                wakeAt = clock.instant().plus(RETRY);
            } catch (VirtualMachineError e) {
                throw e;
            } catch (Error e) {
                // a defect, not an outage: said loudly, and the runner goes on rather than ending unseen
                LOG.error("Cron runner {}: unexpected failure; trying again in {} s", number, RETRY.toSeconds(), e);
                wakeAt = clock.instant().plus(RETRY);
            }
        }
    }

    /**
     * Sleeps until {@code wakeAt} or a wake-up, in slices of a second so that a stop, a clock moved
     * forward, the runner's age or a change of PostgreSQL's recovery state is seen within one.
     */
    private synchronized void awaitWork(Instant wakeAt, boolean recovery) {
        while (running() && woken.isEmpty() && !poked && service.inRecovery() == recovery && !service.tooOld(born)) {
            long millis = Duration.between(clock.instant(), wakeAt).toMillis();
            if (millis <= 0) {
                return;
            }
            try {
                wait(Math.min(millis, SLICE_MILLIS));
            } catch (InterruptedException e) {
                if (!running()) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    /** The databases woken for since the last pass, in the order heard; clears them. */
    private synchronized Set<String> takeWoken() {
        Set<String> taken = new LinkedHashSet<>(woken);
        woken.clear();
        poked = false;
        return taken;
    }

    private synchronized boolean wokenMeanwhile() {
        return !woken.isEmpty() || poked;
    }

    /** Processes the woken databases, then the others; returns when to wake up next. */
    private Instant processAll(Set<String> woken) {
        List<String> databases = service.databases();
        List<String> order = new ArrayList<>();
        for (String db : woken) {
            if (service.serves(db)) {
                order.add(db);
            }
        }
        for (String db : databases) {
            if (!order.contains(db)) {
                order.add(db);
            }
        }
        Instant idle = clock.instant().plus(SLEEP).plusMillis(jitterMillis);
        Instant wakeAt = idle;
        for (String db : order) {
            if (!running()) {
                break;
            }
            Instant due = processDatabase(db);
            if (due != null && due.isBefore(wakeAt)) {
                wakeAt = due;
            }
        }
        return wokenMeanwhile() ? clock.instant() : wakeAt;
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
                    return clock.instant().plusSeconds(5);
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
        KilnMetrics.cronStarted(Duration.between(job.nextcall(), job.now()).toNanos());
        CronCall.Result result;
        String outcome = "failed";
        try {
            result = execute(db, registry, work, job, pids);
            outcome = abandoned ? "abandoned" : stopped && !result.ok() ? "stopped" : result.ok() ? "ok" : "failed";
        } finally {
            KilnMetrics.cronEnded(db, job.name(), outcome, System.nanoTime() - started);
        }
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

    private static int pid(Connection connection) throws SQLException {
        return connection.unwrap(PGConnection.class).getBackendPID();
    }
}
