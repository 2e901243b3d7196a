package dev.kiln.registry;

import dev.kiln.db.ConnectionPools;
import dev.kiln.db.Notifications;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.SQLException;
import java.util.List;
import java.util.function.Consumer;

/**
 * Hears of registry changes instead of asking for them: whoever installs or updates addons in a
 * database notifies the database's name on {@value #CHANNEL} after committing, and every process
 * hears it through its {@link Notifications}. While that listener listens, a request needs no extra
 * round trip to know its registry is current; while it does not (starting, PostgreSQL restarting
 * or in recovery, a command-line tool), every request reads the signaling sequence, as Odoo does,
 * so no change is ever missed.
 */
final class RegistrySignals implements Notifications.Subscriber {

    static final String CHANNEL = "kiln_registry";
    private static final Logger LOG = LoggerFactory.getLogger(RegistrySignals.class);

    private final Notifications notifications;
    private final Consumer<String> changed;
    private final Runnable lost;

    /**
     * @param changed told the database whose registry changed
     * @param lost    told that changes may have been missed (listening started, or started again)
     */
    RegistrySignals(Notifications notifications, Consumer<String> changed, Runnable lost) {
        this.notifications = notifications;
        this.changed = changed;
        this.lost = lost;
        notifications.subscribe(CHANNEL, this);
    }

    /** True while every change committed from now on will be heard. */
    boolean listening() {
        return notifications.listening();
    }

    @Override
    public void notified(List<String> databases) {
        databases.forEach(changed);
    }

    @Override
    public void catchUp() {
        lost.run();
    }

    /** Tells every process that {@code db}'s registry changed; a failure only costs them a read. */
    static void notifyChange(ConnectionPools pools, String db) {
        try {
            pools.notifyServer(CHANNEL, db);
        } catch (RuntimeException | SQLException e) {
            LOG.debug("{}: could not notify the registry change ({}); other processes will read it", db, e.toString());
        }
    }
}
