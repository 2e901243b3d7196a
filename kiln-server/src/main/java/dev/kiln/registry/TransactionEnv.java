package dev.kiln.registry;

import dev.kiln.api.Bus;
import dev.kiln.api.Env;
import dev.kiln.bus.BusDispatcher;
import dev.kiln.bus.TransactionBus;
import dev.kiln.cron.store.CronSignals;
import dev.kiln.cron.store.CronStore;
import dev.kiln.db.ConnectionPools;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Instant;

/**
 * The database side of one try of a route, an external API call or a cron call: its database and
 * transaction, the cron jobs it asked to run and what it sent on the bus. Whoever commits the transaction calls
 * {@link #beforeCommit} right before the commit and {@link #afterCommit} once it committed: the
 * bus messages are written, then announced, and the cron runners woken. A try that rolls back is
 * dropped with its env: nothing announced.
 */
public class TransactionEnv implements Env {

    private final ConnectionPools pools;
    private final String database;
    private final Connection connection;
    private boolean triggered;
    private TransactionBus bus;

    private final BusDispatcher dispatcher;
    private final String client;

    /**
     * A route's or an external API call's env: its bus may poll, on {@code dispatcher}.
     *
     * @param client the address of the client that asked (polls waiting at once are bounded per client)
     */
    public TransactionEnv(ConnectionPools pools, BusDispatcher dispatcher, String database, Connection connection,
                          String client) {
        this.pools = pools;
        this.dispatcher = dispatcher;
        this.database = database;
        this.connection = connection;
        this.client = client;
    }

    /** A cron call's env: its effect must commit once, as a whole, and a poll commits before it waits, so it may not poll. */
    protected TransactionEnv(ConnectionPools pools, String database, Connection connection) {
        this(pools, null, database, connection, null);
    }

    @Override
    public String database() {
        return database;
    }

    @Override
    public Connection connection() {
        return connection;
    }

    @Override
    public void trigger(String job, Instant at) {
        try {
            CronStore.trigger(connection, job, at);
        } catch (SQLException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
        triggered = true;
    }

    @Override
    public Bus bus() {
        if (bus == null) {
            bus = new TransactionBus(pools, database, connection, dispatcher, client);
        }
        return bus;
    }

    /** Whether this env belongs to the transaction of {@code candidate} (the try being committed). */
    public boolean of(Connection candidate) {
        return connection == candidate;
    }

    /** Writes the bus messages sent, in the transaction, right before its commit. */
    public void beforeCommit() throws SQLException {
        if (bus != null) {
            bus.beforeCommit();
        }
    }

    /** Once the transaction committed: wakes the cron runners it triggered, announces its bus messages. */
    public void afterCommit() {
        if (triggered) {
            CronSignals.wake(pools, database);
        }
        if (bus != null) {
            bus.afterCommit();
        }
    }
}
