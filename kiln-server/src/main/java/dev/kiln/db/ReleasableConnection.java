package dev.kiln.db;

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
import java.sql.SQLWarning;
import java.sql.SQLXML;
import java.sql.Savepoint;
import java.sql.Statement;
import java.sql.Struct;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Executor;

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
 * pooled connection, written out rather than made by {@link java.lang.reflect.Proxy}: this sits on
 * every request's path, and a reflective call per JDBC call measured in {@code make bench}.
 */
public final class ReleasableConnection implements Connection {

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
    private Connection held() throws SQLException {
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
        return type.isInstance(this) ? type.cast(this) : held().unwrap(type);
    }

    @Override
    public boolean isWrapperFor(Class<?> type) throws SQLException {
        return type.isInstance(this) || held().isWrapperFor(type);
    }

    @Override
    public String toString() {
        return "connection to " + database + (pooled == null ? " (none held)" : " " + pooled);
    }

    @Override
    public Statement createStatement() throws SQLException {
        return held().createStatement();
    }

    @Override
    public PreparedStatement prepareStatement(String a0) throws SQLException {
        return held().prepareStatement(a0);
    }

    @Override
    public CallableStatement prepareCall(String a0) throws SQLException {
        return held().prepareCall(a0);
    }

    @Override
    public String nativeSQL(String a0) throws SQLException {
        return held().nativeSQL(a0);
    }

    @Override
    public void setAutoCommit(boolean a0) throws SQLException {
        held().setAutoCommit(a0);
    }

    @Override
    public boolean getAutoCommit() throws SQLException {
        return held().getAutoCommit();
    }

    @Override
    public DatabaseMetaData getMetaData() throws SQLException {
        return held().getMetaData();
    }

    @Override
    public void setReadOnly(boolean a0) throws SQLException {
        held().setReadOnly(a0);
    }

    @Override
    public boolean isReadOnly() throws SQLException {
        return held().isReadOnly();
    }

    @Override
    public void setCatalog(String a0) throws SQLException {
        held().setCatalog(a0);
    }

    @Override
    public String getCatalog() throws SQLException {
        return held().getCatalog();
    }

    @Override
    public void setTransactionIsolation(int a0) throws SQLException {
        held().setTransactionIsolation(a0);
    }

    @Override
    public int getTransactionIsolation() throws SQLException {
        return held().getTransactionIsolation();
    }

    @Override
    public SQLWarning getWarnings() throws SQLException {
        return held().getWarnings();
    }

    @Override
    public void clearWarnings() throws SQLException {
        held().clearWarnings();
    }

    @Override
    public Statement createStatement(int a0, int a1) throws SQLException {
        return held().createStatement(a0, a1);
    }

    @Override
    public PreparedStatement prepareStatement(String a0, int a1, int a2) throws SQLException {
        return held().prepareStatement(a0, a1, a2);
    }

    @Override
    public CallableStatement prepareCall(String a0, int a1, int a2) throws SQLException {
        return held().prepareCall(a0, a1, a2);
    }

    @Override
    public Map<String, Class<?>> getTypeMap() throws SQLException {
        return held().getTypeMap();
    }

    @Override
    public void setTypeMap(Map<String, Class<?>> a0) throws SQLException {
        held().setTypeMap(a0);
    }

    @Override
    public void setHoldability(int a0) throws SQLException {
        held().setHoldability(a0);
    }

    @Override
    public int getHoldability() throws SQLException {
        return held().getHoldability();
    }

    @Override
    public Savepoint setSavepoint() throws SQLException {
        return held().setSavepoint();
    }

    @Override
    public Savepoint setSavepoint(String a0) throws SQLException {
        return held().setSavepoint(a0);
    }

    @Override
    public void rollback(Savepoint a0) throws SQLException {
        held().rollback(a0);
    }

    @Override
    public void releaseSavepoint(Savepoint a0) throws SQLException {
        held().releaseSavepoint(a0);
    }

    @Override
    public Statement createStatement(int a0, int a1, int a2) throws SQLException {
        return held().createStatement(a0, a1, a2);
    }

    @Override
    public PreparedStatement prepareStatement(String a0, int a1, int a2, int a3) throws SQLException {
        return held().prepareStatement(a0, a1, a2, a3);
    }

    @Override
    public CallableStatement prepareCall(String a0, int a1, int a2, int a3) throws SQLException {
        return held().prepareCall(a0, a1, a2, a3);
    }

    @Override
    public PreparedStatement prepareStatement(String a0, int a1) throws SQLException {
        return held().prepareStatement(a0, a1);
    }

    @Override
    public PreparedStatement prepareStatement(String a0, int[] a1) throws SQLException {
        return held().prepareStatement(a0, a1);
    }

    @Override
    public PreparedStatement prepareStatement(String a0, String[] a1) throws SQLException {
        return held().prepareStatement(a0, a1);
    }

    @Override
    public Clob createClob() throws SQLException {
        return held().createClob();
    }

    @Override
    public Blob createBlob() throws SQLException {
        return held().createBlob();
    }

    @Override
    public NClob createNClob() throws SQLException {
        return held().createNClob();
    }

    @Override
    public SQLXML createSQLXML() throws SQLException {
        return held().createSQLXML();
    }

    @Override
    public boolean isValid(int a0) throws SQLException {
        return held().isValid(a0);
    }

    @Override
    public void setClientInfo(String a0, String a1) throws SQLClientInfoException {
        heldForClientInfo().setClientInfo(a0, a1);
    }

    @Override
    public void setClientInfo(Properties a0) throws SQLClientInfoException {
        heldForClientInfo().setClientInfo(a0);
    }

    /** {@link #held} for the two methods that may throw only {@link SQLClientInfoException}. */
    private Connection heldForClientInfo() throws SQLClientInfoException {
        try {
            return held();
        } catch (SQLException e) {
            throw new SQLClientInfoException(e.getMessage(), e.getSQLState(), Map.of(), e);
        }
    }

    @Override
    public String getClientInfo(String a0) throws SQLException {
        return held().getClientInfo(a0);
    }

    @Override
    public Properties getClientInfo() throws SQLException {
        return held().getClientInfo();
    }

    @Override
    public Array createArrayOf(String a0, Object[] a1) throws SQLException {
        return held().createArrayOf(a0, a1);
    }

    @Override
    public Struct createStruct(String a0, Object[] a1) throws SQLException {
        return held().createStruct(a0, a1);
    }

    @Override
    public void setSchema(String a0) throws SQLException {
        held().setSchema(a0);
    }

    @Override
    public String getSchema() throws SQLException {
        return held().getSchema();
    }

    @Override
    public void abort(Executor a0) throws SQLException {
        held().abort(a0);
    }

    @Override
    public void setNetworkTimeout(Executor a0, int a1) throws SQLException {
        held().setNetworkTimeout(a0, a1);
    }

    @Override
    public int getNetworkTimeout() throws SQLException {
        return held().getNetworkTimeout();
    }
}
