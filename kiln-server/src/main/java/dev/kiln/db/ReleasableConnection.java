package dev.kiln.db;

import java.sql.Connection;
import java.sql.SQLException;

/**
 * A request's connection that holds a pooled connection only while it works: it takes one from the
 * pool at its first use (a request that runs no SQL takes none), and {@link #release} commits and
 * gives it back in the middle of the request, the next use taking a new one. A long poll releases
 * its request's connection before it waits: a thousand waiting clients then hold no connection, and
 * {@code db_maxconn} stays for the requests that work.
 *
 * <p>What the caller sets on the connection (autocommit, isolation, read-only) lasts until the next
 * release; statements made before a release are closed by it. {@code commit} and {@code rollback}
 * with no pooled connection held have nothing to do. Every other method is a plain delegate to the
 * pooled connection ({@link DelegatingConnection}).
 */
public final class ReleasableConnection extends DelegatingConnection {

    private final ConnectionPools pools;
    private final String database;
    private final Isolation isolation;
    private Connection pooled;
    private boolean closed;

    private ReleasableConnection(ConnectionPools pools, String database, Isolation isolation) {
        this.pools = pools;
        this.database = database;
        this.isolation = isolation;
    }

    /** A connection to {@code database} at {@code isolation} that takes a pooled one at its first use. */
    public static Connection open(ConnectionPools pools, String database, Isolation isolation) {
        return new ReleasableConnection(pools, database, isolation);
    }

    /**
     * Commits what {@code connection} did so far and, when it is one of {@link #open}'s, gives its
     * pooled connection back: the next use takes a new one, in a new transaction. Returns whether it
     * was given back (a plain connection is only committed).
     */
    public static boolean release(Connection connection) throws SQLException {
        if (connection instanceof ReleasableConnection releasable) {
            releasable.giveBack();
            return true;
        }
        connection.commit();
        return false;
    }

    private void giveBack() throws SQLException {
        if (pooled == null) {
            return;
        }
        Connection held = pooled;
        pooled = null;
        try {
            held.commit();
        } finally {
            held.close();
        }
    }

    /** The pooled connection, taken now when none is held. */
    @Override
    protected Connection target() throws SQLException {
        Connection current = pooled;
        if (current != null) {
            return current;
        }
        if (closed) {
            throw new SQLException("the connection to database '" + database + "' is closed", "08003");
        }
        pooled = pools.connection(database, isolation);
        return pooled;
    }

    @Override
    public void commit() throws SQLException {
        if (pooled != null) {
            pooled.commit();
        }
    }

    @Override
    public void rollback() throws SQLException {
        if (pooled != null) {
            pooled.rollback();
        }
    }

    /** Gives the pooled connection back; the pool rolls back what is left open. */
    @Override
    public void close() throws SQLException {
        closed = true;
        if (pooled != null) {
            Connection held = pooled;
            pooled = null;
            held.close();
        }
    }

    @Override
    public boolean isClosed() throws SQLException {
        return closed || (pooled != null && pooled.isClosed());
    }

    @Override
    public <T> T unwrap(Class<T> type) throws SQLException {
        return type.isInstance(this) ? type.cast(this) : target().unwrap(type);
    }

    @Override
    public boolean isWrapperFor(Class<?> type) throws SQLException {
        return type.isInstance(this) || target().isWrapperFor(type);
    }

    @Override
    public String toString() {
        return "connection to " + database + (pooled == null ? " (none held)" : " " + pooled);
    }
}
