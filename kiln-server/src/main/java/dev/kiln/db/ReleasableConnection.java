package dev.kiln.db;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
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
 * with no pooled connection held have nothing to do. A HikariCP connection already wraps every call;
 * this adds one reflective call, which is small beside a round trip to PostgreSQL.
 */
public final class ReleasableConnection implements InvocationHandler {

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
        return (Connection) Proxy.newProxyInstance(Connection.class.getClassLoader(), new Class<?>[] {Connection.class},
                new ReleasableConnection(pools, database, isolation));
    }

    /**
     * Commits what {@code connection} did so far and, when it is one of {@link #open}'s, gives its
     * pooled connection back: the next use takes a new one, in a new transaction. Returns whether it
     * was given back (a plain connection is only committed).
     */
    public static boolean release(Connection connection) throws SQLException {
        if (Proxy.isProxyClass(connection.getClass())
                && Proxy.getInvocationHandler(connection) instanceof ReleasableConnection releasable) {
            releasable.giveBack();
            return true;
        }
        connection.commit();
        return false;
    }

    private synchronized void giveBack() throws SQLException {
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

    @Override
    public synchronized Object invoke(Object proxy, Method method, Object[] args) throws Throwable {
        String name = method.getName();
        int arity = method.getParameterCount();
        switch (name) {
            case "equals" -> { return arity == 1 && proxy == args[0]; }
            case "hashCode" -> { return System.identityHashCode(proxy); }
            case "toString" -> { return "connection to " + database + (pooled == null ? " (none held)" : " " + pooled); }
            case "isClosed" -> { return closed || (pooled != null && pooled.isClosed()); }
            case "close" -> {
                closed = true;
                giveBackUncommitted();
                return null;
            }
            default -> { }
        }
        if (pooled == null && arity == 0 && (name.equals("commit") || name.equals("rollback"))) {
            return null;
        }
        if (closed) {
            throw new SQLException("the connection to database '" + database + "' is closed", "08003");
        }
        if (pooled == null) {
            pooled = pools.connection(database, isolation);
        }
        try {
            return method.invoke(pooled, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }

    /** The pool rolls back what is left open when it takes a connection back. */
    private void giveBackUncommitted() throws SQLException {
        if (pooled != null) {
            Connection held = pooled;
            pooled = null;
            held.close();
        }
    }
}
