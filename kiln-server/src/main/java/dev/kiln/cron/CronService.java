package dev.kiln.cron;

import dev.kiln.config.Config;
import dev.kiln.cron.store.CronSignals;
import dev.kiln.cron.store.CronStore;
import dev.kiln.db.ConnectionPools;
import dev.kiln.db.Isolation;
import dev.kiln.db.Notifications;
import dev.kiln.db.SqlErrors;
import dev.kiln.logging.ThreadStacks;
import dev.kiln.registry.Registries;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Supplier;

/**
 * The cron runners of one process ({@code --max-cron-threads} of them), Odoo's {@code cron_spawn},
 * woken through the process's {@link Notifications} (a notification on {@link CronSignals#CHANNEL}
 * wakes every runner for the database it names; listening again wakes them all, since triggers may
 * have been missed meanwhile), and their watchdog: a job over {@code limit_time_real_cron} has its stack logged and its thread
 * interrupted; one that still runs {@link #GRACE} later is abandoned — its two backends are
 * terminated, which rolls its transactions back and releases its claim, and a new runner takes the
 * old one's place (the stuck thread is left to finish on its own; it touches nothing any more).
 */
public final class CronService implements Notifications.Subscriber {

    private static final Logger LOG = LoggerFactory.getLogger(CronService.class);
    /** How long an interrupted job has to stop before it is abandoned. */
    static final Duration GRACE = Duration.ofSeconds(5);
    private static final Duration WATCH = Duration.ofMillis(500);

    private final ConnectionPools pools;
    private final Registries registries;
    private final Supplier<List<String>> databases;
    /** {@code -d}'s list: when given, only these, whoever asks; otherwise any database that has Kiln's tables. */
    private final List<String> only;
    private final int threads;
    private final int limitSeconds;
    private final Duration maxAge;
    private final Notifications notifications;
    private final Clock clock;
    private final List<Runner> runners = new CopyOnWriteArrayList<>();
    private volatile boolean running;
    private Thread watchdog;

    private record Runner(CronRunner runner, Thread thread) { }

    /**
     * @param databases the databases to run jobs in: {@code -d}'s list, or every database on the server
     */
    public CronService(Config config, ConnectionPools pools, Registries registries, Supplier<List<String>> databases,
                       Notifications notifications) {
        this(config, config.maxCronThreads(), pools, registries, databases, notifications);
    }

    /** With {@code threads} runners whatever {@code --max-cron-threads} says (a prefork cron worker runs one). */
    public CronService(Config config, int threads, ConnectionPools pools, Registries registries,
                       Supplier<List<String>> databases, Notifications notifications) {
        this(config, threads, pools, registries, databases, notifications, Clock.systemUTC());
    }

    /**
     * @param clock what the runners' sleeps and ages are measured with (a test moves it instead of
     *              waiting); the watchdog's {@code limit_time_real_cron} stays on the monotonic clock
     */
    CronService(Config config, int threads, ConnectionPools pools, Registries registries,
                Supplier<List<String>> databases, Notifications notifications, Clock clock) {
        this.pools = pools;
        this.registries = registries;
        this.databases = databases;
        this.only = List.copyOf(config.dbName());
        this.threads = threads;
        this.limitSeconds = config.effectiveLimitTimeRealCron();
        this.maxAge = Duration.ofSeconds(config.limitTimeWorkerCron());
        this.notifications = notifications;
        this.clock = clock;
    }

    /** Starts the runners; none when {@code --max-cron-threads} is 0. */
    public void start() {
        if (threads <= 0) {
            return;
        }
        running = true;
        notifications.subscribe(CronSignals.CHANNEL, this);
        for (int i = 1; i <= threads; i++) {
            runners.add(spawn(i));
        }
        watchdog = Thread.ofPlatform().daemon().name("kiln-cron-watchdog").start(this::watch);
        LOG.info("Cron: {} runner{} started (limit_time_real_cron {})", threads, threads == 1 ? "" : "s",
                limitSeconds > 0 ? limitSeconds + " s" : "none");
    }

    /** Asks the runners to take no new job; {@link #stop} then waits for them. */
    public synchronized void stopStarting() {
        running = false;
        runners.forEach(r -> r.runner().stop());
    }

    @Override
    public void notified(List<String> databases) {
        List<String> served = databases.stream().filter(this::serves).distinct().toList();
        if (!served.isEmpty()) {
            runners.forEach(r -> r.runner().wake(served));
        }
    }

    @Override
    public void catchUp() {
        runners.forEach(r -> r.runner().poke());
    }

    /** Whether PostgreSQL is in recovery (a hot standby): runners run nothing meanwhile. */
    boolean inRecovery() {
        return notifications.inRecovery();
    }

    /**
     * {@code limit_time_worker_cron}: {@code old} ends, between two passes, and a fresh runner
     * (a new thread: whatever the old one's thread-locals held goes with it) takes its number.
     */
    synchronized void replace(CronRunner old) {
        for (int i = 0; i < runners.size(); i++) {
            if (runners.get(i).runner() == old && running) {
                runners.set(i, spawn(old.number));
            }
        }
    }

    /** How many runners run now (what {@code kiln ctl status --json} reports as {@code cron_runners}). */
    public int runnersRunning() {
        return (int) runners.stream().filter(r -> r.thread().isAlive()).count();
    }

    /** The threads of the runners now, by number order (for tests: a replaced runner has a new one). */
    List<Thread> runnerThreads() {
        return runners.stream().map(Runner::thread).toList();
    }

    /**
     * Asks the runners to stop and waits up to {@code timeout} for the calls in progress to end;
     * a call still running then is cut short when the process exits (its transaction rolls back).
     */
    public boolean stop(Duration timeout) {
        stopStarting();
        long deadline = System.nanoTime() + timeout.toNanos();
        boolean clean = true;
        for (Runner r : runners) {
            try {
                long left = Math.max(1, (deadline - System.nanoTime()) / 1_000_000);
                if (!r.thread().join(Duration.ofMillis(left))) {
                    clean = false;
                    r.thread().interrupt();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                clean = false;
            }
        }
        if (watchdog != null) {
            watchdog.interrupt();
        }
        return clean;
    }

    ConnectionPools pools() {
        return pools;
    }

    Registries registries() {
        return registries;
    }

    List<String> databases() {
        return databases.get();
    }

    /**
     * Whether a database named in a wake-up is one to run jobs in: with {@code -d}, one of its list;
     * otherwise any (a database created a moment ago may not be in the cached list yet).
     */
    boolean serves(String db) {
        return only.isEmpty() || only.contains(db);
    }

    int limitSeconds() {
        return limitSeconds;
    }

    long maxAgeSeconds() {
        return maxAge.toSeconds();
    }

    /** Whether a runner born at {@code born} has lived past {@code limit_time_worker_cron}. */
    boolean tooOld(Instant born) {
        return maxAge.isPositive() && clock.instant().isAfter(born.plus(maxAge));
    }

    private Runner spawn(int number) {
        CronRunner runner = new CronRunner(this, number, clock);
        Thread thread = Thread.ofPlatform().daemon().name("kiln-cron-" + number).start(runner);
        return new Runner(runner, thread);
    }

    private void watch() {
        while (running) {
            try {
                Thread.sleep(WATCH);
            } catch (InterruptedException e) {
                return;
            }
            if (limitSeconds <= 0) {
                continue;
            }
            for (Runner r : runners) {
                try {
                    check(r);
                } catch (RuntimeException e) {
                    LOG.error("Cron watchdog: {}", e.toString(), e);
                }
            }
        }
    }

    private void check(Runner r) {
        CronRunner.Call call = r.runner().current;
        if (call == null) {
            return;
        }
        long limitMillis = limitSeconds * 1000L;
        long elapsed = call.elapsedMillis();
        if (elapsed > limitMillis && call.interrupted().compareAndSet(false, true)) {
            LOG.warn("{}: cron job '{}' over limit_time_real_cron ({} s > {} s) on {}: interrupting it; its stack:\n{}",
                    call.database(), call.job(), elapsed / 1000, limitSeconds, call.thread().getName(), ThreadStacks.of(call.thread()));
            call.thread().interrupt();
        } else if (call.interrupted().get() && elapsed > limitMillis + GRACE.toMillis() && r.runner().current == call) {
            r.runner().abandon();
            terminate(call);
            LOG.error("{}: cron job '{}' did not stop within {} s of its interruption: its transactions were ended"
                    + " (claim released) and runner {} replaced", call.database(), call.job(), GRACE.toSeconds(), r.runner().number);
            replace(r.runner());
        }
    }

    /** Ends the backends of an abandoned call: PostgreSQL rolls their transactions back and drops the lock. */
    private void terminate(CronRunner.Call call) {
        try (Connection connection = pools.connection(ConnectionPools.MAINTENANCE_DATABASE, Isolation.READ_COMMITTED)) {
            CronStore.terminate(connection, call.backendPids());
            connection.commit();
        } catch (SQLException | RuntimeException e) {
            LOG.error("{}: could not end the transactions of cron job '{}': {}", call.database(), call.job(), SqlErrors.firstLine(e));
        }
    }
}
