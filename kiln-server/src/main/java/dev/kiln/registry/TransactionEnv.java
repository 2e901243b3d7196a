package dev.kiln.registry;

import dev.kiln.api.Bus;
import dev.kiln.api.Env;
import dev.kiln.bus.BusDispatcher;
import dev.kiln.bus.TransactionBus;
import dev.kiln.cron.store.CronSignals;
import dev.kiln.cron.store.CronStore;
import dev.kiln.db.ConnectionPools;
import dev.kiln.models.CustomModels;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;

/**
 * The database side of one try of a route, an external API call or a cron call: its database and
 * transaction, the cron jobs it asked to run and what it sent on the bus. Whoever commits the transaction calls
 * {@link #beforeCommit} right before the commit and {@link #afterCommit} once it committed: the
 * bus messages are written, then announced, the cron runners woken, and, when a call changed the
 * database's models, this process's registry built again and every other process told. A try that
 * rolls back is dropped with its env: nothing announced.
 */
public class TransactionEnv implements Env, CustomModels.ModelsChanged {

    private final ConnectionPools pools;
    private final String database;
    private final Connection connection;
    private boolean triggered;
    private boolean modelsChanged;
    private TransactionBus bus;

    private final BusDispatcher dispatcher;
    private final String client;
    private final Registries registries;

    /**
     * A route's or an external API call's env: its bus may poll, on {@code dispatcher}.
     *
     * @param client     the address of the client that asked (polls waiting at once are bounded per client)
     * @param registries this process's registries, built again at once when the call changed the models
     */
    public TransactionEnv(ConnectionPools pools, BusDispatcher dispatcher, Registries registries, String database,
                          Connection connection, String client) {
        this.pools = pools;
        this.dispatcher = dispatcher;
        this.registries = registries;
        this.database = database;
        this.connection = connection;
        this.client = client;
    }

    /**
     * A cron call's env: its effect must commit once, as a whole, and a poll commits before it waits, so it may not poll.
     * A change of the models it makes reaches this process's registry as every other's, by the notification.
     */
    protected TransactionEnv(ConnectionPools pools, String database, Connection connection) {
        this(pools, null, null, database, connection, null);
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

    @Override
    public void modelsChanged() throws SQLException {
        if (!modelsChanged) {
            try (Statement statement = connection.createStatement()) {
                statement.execute("SELECT nextval('" + RegistrySchema.SIGNALING + "')");
            }
            modelsChanged = true;
        }
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

    /**
     * Once the transaction committed: marks this process's registry stale and tells the others when
     * the models changed, wakes the cron runners it triggered, announces its bus messages.
     */
    public void afterCommit() {
        if (modelsChanged) {
            if (registries != null) {
                registries.changed(database);
            }
            RegistrySignals.notifyChange(pools, database);
        }
        if (triggered) {
            CronSignals.wake(pools, database);
        }
        if (bus != null) {
            bus.afterCommit();
        }
    }
}
