package dev.kiln.db;

import javax.sql.DataSource;
import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.util.concurrent.Executor;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Logger;

/**
 * {@code db_maxconn}: the physical PostgreSQL connections of one process, across all its pools.
 * HikariCP bounds each pool, not a set of pools, so every pool's data source goes through
 * {@link #guard}: a permit is taken when a physical connection is opened and given back when the
 * pool closes it. When none is free, the other pools are asked to let go of idle connections
 * (least recently used first) before waiting, as Odoo's pool closes an idle connection of another
 * database to make room.
 */
final class ConnectionLimit {

    /** SQLSTATE too_many_connections: what PostgreSQL itself says when its own limit is hit. */
    static final String TOO_MANY = "53300";

    private final int max;
    private final Semaphore permits;
    private final long waitMillis;

    ConnectionLimit(int max, long waitMillis) {
        if (max < 1) {
            throw new IllegalArgumentException("db_maxconn must be at least 1, not " + max);
        }
        this.max = max;
        this.permits = new Semaphore(max, true);
        this.waitMillis = waitMillis;
    }

    int max() {
        return max;
    }

    /** Physical connections open now. */
    int inUse() {
        return max - permits.availablePermits();
    }

    /**
     * A data source that opens connections of {@code delegate} only within the limit. {@code makeRoom}
     * is called, once, when no permit is free; it should close idle connections of other pools.
     */
    DataSource guard(DataSource delegate, Runnable makeRoom) {
        return new Guarded(delegate, makeRoom);
    }

    private Connection open(DataSource delegate, Runnable makeRoom) throws SQLException {
        if (!permits.tryAcquire()) {
            makeRoom.run();
            try {
                if (!permits.tryAcquire(waitMillis, TimeUnit.MILLISECONDS)) {
                    throw new SQLException("all " + max + " PostgreSQL connections of this process (db_maxconn)"
                            + " are in use", TOO_MANY);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new SQLException("interrupted while waiting for a free connection (db_maxconn)", TOO_MANY, e);
            }
        }
        // The permit is released by the connection's close(), or here if it never opens.
        Connection physical;
        try {
            physical = delegate.getConnection();
        } catch (SQLException | RuntimeException e) {
            permits.release();
            throw e;
        }
        return new Counted(physical, permits);
    }

    /**
     * A physical connection that holds one permit: it forwards every call, and its first {@code
     * close()} or {@code abort()} gives the permit back (HikariCP aborts busy connections at
     * shutdown).
     */
    private static final class Counted extends DelegatingConnection {
        private final Connection physical;
        private final Semaphore permits;
        private final AtomicBoolean released = new AtomicBoolean();

        Counted(Connection physical, Semaphore permits) {
            this.physical = physical;
            this.permits = permits;
        }

        @Override
        protected Connection target() {
            return physical;
        }

        private void release() {
            if (released.compareAndSet(false, true)) {
                permits.release();
            }
        }

        @Override
        public void close() throws SQLException {
            try {
                physical.close();
            } finally {
                release();
            }
        }

        @Override
        public void abort(Executor executor) throws SQLException {
            try {
                physical.abort(executor);
            } finally {
                release();
            }
        }
    }

    private final class Guarded implements DataSource {
        private final DataSource delegate;
        private final Runnable makeRoom;

        Guarded(DataSource delegate, Runnable makeRoom) {
            this.delegate = delegate;
            this.makeRoom = makeRoom;
        }

        @Override public Connection getConnection() throws SQLException {
            return open(delegate, makeRoom);
        }
        @Override public Connection getConnection(String user, String password) throws SQLException {
            throw new SQLFeatureNotSupportedException("the user is set per server, not per connection");
        }
        @Override public PrintWriter getLogWriter() throws SQLException { return delegate.getLogWriter(); }
        @Override public void setLogWriter(PrintWriter out) throws SQLException { delegate.setLogWriter(out); }
        @Override public void setLoginTimeout(int seconds) throws SQLException { delegate.setLoginTimeout(seconds); }
        @Override public int getLoginTimeout() throws SQLException { return delegate.getLoginTimeout(); }
        @Override public Logger getParentLogger() throws SQLFeatureNotSupportedException { return delegate.getParentLogger(); }
        @Override public <T> T unwrap(Class<T> type) throws SQLException { return delegate.unwrap(type); }
        @Override public boolean isWrapperFor(Class<?> type) throws SQLException { return delegate.isWrapperFor(type); }
    }
}
