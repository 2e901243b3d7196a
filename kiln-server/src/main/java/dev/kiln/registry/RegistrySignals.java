package dev.kiln.registry;

import dev.kiln.db.ConnectionPools;
import dev.kiln.db.Isolation;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.function.Consumer;

/**
 * Hears of registry changes instead of asking for them: one connection per process, to the
 * maintenance database, {@code LISTEN}s on {@value #CHANNEL}; whoever installs or updates addons in
 * a database notifies the database's name there after committing. While this listener is connected
 * a request needs no extra round trip to know its registry is current; while it is not (starting,
 * server restarting), every request reads the signaling sequence, as Odoo does, so no change is
 * ever missed.
 */
final class RegistrySignals implements AutoCloseable {

    static final String CHANNEL = "kiln_registry";
    private static final Logger LOG = LoggerFactory.getLogger(RegistrySignals.class);
    private static final Duration RETRY = Duration.ofSeconds(1);

    private final ConnectionPools pools;
    private final Consumer<String> changed;
    private final Runnable lost;
    private volatile boolean listening;
    private volatile boolean running = true;
    private Thread thread;

    /**
     * @param changed told the database whose registry changed
     * @param lost    told that changes may have been missed (before listening starts, after a drop)
     */
    RegistrySignals(ConnectionPools pools, Consumer<String> changed, Runnable lost) {
        this.pools = pools;
        this.changed = changed;
        this.lost = lost;
    }

    void start() {
        thread = Thread.ofPlatform().daemon().name("kiln-registry-signals").start(this::listen);
    }

    /** True while every change committed from now on will be heard. */
    boolean listening() {
        return listening;
    }

    /** Tells every process that {@code db}'s registry changed; a failure only costs them a read. */
    static void notifyChange(ConnectionPools pools, String db) {
        try {
            pools.notifyServer(CHANNEL, db);
        } catch (RuntimeException | SQLException e) {
            LOG.debug("{}: could not notify the registry change ({}); other processes will read it", db, e.toString());
        }
    }

    private void listen() {
        while (running) {
            try (Connection connection = pools.connection(ConnectionPools.MAINTENANCE_DATABASE, Isolation.READ_COMMITTED)) {
                try (Statement statement = connection.createStatement()) {
                    statement.execute("LISTEN " + CHANNEL);
                }
                connection.commit();
                PGConnection postgres = connection.unwrap(PGConnection.class);
                lost.run();            // what changed before LISTEN is read by the next request
                listening = true;
                while (running) {
                    PGNotification[] notifications = postgres.getNotifications((int) RETRY.toMillis());
                    if (notifications != null) {
                        for (PGNotification notification : notifications) {
                            changed.accept(notification.getParameter());
                        }
                    }
                }
            } catch (RuntimeException | SQLException e) {
                if (listening && running) {
                    LOG.warn("Registry signals: lost the listening connection ({}); requests read the sequence until it is back",
                            e.getMessage());
                }
            } finally {
                listening = false;
                lost.run();
            }
            pause();
        }
    }

    private void pause() {
        try {
            Thread.sleep(RETRY.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            running = false;
        }
    }

    @Override
    public void close() {
        running = false;
        if (thread != null) {
            thread.interrupt();
        }
    }
}
