package dev.kiln.bus;

import dev.kiln.api.Bus;
import dev.kiln.db.ConnectionPools;
import dev.kiln.db.ReleasableConnection;
import dev.kiln.metrics.KilnMetrics;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The {@link Bus} of one try of a request or cron call. {@link #send} keeps the message; whoever
 * commits the transaction calls {@link #beforeCommit} just before the commit, which writes them in
 * the transaction, and {@link #afterCommit} once it committed, which announces their channels. A
 * try that rolls back is dropped with its bus: nothing written, nothing announced.
 *
 * <p>Why the write waits for the commit: clients read "every id above the last one I saw", so ids
 * must become visible in id order. An id taken at {@code send} time by a transaction that commits
 * after a later one would be skipped by a client that already saw the later one. Written under
 * {@link BusStore#lockIds} just before the commit, ids follow commit order; senders wait for each
 * other only for that insert and the commit.
 */
public final class TransactionBus implements Bus {

    private final ConnectionPools pools;
    private final String db;
    private final Connection connection;
    private final BusDispatcher dispatcher;
    private final String client;
    private final List<String[]> pending = new ArrayList<>();
    private final Set<String> sent = new LinkedHashSet<>();
    /** Messages written by this transaction, counted once it committed. */
    private int written;

    /**
     * @param dispatcher the process's bus, which polls wait on; null for a cron call, which may not
     *                   poll: a poll commits the transaction before waiting, which would commit part
     *                   of a call whose effect must be committed once, as a whole
     * @param client     the address of the client whose request this is, null for none: polls
     *                   waiting at once are bounded per client
     */
    public TransactionBus(ConnectionPools pools, String db, Connection connection, BusDispatcher dispatcher, String client) {
        this.pools = pools;
        this.db = db;
        this.connection = connection;
        this.dispatcher = dispatcher;
        this.client = client;
    }

    @Override
    public void send(String channel, String type, Object payload) {
        if (channel == null || channel.isEmpty()) {
            throw new IllegalArgumentException("bus message of type '" + type + "': no channel given");
        }
        pending.add(new String[] {channel, BusStore.encode(type, payload)});
    }

    /**
     * Commits the caller's transaction first, as Odoo closes the request's cursor before waiting:
     * a poll waiting 50 s must not hold a snapshot (which keeps VACUUM from cleaning) or locks. A
     * request's connection ({@link ReleasableConnection}) is given back to the pool as well: a
     * waiting poll holds no connection at all.
     */
    @Override
    public List<Message> poll(Collection<String> channels, long lastId, Duration timeout) throws InterruptedException {
        if (dispatcher == null) {
            throw new UnsupportedOperationException("a cron job cannot poll the bus: its call is committed once, as a whole;"
                    + " poll from a route");
        }
        try {
            ReleasableConnection.release(connection);
        } catch (SQLException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
        return dispatcher.poll(db, client, channels, lastId, timeout);
    }

    /** Whether this bus belongs to the transaction of {@code candidate}. */
    public boolean of(Connection candidate) {
        return connection == candidate;
    }

    /** Writes the messages sent, in the transaction, right before its commit. */
    public void beforeCommit() throws SQLException {
        if (pending.isEmpty()) {
            return;
        }
        BusStore.lockIds(connection);
        BusStore.insert(connection, pending);
        for (String[] message : pending) {
            sent.add(message[0]);
        }
        written += pending.size();
        pending.clear();
    }

    /** Announces the channels written to, once their transaction committed; nothing when none was. */
    public void afterCommit() {
        if (!sent.isEmpty()) {
            BusSignals.notifyCommitted(pools, db, sent);
            KilnMetrics.busSent(written);
        }
    }
}
