package dev.kiln.bus;

import dev.kiln.api.Bus;
import dev.kiln.db.ConnectionPools;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The {@link Bus} of one try of a request or cron call: {@link #send} writes in its transaction and
 * remembers the channel; whoever commits that transaction calls {@link #afterCommit} (a try that
 * rolls back is dropped with its bus, and nothing is announced).
 */
public final class TransactionBus implements Bus {

    private final ConnectionPools pools;
    private final String db;
    private final Connection connection;
    private final boolean mayPoll;
    private final Set<String> sent = new LinkedHashSet<>();

    /**
     * @param mayPoll false for a cron call: a poll commits the transaction before waiting, which
     *                would commit part of a call whose effect must be committed once, as a whole
     */
    public TransactionBus(ConnectionPools pools, String db, Connection connection, boolean mayPoll) {
        this.pools = pools;
        this.db = db;
        this.connection = connection;
        this.mayPoll = mayPoll;
    }

    @Override
    public void send(String channel, String type, Object payload) {
        if (channel == null || channel.isEmpty()) {
            throw new IllegalArgumentException("bus message of type '" + type + "': no channel given");
        }
        try {
            BusStore.insert(connection, channel, BusStore.encode(type, payload));
        } catch (SQLException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
        sent.add(channel);
    }

    /**
     * Commits the caller's transaction first, as Odoo closes the request's cursor before waiting:
     * a poll waiting 50 s must not hold a snapshot (which keeps VACUUM from cleaning) or locks.
     */
    @Override
    public List<Message> poll(Collection<String> channels, long lastId, Duration timeout) throws InterruptedException {
        if (!mayPoll) {
            throw new UnsupportedOperationException("a cron job cannot poll the bus: its call is committed once, as a whole;"
                    + " poll from a route");
        }
        try {
            connection.commit();
        } catch (SQLException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
        return BusDispatcher.of(pools).poll(db, channels, lastId, timeout);
    }

    /** Announces the channels written to, once their transaction committed; nothing when none was. */
    public void afterCommit() {
        if (!sent.isEmpty()) {
            BusSignals.notifyCommitted(pools, db, sent);
        }
    }
}
