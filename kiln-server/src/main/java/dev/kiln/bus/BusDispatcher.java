package dev.kiln.bus;

import dev.kiln.api.Bus;
import dev.kiln.api.HttpException;
import dev.kiln.db.ConnectionPools;
import dev.kiln.db.DatabaseException;
import dev.kiln.db.Isolation;
import dev.kiln.db.Notifications;
import dev.kiln.db.SqlErrors;
import dev.kiln.metrics.KilnMetrics;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The bus of one process, Odoo's {@code ImDispatch}: subscribed to {@link BusSignals#CHANNEL} on the
 * process's {@link Notifications}, it reads what is new in the notified database once
 * ({@link RecentMessages}) and wakes the subscribers of the notified channels, who then take their
 * messages from there ({@link #read}; from the table only when they are further behind). A long poll
 * waits for its wake-up ({@link #poll}); a websocket registers a callback instead ({@link #subscribe}),
 * which the listener thread runs and which must only hand the read over to another thread.
 *
 * <p>A subscriber registers before its first read, and every time the listener starts listening
 * (again) every subscriber is woken: so a message committed while nobody listened — before the
 * first {@code LISTEN}, or while PostgreSQL restarted — is read from the subscriber's last id, never
 * missed. {@link #stop} ends every pending poll with no message.
 *
 * <p>A waiting poll holds no database connection (its request gave its own back, see
 * {@link TransactionBus#poll}), and reads only when woken, from the latest messages the listener
 * read, or from the table when it is further behind. Polls waiting at once are bounded per client
 * address and per database ({@link Limits}): one more is refused with a 429. Reads from the table,
 * by polls and websockets alike, use at most half of {@code db_maxconn} at once, so that bus
 * clients, however many, always leave connections to the requests that work.
 *
 * <p>One per process, made by the composition root and handed to whoever polls or subscribes.
 */
public final class BusDispatcher implements Notifications.Subscriber {

    private static final Logger LOG = LoggerFactory.getLogger(BusDispatcher.class);
    /** What a refused poll is told: come back then (a client's next poll after a refusal). */
    static final Duration RETRY_AFTER = Duration.ofSeconds(5);

    /**
     * How many polls may wait at once: from one client address, and on one database in this
     * process. Beyond, a poll is refused with a 429.
     */
    public record Limits(int perClient, int perDatabase) {
        public static final Limits DEFAULT = new Limits(64, 4096);

        public Limits {
            if (perClient < 1 || perDatabase < 1) {
                throw new IllegalArgumentException("bus limits must be at least 1, not " + perClient + " and " + perDatabase);
            }
        }
    }

    private final ConnectionPools pools;
    private final Set<Subscriber> subscribers = ConcurrentHashMap.newKeySet();
    /** Per database subscribed to: its latest messages, read once per notification for every subscriber. */
    private final Map<String, RecentMessages> recent = new ConcurrentHashMap<>();
    private final Map<String, Integer> waitingPerClient = new ConcurrentHashMap<>();
    private final Map<String, Integer> waitingPerDatabase = new ConcurrentHashMap<>();
    /** The connections reads from the table may use at once: half of db_maxconn, the rest kept for requests. */
    private final Semaphore tableReads;
    /** Table reads under way, and the next of each, which identical reads wait for ({@link #read}). */
    private final Map<TableRead, Flight> tableReadsInFlight = new ConcurrentHashMap<>();
    private final AtomicLong tableQueries = new AtomicLong();
    private final Limits limits;
    private volatile boolean stopped;
    private volatile boolean heard;

    /**
     * @param limits how many polls may wait at once (the server's {@code bus_max_polls_*} options)
     */
    public BusDispatcher(ConnectionPools pools, Notifications notifications, Limits limits) {
        this.pools = pools;
        this.limits = limits;
        this.tableReads = new Semaphore(Math.max(1, pools.maxConnections() / 2), true);
        notifications.subscribe(BusSignals.CHANNEL, this);
    }

    /**
     * Pending polls end at once with no message, and later ones answer at once the same way (the
     * server is stopping); websocket subscribers are woken to see {@link #stopped}.
     */
    public void stop() {
        stopped = true;
        subscribers.forEach(Subscriber::wake);
        LOG.info("Bus: stopped");
    }

    /**
     * See {@link Bus#poll}; {@code db} is the database whose channels are read, {@code client} the
     * address the poll came from (null when none: a call from inside the server).
     *
     * @throws HttpException.TooManyRequests when {@code client} or {@code db} has as many polls
     *         waiting as {@link Limits} allows
     */
    public List<Bus.Message> poll(String db, String client, Collection<String> channels, long lastId, Duration timeout)
            throws InterruptedException {
        if (channels.isEmpty()) {
            return List.of();
        }
        admit(db, client);
        Subscriber subscriber = new Subscriber(db, Set.copyOf(channels), null);
        KilnMetrics.longPoll(1);
        try {
            follow(db);
            subscribers.add(subscriber);
            if (stopped) {
                return List.of();
            }
            long deadline = System.nanoTime() + timeout.toNanos();
            while (true) {
                subscriber.clear();
                List<Bus.Message> messages = read(db, channels, lastId);
                if (!messages.isEmpty() || stopped) {
                    if (!stopped) {
                        KilnMetrics.busDelivered("longpoll", messages.size());
                    }
                    return stopped ? List.of() : messages;
                }
                long left = deadline - System.nanoTime();
                if (left <= 0 || !subscriber.await(left) || stopped) {
                    return List.of();
                }
            }
        } finally {
            subscribers.remove(subscriber);
            leave(db, client);
            KilnMetrics.longPoll(-1);
        }
    }

    /** Counts one more poll waiting from {@code client} on {@code db}, or refuses it when either is at its limit. */
    private void admit(String db, String client) {
        Limits current = limits;
        if (client != null && !increment(waitingPerClient, client, current.perClient())) {
            throw new HttpException.TooManyRequests("too many polls from this address are waiting ("
                    + current.perClient() + "); poll again later", RETRY_AFTER);
        }
        if (!increment(waitingPerDatabase, db, current.perDatabase())) {
            if (client != null) {
                decrement(waitingPerClient, client);
            }
            throw new HttpException.TooManyRequests("too many clients are waiting on the bus of this database ("
                    + current.perDatabase() + "); poll again later", RETRY_AFTER);
        }
    }

    /** One more under {@code key} unless it is at {@code limit}; whether it was counted. */
    private static boolean increment(Map<String, Integer> counts, String key, int limit) {
        boolean[] counted = {false};
        counts.compute(key, (k, n) -> {
            int now = n == null ? 0 : n;
            counted[0] = now < limit;
            return counted[0] ? now + 1 : n;
        });
        return counted[0];
    }

    private void leave(String db, String client) {
        decrement(waitingPerDatabase, db);
        if (client != null) {
            decrement(waitingPerClient, client);
        }
    }

    /** One less under {@code key}; the key goes when none is left, so the map holds only who waits now. */
    private static void decrement(Map<String, Integer> counts, String key) {
        counts.computeIfPresent(key, (k, n) -> n <= 1 ? null : n - 1);
    }

    /**
     * Registers {@code onWake} for {@code channels} of {@code db} until the returned subscription is
     * closed: it runs once at once (to read what is already there), on every notification of those
     * channels and after every reconnection of the listener, on the listener's thread — so it must
     * not block; it reads with {@link #read} elsewhere, from its own last id. Nothing runs once stopped.
     */
    public Subscription subscribe(String db, Collection<String> channels, Runnable onWake) {
        Subscriber subscriber = new Subscriber(db, Set.copyOf(channels), onWake);
        follow(db);
        subscribers.add(subscriber);
        subscriber.wake();
        return () -> subscribers.remove(subscriber);
    }

    /** A {@link #subscribe} registration; closing it ends the wake-ups. */
    public interface Subscription extends AutoCloseable {
        @Override
        void close();
    }

    /** Whether {@link #stop} was called: subscribers should end. */
    public boolean stopped() {
        return stopped;
    }

    /** Queries {@link #read} made on the table so far (for tests and statistics). */
    long tableQueries() {
        return tableQueries.get();
    }

    /** Pending subscribers now (for tests and statistics). */
    public int subscribers() {
        return subscribers.size();
    }

    /**
     * The messages of {@code channels} of {@code db} above {@code lastId}, in id order: from the
     * messages the dispatcher read last when they go back far enough, else from the table (one
     * short transaction).
     */
    public List<Bus.Message> read(String db, Collection<String> channels, long lastId) {
        RecentMessages latest = recent.get(db);
        List<Bus.Message> cached = latest == null ? null : latest.read(channels, lastId);
        if (cached != null) {
            return cached;
        }
        // Identical reads share their query: at most one runs at a time, and whoever comes meanwhile
        // waits for the next one, which starts when it ends (so it sees everything committed before
        // they came) and serves them all. A thousand fresh clients (last id 0) of one channel woken
        // together make two queries, not a thousand queued for the connections bus reads may use.
        TableRead key = new TableRead(db, channels.stream().sorted().distinct().toList(), lastId);
        Turn[] turn = new Turn[1];
        tableReadsInFlight.compute(key, (k, flight) -> {
            if (flight == null) {
                turn[0] = new Turn(new CompletableFuture<>(), null, true);
                return new Flight(turn[0].read());
            }
            if (flight.next == null) {
                flight.next = new CompletableFuture<>();
                turn[0] = new Turn(flight.next, flight.running, true);
            } else {
                turn[0] = new Turn(flight.next, null, false);
            }
            return flight;
        });
        Turn mine = turn[0];
        if (!mine.leads()) {
            return joined(mine.read());
        }
        if (mine.after() != null) {
            mine.after().exceptionally(e -> null).join();
        }
        List<Bus.Message> messages;
        try {
            messages = readTable(key);
        } catch (Throwable e) {
            handOver(key);
            mine.read().completeExceptionally(e);
            throw e;
        }
        handOver(key);
        mine.read().complete(messages);
        return messages;
    }

    /** A read of {@code key} ends: the next one, if anyone waits for it, becomes the one under way. */
    private void handOver(TableRead key) {
        tableReadsInFlight.compute(key, (k, flight) -> {
            if (flight.next == null) {
                return null;
            }
            flight.running = flight.next;           // its leader starts once this read is complete
            flight.next = null;
            return flight;
        });
    }

    /**
     * A caller's part in a shared table read: the read whose answer it takes, and whether it runs
     * that read itself ({@code leads}), once the read under way ({@code after}) is complete.
     */
    private record Turn(CompletableFuture<List<Bus.Message>> read, CompletableFuture<List<Bus.Message>> after,
                        boolean leads) { }

    /** The table read of a {@link TableRead} under way, and the one that callers who came meanwhile wait for. */
    private static final class Flight {
        CompletableFuture<List<Bus.Message>> running;
        CompletableFuture<List<Bus.Message>> next;

        Flight(CompletableFuture<List<Bus.Message>> running) {
            this.running = running;
        }
    }

    /** What a table read reads: the channels sorted, so that the same set in another order shares it. */
    private record TableRead(String db, List<String> channels, long lastId) { }

    private static List<Bus.Message> joined(CompletableFuture<List<Bus.Message>> read) {
        try {
            return read.join();
        } catch (CompletionException e) {
            throw e.getCause() instanceof RuntimeException cause ? cause : e;
        }
    }

    /** One short transaction on the table, once a connection for bus reads is free. */
    private List<Bus.Message> readTable(TableRead read) {
        String db = read.db();
        try {
            if (!tableReads.tryAcquire(ConnectionPools.DEFAULT_CONNECTION_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
                throw new DatabaseException(DatabaseException.Reason.POOL_EXHAUSTED, "database '" + db
                        + "': every connection bus clients may use (half of db_maxconn) stayed busy for "
                        + ConnectionPools.DEFAULT_CONNECTION_TIMEOUT.toSeconds() + " s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DatabaseException(DatabaseException.Reason.POOL_EXHAUSTED, "database '" + db
                    + "': interrupted while waiting to read the bus", e);
        }
        try (Connection connection = pools.connection(db, Isolation.READ_COMMITTED)) {
            List<Bus.Message> messages = List.copyOf(BusStore.read(connection, read.channels(), read.lastId()));
            connection.commit();
            tableQueries.incrementAndGet();
            KilnMetrics.busTableRead();
            return messages;
        } catch (SQLException e) {
            throw new DatabaseException(DatabaseException.Reason.FAILED, "database '" + db + "': reading the bus: "
                    + SqlErrors.firstLine(e), e);
        } finally {
            tableReads.release();
        }
    }

    /** Listening (again): what was committed while nobody listened is read by every subscriber from its last id. */
    @Override
    public void catchUp() {
        LOG.info(heard ? "Bus: listening again; every waiting client reads from its last message"
                : "Bus: listening for notifications");
        heard = true;
        recent.values().forEach(RecentMessages::startOver);
        recent.keySet().forEach(this::refresh);
        subscribers.forEach(Subscriber::wake);
    }

    @Override
    public void notified(List<String> payloads) {
        long arrived = System.nanoTime();
        List<BusSignals.Notice> notices = new ArrayList<>();
        for (String payload : payloads) {
            try {
                notices.add(BusSignals.parse(payload));
            } catch (RuntimeException e) {
                LOG.warn("Bus: ignoring a notification that cannot be read ({}): {}", e.toString(), payload);
            }
        }
        // once per database, however many notifications came together
        notices.stream().map(BusSignals.Notice::database).distinct().filter(recent::containsKey).forEach(this::refresh);
        for (BusSignals.Notice notice : notices) {
            try {
                for (Subscriber subscriber : subscribers) {
                    if (subscriber.listensTo(notice)) {
                        subscriber.wake();
                    }
                }
            } catch (RuntimeException e) {
                LOG.warn("Bus: waking the subscribers of {} failed: {}", notice.database(), e.toString());
            }
        }
        if (!notices.isEmpty()) {
            KilnMetrics.busDispatched(System.nanoTime() - arrived);
        }
    }

    /** Keeps the latest messages of {@code db} from now on: its first subscriber's thread reads where they start. */
    private void follow(String db) {
        if (!recent.containsKey(db) && recent.putIfAbsent(db, new RecentMessages()) == null) {
            refresh(db);
        }
    }

    /** Reads what is new in {@code db} for every subscriber; on failure they read the table themselves. */
    private void refresh(String db) {
        RecentMessages latest = recent.get(db);
        try (Connection connection = pools.connection(db, Isolation.READ_COMMITTED)) {
            latest.refresh(connection);
            connection.commit();
        } catch (SQLException | RuntimeException e) {
            latest.startOver();
            LOG.debug("Bus: reading the new messages of {} failed ({}); subscribers read them themselves", db, e.toString());
        }
    }

    /**
     * One waiting client: its database and channels, and a flag the listener raises to make it read
     * again (a poll), or a callback it runs (a websocket).
     */
    private static final class Subscriber {
        private final String db;
        private final Set<String> channels;
        private final Runnable onWake;
        private boolean woken;

        Subscriber(String db, Set<String> channels, Runnable onWake) {
            this.db = db;
            this.channels = channels;
            this.onWake = onWake;
        }

        boolean listensTo(BusSignals.Notice notice) {
            if (!notice.database().equals(db)) {
                return false;
            }
            if (notice.channels().isEmpty()) {
                return true;
            }
            for (String channel : notice.channels()) {
                if (channels.contains(channel)) {
                    return true;
                }
            }
            return false;
        }

        synchronized void clear() {
            woken = false;
        }

        void wake() {
            if (onWake != null) {
                try {
                    onWake.run();
                } catch (RuntimeException e) {
                    LOG.warn("Bus: a subscriber failed on its wake-up: {}", e.toString());
                }
                return;
            }
            synchronized (this) {
                woken = true;
                notifyAll();
            }
        }

        /** Waits up to {@code nanos} for a wake-up; false when none came. */
        synchronized boolean await(long nanos) throws InterruptedException {
            long deadline = System.nanoTime() + nanos;
            while (!woken) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                TimeUnit.NANOSECONDS.timedWait(this, left);
            }
            return true;
        }
    }
}
