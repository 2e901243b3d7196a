package dev.kiln.http;

import dev.kiln.cron.CronStore;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Instant;

/**
 * The database side of one try of a route or an external API call: its database and transaction,
 * and whether it asked for a cron job to run (the runners are woken after the commit).
 */
final class TransactionEnv implements dev.kiln.api.Env {

    private final String database;
    private final Connection connection;
    private boolean triggered;

    TransactionEnv(String database, Connection connection) {
        this.database = database;
        this.connection = connection;
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

    boolean triggered() {
        return triggered;
    }
}
