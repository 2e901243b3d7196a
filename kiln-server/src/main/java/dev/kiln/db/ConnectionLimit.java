package dev.kiln.db;

import javax.sql.DataSource;
import java.io.PrintWriter;
import java.sql.Array;
import java.sql.Blob;
import java.sql.CallableStatement;
import java.sql.Clob;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.NClob;
import java.sql.PreparedStatement;
import java.sql.SQLClientInfoException;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.sql.SQLWarning;
import java.sql.SQLXML;
import java.sql.Savepoint;
import java.sql.ShardingKey;
import java.sql.Statement;
import java.sql.Struct;
import java.util.Map;
import java.util.Properties;
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
     * shutdown). A class of its own rather than a reflective proxy: every call of every connection
     * passes here, and a proxy spins classes at each start for the methods it forwards.
     */
    private static final class Counted implements Connection {
        private final Connection physical;
        private final Semaphore permits;
        private final AtomicBoolean released = new AtomicBoolean();

        Counted(Connection physical, Semaphore permits) {
            this.physical = physical;
            this.permits = permits;
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

        @Override public <T> T unwrap(Class<T> type) throws SQLException { return physical.unwrap(type); }
        @Override public boolean isWrapperFor(Class<?> type) throws SQLException { return physical.isWrapperFor(type); }
        @Override public Statement createStatement() throws SQLException { return physical.createStatement(); }
        @Override public PreparedStatement prepareStatement(String a0) throws SQLException { return physical.prepareStatement(a0); }
        @Override public CallableStatement prepareCall(String a0) throws SQLException { return physical.prepareCall(a0); }
        @Override public String nativeSQL(String a0) throws SQLException { return physical.nativeSQL(a0); }
        @Override public void setAutoCommit(boolean a0) throws SQLException { physical.setAutoCommit(a0); }
        @Override public boolean getAutoCommit() throws SQLException { return physical.getAutoCommit(); }
        @Override public void commit() throws SQLException { physical.commit(); }
        @Override public void rollback() throws SQLException { physical.rollback(); }
        @Override public boolean isClosed() throws SQLException { return physical.isClosed(); }
        @Override public DatabaseMetaData getMetaData() throws SQLException { return physical.getMetaData(); }
        @Override public void setReadOnly(boolean a0) throws SQLException { physical.setReadOnly(a0); }
        @Override public boolean isReadOnly() throws SQLException { return physical.isReadOnly(); }
        @Override public void setCatalog(String a0) throws SQLException { physical.setCatalog(a0); }
        @Override public String getCatalog() throws SQLException { return physical.getCatalog(); }
        @Override public void setTransactionIsolation(int a0) throws SQLException { physical.setTransactionIsolation(a0); }
        @Override public int getTransactionIsolation() throws SQLException { return physical.getTransactionIsolation(); }
        @Override public SQLWarning getWarnings() throws SQLException { return physical.getWarnings(); }
        @Override public void clearWarnings() throws SQLException { physical.clearWarnings(); }
        @Override public Statement createStatement(int a0, int a1) throws SQLException { return physical.createStatement(a0, a1); }
        @Override public PreparedStatement prepareStatement(String a0, int a1, int a2) throws SQLException { return physical.prepareStatement(a0, a1, a2); }
        @Override public CallableStatement prepareCall(String a0, int a1, int a2) throws SQLException { return physical.prepareCall(a0, a1, a2); }
        @Override public Map<String, Class<?>> getTypeMap() throws SQLException { return physical.getTypeMap(); }
        @Override public void setTypeMap(Map<String, Class<?>> a0) throws SQLException { physical.setTypeMap(a0); }
        @Override public void setHoldability(int a0) throws SQLException { physical.setHoldability(a0); }
        @Override public int getHoldability() throws SQLException { return physical.getHoldability(); }
        @Override public Savepoint setSavepoint() throws SQLException { return physical.setSavepoint(); }
        @Override public Savepoint setSavepoint(String a0) throws SQLException { return physical.setSavepoint(a0); }
        @Override public void rollback(Savepoint a0) throws SQLException { physical.rollback(a0); }
        @Override public void releaseSavepoint(Savepoint a0) throws SQLException { physical.releaseSavepoint(a0); }
        @Override public Statement createStatement(int a0, int a1, int a2) throws SQLException { return physical.createStatement(a0, a1, a2); }
        @Override public PreparedStatement prepareStatement(String a0, int a1, int a2, int a3) throws SQLException { return physical.prepareStatement(a0, a1, a2, a3); }
        @Override public CallableStatement prepareCall(String a0, int a1, int a2, int a3) throws SQLException { return physical.prepareCall(a0, a1, a2, a3); }
        @Override public PreparedStatement prepareStatement(String a0, int a1) throws SQLException { return physical.prepareStatement(a0, a1); }
        @Override public PreparedStatement prepareStatement(String a0, int[] a1) throws SQLException { return physical.prepareStatement(a0, a1); }
        @Override public PreparedStatement prepareStatement(String a0, String[] a1) throws SQLException { return physical.prepareStatement(a0, a1); }
        @Override public Clob createClob() throws SQLException { return physical.createClob(); }
        @Override public Blob createBlob() throws SQLException { return physical.createBlob(); }
        @Override public NClob createNClob() throws SQLException { return physical.createNClob(); }
        @Override public SQLXML createSQLXML() throws SQLException { return physical.createSQLXML(); }
        @Override public boolean isValid(int a0) throws SQLException { return physical.isValid(a0); }
        @Override public void setClientInfo(String a0, String a1) throws SQLClientInfoException { physical.setClientInfo(a0, a1); }
        @Override public void setClientInfo(Properties a0) throws SQLClientInfoException { physical.setClientInfo(a0); }
        @Override public String getClientInfo(String a0) throws SQLException { return physical.getClientInfo(a0); }
        @Override public Properties getClientInfo() throws SQLException { return physical.getClientInfo(); }
        @Override public Array createArrayOf(String a0, Object[] a1) throws SQLException { return physical.createArrayOf(a0, a1); }
        @Override public Struct createStruct(String a0, Object[] a1) throws SQLException { return physical.createStruct(a0, a1); }
        @Override public void setSchema(String a0) throws SQLException { physical.setSchema(a0); }
        @Override public String getSchema() throws SQLException { return physical.getSchema(); }
        @Override public void setNetworkTimeout(Executor a0, int a1) throws SQLException { physical.setNetworkTimeout(a0, a1); }
        @Override public int getNetworkTimeout() throws SQLException { return physical.getNetworkTimeout(); }
        @Override public void beginRequest() throws SQLException { physical.beginRequest(); }
        @Override public void endRequest() throws SQLException { physical.endRequest(); }
        @Override public boolean setShardingKeyIfValid(ShardingKey a0, ShardingKey a1, int a2) throws SQLException { return physical.setShardingKeyIfValid(a0, a1, a2); }
        @Override public boolean setShardingKeyIfValid(ShardingKey a0, int a1) throws SQLException { return physical.setShardingKeyIfValid(a0, a1); }
        @Override public void setShardingKey(ShardingKey a0, ShardingKey a1) throws SQLException { physical.setShardingKey(a0, a1); }
        @Override public void setShardingKey(ShardingKey a0) throws SQLException { physical.setShardingKey(a0); }
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
