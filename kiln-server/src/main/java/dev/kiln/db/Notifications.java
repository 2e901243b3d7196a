package dev.kiln.db;

import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.regex.Pattern;

/**
 * The one {@code LISTEN} connection of a process: one platform thread, one connection of its own
 * to the maintenance database (a listener hears only its own database; Kiln's notifiers all notify
 * there, see {@link ConnectionPools#notifyServer}), listening on every channel subscribed to. The
 * registry signals, the bus and the cron runners subscribe here instead of each keeping a
 * connection and a reconnect loop.
 *
 * <p>The contract with a {@link Subscriber}: {@link Subscriber#notified} runs for the
 * notifications of its channel, and {@link Subscriber#catchUp} runs each time its channel starts
 * being listened to — the first {@code LISTEN} after it subscribed and every one after a
 * reconnection — after the {@code LISTEN} took effect: what was notified before (while connecting,
 * while PostgreSQL restarted) was missed, and the subscriber catches up by reading the state itself.
 * Both run on the listener's thread and must not block; a callback that throws is logged and the
 * others still run.
 *
 * <p>A hot standby refuses {@code LISTEN}: while PostgreSQL is in recovery the listener listens to
 * nothing, says so through {@link #inRecovery}, and asks again every {@link #RECOVERY_POLL}; once
 * promoted, it listens and calls every {@link Subscriber#catchUp}. A lost connection is opened
 * again every {@link #RETRY}. The loop only ends with {@link #close}. Not started (a command-line
 * tool), it never listens: {@link #listening} stays false and subscribers read the state themselves.
 */
public final class Notifications implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(Notifications.class);
    static final Duration RETRY = Duration.ofSeconds(1);
    /** As Odoo's cron threads on a standby: how often to ask whether PostgreSQL was promoted. */
    public static final Duration RECOVERY_POLL = Duration.ofSeconds(10);
    /** How long one wait for notifications lasts: a new channel or a close is seen within it. */
    private static final int SLICE_MILLIS = 1_000;
    /** How long {@link #close} waits for the listener: a slice of waiting for notifications, and more. */
    private static final Duration CLOSE_WAIT = Duration.ofSeconds(3);
    /** Channels are written into the LISTEN statement: Kiln's own names only. */
    private static final Pattern CHANNEL = Pattern.compile("[a-z_][a-z0-9_]*");

    /** Told of one channel's notifications, and when it may have missed some. */
    public interface Subscriber {

        /**
         * The payloads of the channel's notifications that arrived together, in their order: a
         * subscriber that reads once per burst (the bus, once per database) does so once.
         */
        void notified(List<String> payloads);

        /**
         * The channel is listened to from now on, and was not a moment ago: read what may have
         * changed unheard.
         */
        void catchUp();
    }

    private final ConnectionPools pools;
    private final Map<String, List<Subscriber>> subscribers = new ConcurrentHashMap<>();
    /** Subscribers whose channel was not listened to when they came, told once it is. */
    private final Set<Subscriber> pending = ConcurrentHashMap.newKeySet();
    private volatile boolean connected;
    private volatile boolean recovery;
    private volatile boolean running = true;
    private volatile Set<String> listened = Set.of();
    /** Whether {@link #listened} holds every channel subscribed to; written under this object's lock. */
    private volatile boolean complete = true;
    private Thread thread;
    /** The listener's connection while it has one: {@link #close} aborts it to end a wait at once. */
    private volatile Connection open;

    public Notifications(ConnectionPools pools) {
        this.pools = pools;
    }

    /**
     * Subscribes to {@code channel} for the life of this listener; its {@link Subscriber#catchUp}
     * runs once the channel is listened to (within a second when the listener is connected).
     */
    public void subscribe(String channel, Subscriber subscriber) {
        if (!CHANNEL.matcher(channel).matches()) {
            throw new IllegalArgumentException("notification channel '" + channel + "': lower-case letters, digits and _ only");
        }
        pending.add(subscriber);
        synchronized (this) {
            subscribers.computeIfAbsent(channel, c -> new CopyOnWriteArrayList<>()).add(subscriber);
            if (!listened.contains(channel)) {
                complete = false;
            }
        }
    }

    /** Starts listening; a second call does nothing. */
    public synchronized void start() {
        if (thread == null && running) {
            thread = Thread.ofPlatform().daemon().name("kiln-notifications").start(this::run);
        }
    }

    /** True while every channel subscribed to is listened to: nothing notified from now on is missed. */
    public boolean listening() {
        return connected && complete;        // asked on every request: no set comparison here
    }

    /** True while PostgreSQL is in recovery (a hot standby: read only, no {@code LISTEN}). */
    public boolean inRecovery() {
        return recovery;
    }

    /**
     * Stops listening and waits (up to {@link #CLOSE_WAIT}) for the listener's connection to close:
     * an in-place restart execs right after, and a connection still opening then would reach the
     * next image, listening unread.
     */
    @Override
    public void close() {
        Thread listener;
        synchronized (this) {
            running = false;
            listener = thread;
        }
        if (listener != null && listener != Thread.currentThread()) {
            Connection connection = open;
            if (connection != null) {
                try {
                    // an interrupt does not end a read on a socket: the wait for notifications
                    // would hold a stop (and an in-place restart's queued requests) up to a slice
                    connection.abort(Runnable::run);
                } catch (SQLException | RuntimeException e) {
                    LOG.debug("Notifications: aborting the listener's connection: {}", e.toString());
                }
            }
            listener.interrupt();
            try {
                listener.join(CLOSE_WAIT);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void run() {
        boolean failing = false;
        while (running) {
            try (Connection connection = pools.dedicated(ConnectionPools.MAINTENANCE_DATABASE)) {
                open = connection;
                if (!running) {
                    continue;       // closed while it connected: close() found no connection to abort
                }
                if (!awaitPrimary(connection)) {
                    continue;
                }
                if (failing) {
                    LOG.info("Notifications: listening again; every subscriber reads what it may have missed");
                    failing = false;
                }
                PGConnection postgres = connection.unwrap(PGConnection.class);
                while (running) {
                    listenToNewChannels(connection);
                    dispatch(postgres.getNotifications(SLICE_MILLIS));
                }
            } catch (SQLException | RuntimeException e) {
                if (running && !failing) {
                    LOG.warn("Notifications: {}; connecting again every {} s", SqlErrors.firstLine(e), RETRY.toSeconds());
                    failing = true;
                }
            } catch (VirtualMachineError e) {
                throw e;
            } catch (Error e) {
                // a defect, not an outage: said loudly, and the listener goes on rather than ending unseen
                LOG.error("Notifications: unexpected failure; connecting again in {} s", RETRY.toSeconds(), e);
                failing = true;
            } finally {
                open = null;
                connected = false;
                listened = Set.of();
                pending.clear();
                subscribers.values().forEach(pending::addAll);     // all of them catch up after the next LISTEN
            }
            pause(RETRY);
        }
    }

    /**
     * Waits while PostgreSQL is in recovery, asking every {@link #RECOVERY_POLL}; false when it
     * stopped waiting to be closed.
     */
    private boolean awaitPrimary(Connection connection) throws SQLException {
        while (running && inRecovery(connection)) {
            if (!recovery) {
                LOG.warn("Notifications: PostgreSQL is in recovery (read only, no LISTEN); asking again every {} s",
                        RECOVERY_POLL.toSeconds());
                recovery = true;
            }
            pause(RECOVERY_POLL);
        }
        if (recovery && running) {
            LOG.info("Notifications: PostgreSQL is out of recovery");
        }
        recovery = false;
        return running;
    }

    /**
     * LISTENs on every channel, in one statement so that {@code pg_stat_activity} shows them all on
     * this connection, once some channel is not listened to yet; then tells the subscribers that
     * were waiting for it, and only then counts as connected (a reader of {@link #listening} that
     * sees true also sees what their catch-up marked).
     */
    private void listenToNewChannels(Connection connection) throws SQLException {
        Set<String> channels = new TreeSet<>(subscribers.keySet());
        Set<String> now = listened;
        if (!(connected && now.containsAll(channels))) {
            if (!channels.isEmpty()) {
                try (Statement statement = connection.createStatement()) {
                    statement.execute("DO 'BEGIN " + channels.stream().map(c -> "LISTEN " + c + "; ")
                            .reduce("", String::concat) + "END'");
                }
            }
            now = Set.copyOf(channels);
        }
        if (!pending.isEmpty()) {
            for (Map.Entry<String, List<Subscriber>> channel : subscribers.entrySet()) {
                if (now.contains(channel.getKey())) {
                    for (Subscriber subscriber : channel.getValue()) {
                        if (pending.remove(subscriber)) {
                            call(subscriber::catchUp);
                        }
                    }
                }
            }
        }
        synchronized (this) {
            listened = now;
            complete = now.containsAll(subscribers.keySet());
        }
        connected = true;
    }

    private void dispatch(PGNotification[] notifications) {
        if (notifications == null) {
            return;
        }
        Map<String, List<String>> byChannel = new LinkedHashMap<>();
        for (PGNotification notification : notifications) {
            byChannel.computeIfAbsent(notification.getName(), c -> new ArrayList<>()).add(notification.getParameter());
        }
        byChannel.forEach((channel, payloads) -> {
            for (Subscriber subscriber : subscribers.getOrDefault(channel, List.of())) {
                call(() -> subscriber.notified(payloads));
            }
        });
    }

    private static void call(Runnable callback) {
        try {
            callback.run();
        } catch (RuntimeException e) {
            LOG.warn("Notifications: a subscriber failed: {}", e.toString(), e);
        }
    }

    private static boolean inRecovery(Connection connection) throws SQLException {
        try (Statement statement = connection.createStatement();
             ResultSet row = statement.executeQuery("SELECT pg_is_in_recovery()")) {
            row.next();
            return row.getBoolean(1);
        }
    }

    private void pause(Duration duration) {
        try {
            Thread.sleep(duration);
        } catch (InterruptedException e) {
            // close() interrupts: the loop sees running false
        }
    }
}
